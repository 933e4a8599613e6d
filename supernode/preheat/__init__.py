"""The preheat engine: image and file preheats warmed into the CDN, records, webhook sink."""
from .config import PreheatConfig, RegistryConfig, registry_for, validate_preheat
from .engine import PreheatFailure, PreheatService, check_request, job_state
from .image import ImageError, ImageRef, parse_image_url
from .models import FAILED, FILE, IMAGE, RUNNING, SUCCESS, WAITING, Job, PreheatRecord
from .sink import PreheatFailed, WebhookSink
from .store import PreheatStore
from .warmer import CdnWarmer, WarmError, WarmResult
from .wiring import PreheatComponents, components_of, install

__all__ = [
    "PreheatConfig", "RegistryConfig", "registry_for", "validate_preheat", "PreheatFailure", "PreheatService",
    "check_request", "job_state", "ImageError", "ImageRef", "parse_image_url", "FAILED", "FILE", "IMAGE",
    "RUNNING", "SUCCESS", "WAITING", "Job", "PreheatRecord", "PreheatFailed", "WebhookSink", "PreheatStore",
    "CdnWarmer", "WarmError", "WarmResult", "PreheatComponents", "components_of", "install",
]
