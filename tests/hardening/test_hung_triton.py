"""Row 4 of the hardening review: a hung inference server (``kill -STOP``: answers nothing,
refuses nothing). One budget per request, not two in series; after three failures in a row the
circuit opens and calls go straight to the in-process fallback; a bounded readiness probe closes
it again; and a local tritonserver we launched that stops answering is restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.pipeline import PipelineSettings, SteeringPipeline
from dpr_plugin.serving.steer_query import ServedPath, SteerQuery
from tests.serving.fakes import FakeBackend, FakeHistory, FakeIndex, fake_bundle

BUDGET_S = 0.1


def test_hung_server_costs_one_budget_then_none_and_the_probe_brings_it_back() -> None:
    async def run() -> None:
        bundle = fake_bundle()
        primary = FakeBackend(bundle.tokenizer)  # type: ignore[arg-type]
        pipeline = SteeringPipeline(
            bundle,
            primary,  # type: ignore[arg-type]
            FakeIndex(),
            FakeHistory({"u1": ["d1"]}),
            ServiceMetrics(),
            FakeBackend(bundle.tokenizer),  # type: ignore[arg-type]
            PipelineSettings(steering_budget_s=BUDGET_S),
        )
        pipeline.breaker.probe_interval_s = 0.05
        query = SteerQuery(request_id="r", user_id="u1", prompt="more comedies")
        assert (await pipeline.steer(query)).served_path is ServedPath.STEERED
        primary.hung = True
        took = []
        for _ in range(6):
            started = time.monotonic()
            result = await pipeline.steer(query)
            took.append(time.monotonic() - started)
            assert result.served_path is ServedPath.FALLBACK_UNSTEERED
        # the first three each wait out one budget (not two); then the circuit is open
        assert all(t < 1.6 * BUDGET_S for t in took[:3]), took
        assert all(t < 0.2 * BUDGET_S for t in took[3:]), took
        assert pipeline.breaker.is_open
        assert pipeline.metrics.circuit_open._value.get() == 1
        primary.hung = False  # SIGCONT: the probe in progress times out (0.25 s), the next passes
        await asyncio.sleep(0.6)
        assert not pipeline.breaker.is_open
        assert (await pipeline.steer(query)).served_path is ServedPath.STEERED
        assert pipeline.metrics.circuit_open._value.get() == 0
        await pipeline.close()

    asyncio.run(run())


@pytest.mark.slow
@pytest.mark.parametrize("exported", ["sasrec"], indirect=True)  # one backbone suffices
def test_supervisor_restarts_a_local_triton_that_stops_answering(exported) -> None:
    from dpr_plugin.triton_local.server import LocalTritonServer
    from dpr_plugin.triton_local.supervisor import TritonSupervisor

    _, _, _, repository, _ = exported
    server = LocalTritonServer(repository).start()
    outcomes: list[str] = []

    async def run() -> None:
        supervisor = TritonSupervisor(
            server, outcomes.append, interval_s=0.5, hung_checks=3, probe_timeout_s=0.5
        )
        supervisor.start()
        stopped = server._process
        assert stopped is not None
        os.kill(stopped.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 60
        while not outcomes and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await supervisor.stop()
        assert server._process is not stopped

    try:
        asyncio.run(run())
        assert outcomes == ["ok"]
        assert server.is_ready(2.0)
    finally:
        server.stop()
    assert server.leftover_shm() == []
