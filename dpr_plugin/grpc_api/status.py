"""The one table from our errors to gRPC status codes.

Messages of client errors name the field; server-side failures answer with a short message
and the request id (details go to the log, never the prompt text).
"""

from __future__ import annotations

import grpc

from dpr_plugin.errors import (
    BackendUnavailableError,
    DeadlineExceededError,
    DprError,
    FieldError,
    HistoryUnavailableError,
    IndexQueryError,
    IndexUnavailableError,
    UserNotFoundError,
)

STATUS_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (FieldError, grpc.StatusCode.INVALID_ARGUMENT),
    (IndexQueryError, grpc.StatusCode.INVALID_ARGUMENT),
    (UserNotFoundError, grpc.StatusCode.NOT_FOUND),
    (IndexUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (HistoryUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (BackendUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (DprError, grpc.StatusCode.INTERNAL),
)
"""First match wins; anything else is INTERNAL with no detail."""

_CLIENT_ERRORS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


def status_of(exc: BaseException, request_id: str) -> tuple[grpc.StatusCode, str]:
    """The status code and message a failed request is answered with."""
    for kind, code in STATUS_TABLE:
        if isinstance(exc, kind):
            if code in _CLIENT_ERRORS:
                return code, str(exc)
            if code is grpc.StatusCode.INTERNAL:
                return code, f"internal error (request_id {request_id})"
            return code, f"{exc} (request_id {request_id})"
    return grpc.StatusCode.INTERNAL, f"internal error (request_id {request_id})"
