"""HTTP API of the supernode: blueprints that parse, call one service, and serialize."""
from .errors import install_error_handlers, is_peer_path, result_info
from .peer import create_peer_blueprint
from .system import create_system_blueprint, version_info
from .v1 import create_v1_blueprint

__all__ = ["install_error_handlers", "is_peer_path", "result_info", "create_peer_blueprint",
           "create_system_blueprint", "version_info", "create_v1_blueprint"]
