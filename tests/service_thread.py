"""Runs a SteeringServer on its own event loop in a background thread, so tests can call it
with ordinary (blocking) gRPC stubs and keep one server for a whole module."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import grpc

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc
from dpr_plugin.grpc_api.server import ServeSettings, SteeringServer
from dpr_plugin.serving.inference.factory import TritonLauncher

T = TypeVar("T")


class ServiceThread:
    """A started server; ``stub`` talks to it; ``close`` stops it and its loop."""

    def __init__(
        self, settings: ServeSettings, launcher: TritonLauncher | None = None, **components: Any
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = SteeringServer(settings, launcher)
        self.port = self.run(self.server.start(**components), timeout=300)
        self.target = f"127.0.0.1:{self.port}"
        self.channel = grpc.insecure_channel(self.target)
        self.stub = pb_grpc.SteeringServiceStub(self.channel)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Runs a coroutine on the server's loop and waits for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stops the server, its components and the loop."""
        self.channel.close()
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
