"""Row 5 of the hardening review: on SIGTERM health turns NOT_SERVING while calls are still
taken (the drain window), calls in flight and calls during the window are answered, health
watch streams end cleanly, and an idle stop takes the drain window, not the grace period."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from tests.hardening.conftest import FakeService

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_drain_answers_every_call_and_ends_health_watches() -> None:
    service = FakeService(history_delay_s=0.3)  # every call takes 0.3 s
    health = health_pb2_grpc.HealthStub(service.channel)
    watched: list[int] = []
    watch_end: list[grpc.StatusCode] = []

    def watch() -> None:
        stream = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        try:
            watched.extend(answer.status for answer in stream)
            watch_end.append(stream.code())
        except grpc.RpcError as exc:
            watch_end.append(exc.code())

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.2)
    results: list[grpc.StatusCode] = []

    def call() -> None:
        try:
            service.stub.Steer(pb.SteerRequest(user_id="u1"), timeout=10)
            results.append(grpc.StatusCode.OK)
        except grpc.RpcError as exc:
            results.append(exc.code())

    in_flight = [threading.Thread(target=call) for _ in range(14)]
    for thread in in_flight:
        thread.start()
    time.sleep(0.05)
    started = time.monotonic()
    stopping = asyncio.run_coroutine_threadsafe(
        service.stop(drain_s=1.0, grace_s=5.0), service.loop
    )
    time.sleep(0.3)  # inside the drain window: NOT_SERVING, and new calls still answered
    status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
    late = threading.Thread(target=call)
    late.start()
    stopping.result(30)
    stopped_after = time.monotonic() - started
    for thread in [*in_flight, late]:
        thread.join(10)
    watcher.join(10)
    service.close()
    assert status == NOT_SERVING
    assert results == [grpc.StatusCode.OK] * 15, results
    assert watched[-1] == NOT_SERVING and watch_end == [grpc.StatusCode.OK]
    assert stopped_after < 2.0, f"stop took {stopped_after:.2f}s with a 1 s drain window"


def test_an_idle_stop_takes_the_drain_window_not_the_grace_period() -> None:
    service = FakeService()
    health = health_pb2_grpc.HealthStub(service.channel)
    stream = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
    assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
    started = time.monotonic()
    service.run(service.stop(drain_s=0.2, grace_s=5.0))
    elapsed = time.monotonic() - started
    assert [answer.status for answer in stream] == [NOT_SERVING]
    service.close()
    assert elapsed < 1.0, f"idle stop took {elapsed:.2f}s"
