"""The gRPC server: the steering service plus standard health checking, server reflection and
a Prometheus endpoint, on embedded defaults unless URLs are given.

Embedded defaults: the local ``tritonserver`` binary on the exported repository (or, with
``in_process``, onnxruntime in the service), Qdrant's engine in-process on ``index_dir``, and a
SQLite history store. Production: ``triton_url``, ``qdrant_url`` and a ``redis://`` history.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from dpr_plugin.errors import ConfigError
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc
from dpr_plugin.grpc_api.serve_settings import ServeSettings
from dpr_plugin.grpc_api.servicer import SteeringServicer
from dpr_plugin.serving.history_store import HistoryStore, open_history_store
from dpr_plugin.serving.inference import InferenceBackend
from dpr_plugin.serving.item_index import IndexUnavailableError, ItemIndex
from dpr_plugin.serving.local_runtime import LocalRuntime
from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.model_bundle import ModelBundle
from dpr_plugin.serving.pipeline import PipelineSettings, SteeringPipeline
from dpr_plugin.triton_local.server import LocalTritonServer
from dpr_plugin.triton_local.supervisor import TritonSupervisor

log = logging.getLogger("dpr.server")

__all__ = ["ServeSettings", "SteeringServer", "open_index"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SteeringService"].full_name


def open_index(settings: ServeSettings) -> ItemIndex:
    """The item index named by the settings (server if ``qdrant_url``, else embedded)."""
    if settings.qdrant_url:
        from dpr_plugin.serving.qdrant_server_index import connect_server_index

        index, _ = connect_server_index(
            settings.qdrant_url, settings.qdrant_alias, settings.index_timeout_ms / 1000
        )
        return index
    from dpr_plugin.serving.qdrant_edge_index import EdgeItemIndex

    return EdgeItemIndex(Path(settings.index_dir))


class SteeringServer:
    """Owns every component of a running service; ``start`` then ``wait``/``stop``."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.metrics = ServiceMetrics()
        self.port = 0
        self.metrics_port = 0
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._closers: list[object] = []
        self._triton: LocalTritonServer | None = None
        self._supervisor: TritonSupervisor | None = None
        self._metrics_http: object | None = None
        self.pipeline: SteeringPipeline | None = None

    def _backends(self) -> tuple[InferenceBackend, InferenceBackend | None]:
        """The primary backend and the in-process fallback for the unsteered vector."""
        repository = Path(self.settings.repository)
        if self.settings.in_process:
            return LocalRuntime(repository), None
        from dpr_plugin.serving.triton_client import TritonBackend

        url = self.settings.triton_url
        if not url:
            triton = LocalTritonServer(repository).start()
            self._triton = triton
            url = triton.grpc_url
            self._supervisor = TritonSupervisor(
                triton, lambda outcome: self.metrics.triton_restarts.labels(outcome).inc()
            )
        # The unsteered vector when Triton is down: the same export, in-process.
        local_models = (repository / "seq_backbone" / "1" / "model.onnx").is_file()
        fallback = LocalRuntime(repository) if local_models else None
        return TritonBackend(url), fallback

    async def start(
        self,
        index: ItemIndex | None = None,
        history: HistoryStore | None = None,
        backend: InferenceBackend | None = None,
        fallback: InferenceBackend | None = None,
    ) -> int:
        """Builds the components (or takes the given ones), binds, serves; returns the port.
        On failure everything already started (tritonserver included) is stopped again."""
        try:
            return await self._start(index, history, backend, fallback)
        except BaseException:
            await self.stop()
            raise

    async def _start(
        self,
        index: ItemIndex | None,
        history: HistoryStore | None,
        backend: InferenceBackend | None,
        fallback: InferenceBackend | None,
    ) -> int:
        bundle = ModelBundle.load(Path(self.settings.repository))
        if backend is None:
            backend, fallback = self._backends()
        self._closers = [backend] + ([fallback] if fallback else [])
        index = index or open_index(self.settings)
        self._closers.append(index)
        history = history or open_history_store(
            self.settings.history_url, self.settings.history_length
        )
        self._closers.append(history)
        try:
            await index.info()
        except IndexUnavailableError:
            if not self.settings.qdrant_url:
                raise  # embedded: nothing built yet; say so now, not on the first request
            # a Qdrant server may come up later: serve, answering UNAVAILABLE until it does
            log.warning(
                "qdrant %s unavailable at start; requests fail fast until it is up",
                self.settings.qdrant_url,
            )
        self.pipeline = SteeringPipeline(
            bundle,
            backend,
            index,
            history,
            self.metrics,
            fallback,
            PipelineSettings(steering_budget_s=self.settings.steering_budget_ms / 1000),
        )
        server = grpc.aio.server()
        pb_grpc.add_SteeringServiceServicer_to_server(SteeringServicer(self.pipeline), server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (
                SERVICE_NAME,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        self.port = server.add_insecure_port(f"{self.settings.host}:{self.settings.port}")
        if self.port == 0:
            raise ConfigError(f"port: cannot bind {self.settings.host}:{self.settings.port}")
        await server.start()
        self._server = server
        if self.settings.metrics_port >= 0:
            http, _ = start_http_server(
                self.settings.metrics_port, self.settings.host, registry=self.metrics.registry
            )
            self._metrics_http = http
            self.metrics_port = http.server_port
        if self._supervisor is not None:
            self._supervisor.start()
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving %s on %s:%d (metrics :%d, model %s)",
            SERVICE_NAME,
            self.settings.host,
            self.port,
            self.metrics_port,
            bundle.model_version,
        )
        return self.port

    async def wait(self) -> None:
        """Blocks until the server stops."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def stop(self) -> None:
        """Graceful shutdown: NOT_SERVING, let in-flight calls finish, release everything."""
        await self._health.enter_graceful_shutdown()
        if self._supervisor is not None:
            await self._supervisor.stop()  # no restarts while shutting down
            self._supervisor = None
        if self._server is not None:
            await self._server.stop(self.settings.grace_s)
            self._server = None
        for component in self._closers:
            close = getattr(component, "close", None)
            if close is not None:
                result = close()
                if asyncio.iscoroutine(result):
                    await result
        self._closers = []
        if self._metrics_http is not None:
            self._metrics_http.shutdown()  # type: ignore[attr-defined]
            self._metrics_http.server_close()  # type: ignore[attr-defined]
            self._metrics_http = None
        if self._triton is not None:
            await asyncio.to_thread(self._triton.stop)  # waits for a restart under way
            self._triton = None
