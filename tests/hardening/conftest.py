"""A real gRPC server (health, reflection, the steering service) on port 0 over the fake
pipeline of tests/serving/fakes.py: the hardening cases run in seconds, without an export."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import grpc
import pytest

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc
from dpr_plugin.grpc_api.health import DrainingHealthServicer
from dpr_plugin.grpc_api.server import ServerOptions, create_server, drain_and_stop
from dpr_plugin.grpc_api.worker_loop import WorkerLoop
from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.pipeline import SteeringPipeline
from tests.serving.fakes import FakeBackend, FakeHistory, FakeIndex, fake_bundle

T = TypeVar("T")


class FakeService:
    """``create_server`` over a fake pipeline, on its own event loop thread."""

    def __init__(
        self,
        down: bool = False,
        history_delay_s: float = 0.0,
        history_down: bool = False,
        history: object | None = None,
        max_in_flight: int = 64,
        fallback_delay_s: float = 0.0,
        options: ServerOptions | None = None,
        history_cpu_s: float = 0.0,
        worker: bool = False,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        bundle = fake_bundle()
        self.pipeline = SteeringPipeline(
            bundle,
            FakeBackend(bundle.tokenizer, down=down),  # type: ignore[arg-type]
            FakeIndex(),
            history  # type: ignore[arg-type]
            or FakeHistory(
                {"u1": ["d1"]}, delay_s=history_delay_s, down=history_down, cpu_s=history_cpu_s
            ),
            ServiceMetrics(),
            FakeBackend(bundle.tokenizer, backbone_delay_s=fallback_delay_s),  # type: ignore[arg-type]
        )
        self.health = DrainingHealthServicer()
        self._stopped = False

        # worker: the pipeline's work on a loop of its own, as SteeringServer runs it
        self.worker = WorkerLoop() if worker else None
        options = options or ServerOptions(max_in_flight=max_in_flight)
        if self.worker is not None:
            options = dataclasses.replace(options, work=self.worker.run)

        async def start() -> tuple[grpc.aio.Server, int]:
            server, port = create_server(self.pipeline, "127.0.0.1", 0, self.health, options)
            await server.start()
            return server, port

        self.server, self.port = self.run(start())
        self.target = f"127.0.0.1:{self.port}"
        self.channel = grpc.insecure_channel(self.target)
        self.stub = pb_grpc.SteeringServiceStub(self.channel)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def stop(self, drain_s: float = 0.0, grace_s: float = 0.0) -> None:
        """``drain_and_stop`` once (later calls do nothing), then the history store closes."""
        if self._stopped:
            return
        self._stopped = True
        await drain_and_stop(self.server, self.health, drain_s, grace_s)
        await self.pipeline.close()
        await self.pipeline.history.close()

    def close(self) -> None:
        self.channel.close()
        try:
            self.run(self.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
            if self.worker is not None:
                self.worker.close()


@pytest.fixture
def fake_service() -> Iterator[FakeService]:
    service = FakeService()
    yield service
    service.close()
