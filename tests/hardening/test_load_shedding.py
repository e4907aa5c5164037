"""Row 6 of the hardening review: under a burst, every call is answered or shed within its
deadline (RESOURCE_EXHAUSTED at once beyond the in-flight limit), and an inference server
that fails under the load does not turn every call into an in-process run."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from tests.hardening.conftest import FakeService


def _burst(service: FakeService, calls: int, timeout_s: float) -> list[tuple[str, float]]:
    def call(_: int) -> tuple[str, float]:
        started = time.monotonic()
        try:
            service.stub.Steer(pb.SteerRequest(user_id="u1"), timeout=timeout_s)
            code = "OK"
        except grpc.RpcError as exc:
            code = exc.code().name
        return code, time.monotonic() - started

    with ThreadPoolExecutor(calls) as pool:
        return list(pool.map(call, range(calls)))


def test_a_burst_beyond_the_in_flight_limit_is_shed_at_once() -> None:
    service = FakeService(history_delay_s=0.5, max_in_flight=8)  # each call takes 0.5 s
    try:
        answers = _burst(service, 60, timeout_s=2.0)
        shed = service.pipeline.metrics.shed.labels("Steer")._value.get()
    finally:
        service.close()
    codes = [code for code, _ in answers]
    assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}, codes
    assert codes.count("OK") >= 8 and shed == codes.count("RESOURCE_EXHAUSTED") > 0
    assert max(seconds for code, seconds in answers if code == "RESOURCE_EXHAUSTED") < 0.5
    assert max(seconds for _, seconds in answers) < 2.0


def test_in_process_fallbacks_are_bounded_when_the_server_fails() -> None:
    service = FakeService(down=True, fallback_delay_s=0.3)  # each in-process run takes 0.3 s
    try:
        answers = _burst(service, 12, timeout_s=5.0)
        fallbacks = service.pipeline.metrics.fallbacks
        ran = fallbacks.labels("backbone_in_process")._value.get()
        busy = fallbacks.labels("fallback_busy")._value.get()
    finally:
        service.close()
    codes = [code for code, _ in answers]
    assert set(codes) <= {"OK", "UNAVAILABLE"}, codes
    assert ran == codes.count("OK") and busy == codes.count("UNAVAILABLE") == 12 - ran
    assert ran < 12
    assert max(seconds for code, seconds in answers if code == "UNAVAILABLE") < 0.3
