"""Rows 1 and 9 of the hardening review: what a client sends never forges or floods a log line,
and the prompt digest cannot be reversed by hashing common prompts."""

from __future__ import annotations

import hashlib
import logging

import grpc
import pytest

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.log_safety import MAX_LOGGED_CHARS, PromptDigest, log_safe
from tests.hardening.conftest import FakeService

FORGED = "x\n2026-12-06 00:00:00,000 ERROR dpr.server: FORGED"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return [formatter.format(record) for record in caplog.records]


@pytest.mark.parametrize("request_id", [FORGED, "y" * 10_000, "z\x1b[31mred\u2028"])
def test_steer_logs_a_malformed_request_id_on_one_bounded_line(
    fake_service: FakeService, caplog: pytest.LogCaptureFixture, request_id: str
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(grpc.RpcError) as failed:
        fake_service.stub.Steer(pb.SteerRequest(user_id="u1", request_id=request_id), timeout=5)
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    lines = [line for line in _lines(caplog) if "request_id" in line or "request " in line]
    assert lines, "the rejection was not logged"
    for line in lines:
        assert "\n" not in line and "\x1b" not in line and "\u2028" not in line, line
        assert "FORGED" not in line or "\\n2026" in line, line
        assert len(line) < 400, f"{len(line)} characters"


def test_access_log_escapes_the_user_id(
    fake_service: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dpr.grpc")
    request = pb.SteerRequest(user_id="new\u2028user", prompt="more comedies")
    fake_service.stub.Steer(request, timeout=5)
    (line,) = [line for line in _lines(caplog) if "path=" in line]
    assert "new\\u2028user" in line


def test_log_safe_escapes_and_bounds() -> None:
    assert log_safe("a\nb\\c") == "a\\nb\\\\c"
    assert log_safe("é 日本") == "é 日本"  # printable text stays readable
    long = log_safe("q" * 1000)
    assert long == "q" * MAX_LOGGED_CHARS + "...(+936)"


def test_prompt_digest_is_keyed_so_a_dictionary_of_plain_hashes_misses() -> None:
    plain = hashlib.sha256(b"more comedies").hexdigest()[:10]
    first, second = PromptDigest(), PromptDigest()
    assert plain not in first("more comedies")
    assert first("more comedies") != second("more comedies")  # random key per process
    assert first("more comedies") == first("more comedies")
    assert PromptDigest("k")("more comedies") == PromptDigest("k")("more comedies")
    assert first("more comedies").startswith("len=13 hmac=") and first("") == "none"


def test_access_log_carries_the_keyed_digest_never_the_prompt(
    fake_service: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dpr.grpc")
    fake_service.stub.Steer(pb.SteerRequest(user_id="u1", prompt="more comedies"), timeout=5)
    text = "\n".join(_lines(caplog))
    assert "more comedies" not in text
    assert hashlib.sha256(b"more comedies").hexdigest()[:10] not in text
    assert "hmac=" in text
