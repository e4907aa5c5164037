"""Row 6 of the hardening review: under a burst, every call is answered or shed within its
deadline (RESOURCE_EXHAUSTED at once beyond the in-flight limit), and an inference server
that fails under the load does not turn every call into an in-process run."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

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


def test_in_process_fallbacks_run_at_most_two_at_once_and_still_answer() -> None:
    service = FakeService(down=True, fallback_delay_s=0.05)  # each in-process run takes 50 ms
    try:
        answers = _burst(service, 12, timeout_s=5.0)
        fallback = service.pipeline.fallback
        ran = service.pipeline.metrics.fallbacks.labels("backbone_in_process")._value.get()
    finally:
        service.close()
    assert [code for code, _ in answers] == ["OK"] * 12
    assert ran == 12 and fallback.most_running == 2  # queued for a slot, not run at once


def test_calls_waiting_for_a_fallback_slot_give_up_at_their_deadline() -> None:
    service = FakeService(down=True, fallback_delay_s=1.0)  # each in-process run takes 1 s
    try:
        answers = _burst(service, 6, timeout_s=0.6)
        fallback = service.pipeline.fallback
    finally:
        service.close()
    codes = [code for code, _ in answers]
    assert set(codes) <= {"UNAVAILABLE", "DEADLINE_EXCEEDED"}, codes
    assert fallback.most_running == 2  # the others waited for a slot, none ran beside them
    assert max(seconds for _, seconds in answers) < 1.0


def test_a_call_arriving_with_almost_no_time_left_is_shed_at_once() -> None:
    """A call that queued behind a burst until less than 50 ms of its deadline were left is
    answered RESOURCE_EXHAUSTED at once instead of starting work nobody will read."""
    import asyncio

    from dpr_plugin.grpc_api.handlers import InFlightLimit, method_handler
    from dpr_plugin.serving.metrics import ServiceMetrics

    class Context:
        def time_remaining(self) -> float:
            return 0.02

        async def abort(self, code: grpc.StatusCode, message: str) -> None:
            raise RuntimeError(f"{code.name}: {message}")

    async def never(request: object, context: object) -> None:
        raise AssertionError("the call was worked on")

    metrics = ServiceMetrics()
    handle = method_handler(never, pb.SteerRequest, metrics.errors, InFlightLimit(8), metrics.shed)
    with pytest.raises(RuntimeError, match=r"^RESOURCE_EXHAUSTED: overloaded: 20 ms of the dead"):
        asyncio.run(handle(b"", Context()))  # type: ignore[arg-type]
    assert metrics.shed.labels("Steer")._value.get() == 1
