"""HTTP plumbing shared by every handler: JSON errors, request ids, health endpoints."""

from .errors import ApiError, error_middleware, error_response, read_json
from .request_id import request_id_middleware
from .timefmt import rfc3339

__all__ = ["ApiError", "error_middleware", "error_response", "read_json", "request_id_middleware", "rfc3339"]
