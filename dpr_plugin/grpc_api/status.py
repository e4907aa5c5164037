"""The one table from our errors to gRPC status codes.

Messages of client errors name the field; server-side failures answer with a fixed message
per kind and the request id: no address, file path or error text of a component reaches a
client (the log has them, never the prompt text).
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

STATUS_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode, str | None], ...] = (
    (FieldError, grpc.StatusCode.INVALID_ARGUMENT, None),
    (IndexQueryError, grpc.StatusCode.INVALID_ARGUMENT, None),
    (UserNotFoundError, grpc.StatusCode.NOT_FOUND, None),
    (IndexUnavailableError, grpc.StatusCode.UNAVAILABLE, "item index unavailable"),
    (HistoryUnavailableError, grpc.StatusCode.UNAVAILABLE, "history store unavailable"),
    (BackendUnavailableError, grpc.StatusCode.UNAVAILABLE, "inference backend unavailable"),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"),
    (DprError, grpc.StatusCode.INTERNAL, "internal error"),
)
"""First match wins: the code, and the fixed message of a server-side failure (``None``: a
client error, whose message names the offending field). Anything else is INTERNAL."""


def status_of(exc: BaseException, request_id: str) -> tuple[grpc.StatusCode, str]:
    """The status code and message a failed request is answered with."""
    for kind, code, message in STATUS_TABLE:
        if isinstance(exc, kind):
            if message is None:
                return code, str(exc)
            return code, f"{message} (request_id {request_id})"
    return grpc.StatusCode.INTERNAL, f"internal error (request_id {request_id})"
