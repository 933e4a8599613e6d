"""Harbor and registry:2 webhook receivers feeding a durable queue drained into the preheat seam."""
from .auth import Authorizer, HeaderAuthorizer
from .blueprint import create_webhooks_blueprint
from .config import WebhookConfig, build_webhook_config, load_webhook_config, queue_path_for
from .dispatcher import Dispatcher, PreheatSink
from .events import ImageEvent, ParseResult
from .intake import IntakeResult, WebhookIntake
from .queue import SqliteWorkQueue, WorkItem
from .service import WebhookService
from .sinks import LoggingSink, RecordingSink

__all__ = [
    "Authorizer", "HeaderAuthorizer", "create_webhooks_blueprint", "WebhookConfig", "build_webhook_config",
    "load_webhook_config", "queue_path_for", "Dispatcher", "PreheatSink", "ImageEvent", "ParseResult",
    "IntakeResult", "WebhookIntake", "SqliteWorkQueue", "WorkItem", "LoggingSink", "RecordingSink",
    "WebhookService",
]
