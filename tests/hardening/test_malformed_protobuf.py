"""Row 8 of the hardening review: bytes that are not a valid request (garbage, invalid UTF-8 in
a string field) are INVALID_ARGUMENT naming the request, counted, logged on one line, with no
traceback (grpcio's own decoding answered UNKNOWN with a traceback in the log)."""

from __future__ import annotations

import logging

import grpc
import pytest

from tests.hardening.conftest import FakeService

MALFORMED = {
    "garbage": b"\xff\xff\xff\xff",
    "invalid utf-8 in user_id": b"\x12\x02\xff\xfe",  # field 2 (user_id), 2 bytes
}


@pytest.mark.parametrize("method", ["Steer", "AppendInteractions"])
@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_request_is_invalid_argument_without_a_traceback(
    fake_service: FakeService, caplog: pytest.LogCaptureFixture, method: str, raw: bytes
) -> None:
    caplog.set_level(logging.INFO)
    call = fake_service.channel.unary_unary(f"/dpr.v1.SteeringService/{method}")
    with pytest.raises(grpc.RpcError) as failed:
        call(raw, timeout=5)
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.details().startswith("request: not a valid dpr.v1.")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    metrics = fake_service.pipeline.metrics
    counter = metrics.errors if method == "Steer" else metrics.append_errors
    assert counter.labels("INVALID_ARGUMENT")._value.get() == 1
