"""HTTP plumbing shared by every handler: JSON errors, request ids, reading JSON bodies safely, and
the hardening that keeps hostile clients from costing more than a 4xx (``hardening``, ``protocol``)."""

from .errors import ApiError, error_middleware, error_response
from .jsonbody import read_json
from .request_id import request_id_middleware
from .timefmt import rfc3339

__all__ = ["ApiError", "error_middleware", "error_response", "read_json", "request_id_middleware", "rfc3339"]
