"""The gRPC server: the steering service plus standard health checking, server reflection and
a Prometheus endpoint.

Split the way grpc's examples split it: ``build_components`` (serving layer) makes the parts,
``create_server`` wires a pipeline into a bound ``grpc.aio.Server``, and ``SteeringServer``
runs the two for ``dpr serve`` (start, wait, graceful stop), the components on a loop of their
own (``worker_loop``) so that taking and shedding calls never waits behind their work. A local
tritonserver, when the settings name no Triton, comes from the launcher the caller passes in;
this module does not know how one is started.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from dpr_plugin.errors import ConfigError
from dpr_plugin.grpc_api.auth import BearerTokenInterceptor, TokenCheck, load_tokens
from dpr_plugin.grpc_api.handlers import SERVICE_NAME, steering_handler
from dpr_plugin.grpc_api.health import DrainingHealthServicer
from dpr_plugin.grpc_api.log_safety import PromptDigest
from dpr_plugin.grpc_api.servicer import SteeringServicer
from dpr_plugin.grpc_api.worker_loop import WorkerLoop, WorkRunner, same_loop
from dpr_plugin.serving.components import ServingComponents, build_components
from dpr_plugin.serving.history.base import HistoryStore
from dpr_plugin.serving.index.base import ItemIndex
from dpr_plugin.serving.inference.factory import Backends, LaunchedTriton, TritonLauncher
from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.pipeline import SteeringPipeline
from dpr_plugin.serving.release_switch import ReleaseSwitch
from dpr_plugin.serving.settings import ServeSettings

log = logging.getLogger("dpr.server")

__all__ = ["ServeSettings", "SteeringServer", "create_server"]

HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "[::1]", "localhost")

PENDING_CALLS = 8192
"""Calls grpcio may hold before the service has taken them. Above its default (1,000, with a
hard limit of 3,000) grpcio refuses calls itself, as ``CANCELLED``: a burst of 1,500 lost 51
calls that way. Up to this many, every call reaches admission, which answers or sheds it
(``RESOURCE_EXHAUSTED``, counted); beyond it grpcio's refusal stands."""

GRPC_LIMIT_FACTOR = 2
"""grpcio's own limit on calls at once is this many times ``max_in_flight``. Beyond it grpcio
answers RESOURCE_EXHAUSTED ("Concurrent RPC limit exceeded!") before any Python handler runs,
which is cheaper than the service's own shedding: with it, 1,500 calls at once ended with at
most 3 expired, without it with up to 110 (runs vary). Those refusals are not counted in
``dpr_shed_requests_total``, and the limit counts every call (health checks and open
``Health.Watch`` streams too), so it sits well above ``max_in_flight`` to bind only in a
burst."""

GRPC_SERVER_OPTIONS = [
    # No SO_REUSEPORT: a second server on a port in use must fail to bind, not share the port
    # (the kernel would split calls between two processes, maybe two model versions).
    ("grpc.so_reuseport", 0),
    ("grpc.server.max_pending_requests", PENDING_CALLS),
    ("grpc.server.max_pending_requests_hard_limit", 2 * PENDING_CALLS),
]


@dataclass(frozen=True)
class ServerOptions:
    """How ``create_server`` builds its server.

    Attributes:
        digest: Names prompts in the access log (a random key when ``None``).
        max_in_flight: Calls worked on at once before shedding.
        credentials: TLS (or mutual TLS) credentials; ``None`` serves plaintext.
        tokens: The bearer-token check; ``None`` lets calls through without a token.
        work: Where the pipeline's coroutines run (the server's own loop by default).
        current: The pipeline to answer each call with, read per call (a release switch
            replaces it); ``None``: always the one ``create_server`` was given.
    """

    digest: PromptDigest | None = None
    max_in_flight: int = 32
    credentials: grpc.ServerCredentials | None = None
    tokens: TokenCheck | None = None
    work: WorkRunner = same_loop
    current: Callable[[], SteeringPipeline] | None = None


def _read(setting: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from None


def server_options(settings: ServeSettings) -> ServerOptions:
    """The options the settings name: TLS files read, tokens loaded, and the rule that a
    non-loopback host needs TLS or tokens unless ``insecure``.

    Raises:
        ConfigError: naming the setting whose file cannot be read or is malformed, or ``host``.
    """
    credentials = None
    if settings.tls_cert:
        client_ca = (
            _read("tls_client_ca", settings.tls_client_ca) if settings.tls_client_ca else None
        )
        credentials = grpc.ssl_server_credentials(
            [(_read("tls_key", settings.tls_key), _read("tls_cert", settings.tls_cert))],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )
    tokens = load_tokens(settings.auth_tokens_file)
    if settings.host not in LOOPBACK_HOSTS and not (credentials or tokens or settings.insecure):
        raise ConfigError(
            f"host: {settings.host} is not loopback, and calls would need neither TLS "
            "(--tls-cert, --tls-key) nor a token (--auth-tokens-file, DPR_SERVE_AUTH_TOKENS); "
            "--insecure true serves it anyway"
        )
    return ServerOptions(
        PromptDigest(settings.log_digest_key),
        settings.max_in_flight,
        credentials,
        TokenCheck(tokens) if tokens else None,
    )


def create_server(
    pipeline: SteeringPipeline,
    host: str,
    port: int,
    health_servicer: health.aio.HealthServicer,
    options: ServerOptions | None = None,
) -> tuple[grpc.aio.Server, int]:
    """A server with the steering service, health and reflection, bound to ``host:port``.

    Returns:
        The (not yet started) server and the port it bound (the OS's pick for port 0).

    Raises:
        ConfigError: The address cannot be bound.
    """
    options = options or ServerOptions()
    interceptors = []
    if options.tokens is not None:
        refused = pipeline.metrics.refused
        interceptors.append(
            BearerTokenInterceptor(options.tokens, lambda code: refused.labels(code.name).inc())
        )
    server = grpc.aio.server(
        interceptors=interceptors,
        options=GRPC_SERVER_OPTIONS,
        maximum_concurrent_rpcs=GRPC_LIMIT_FACTOR * options.max_in_flight,
    )
    servicer = SteeringServicer(pipeline, options.digest, options.work, options.current)
    server.add_generic_rpc_handlers((steering_handler(servicer, options.max_in_flight),))
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    address = f"{host}:{port}"
    try:
        if options.credentials is not None:
            bound = server.add_secure_port(address, options.credentials)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:  # grpcio raises where older versions returned 0
        bound = 0
    if bound == 0:
        raise ConfigError(f"port: cannot bind {address} (in use, or not an address here)")
    return server, bound


def metrics_endpoint(host: str, port: int, metrics: ServiceMetrics) -> Any:
    """Prometheus' HTTP endpoint on ``host:port``; a ConfigError naming ``metrics_port`` when
    the port cannot be bound (in use), not a traceback."""
    try:
        http, _ = start_http_server(port, host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(f"metrics_port: cannot bind {host}:{port}: {exc.strerror}") from None
    return http


async def drain_and_stop(
    server: grpc.aio.Server, health_servicer: DrainingHealthServicer, drain_s: float, grace_s: float
) -> None:
    """Stops a server the way a load balancer needs it stopped.

    1. Health turns NOT_SERVING at once, while calls are still taken, for ``drain_s``: a
       balancer that checks or watches health moves traffic away, and the calls it still
       sends, and those in flight, are answered.
    2. Watch streams send NOT_SERVING (if they have not) and end OK.
    3. The port closes; calls in flight get up to ``grace_s`` more, then are cancelled.
    """
    await health_servicer.enter_graceful_shutdown()
    if drain_s > 0:
        await asyncio.sleep(drain_s)
    await health_servicer.end_watches()
    await server.stop(grace_s)


async def _supervise(launched: LaunchedTriton) -> None:
    launched.supervise()  # watches from the loop it is called on: the worker's


class SteeringServer:
    """A running service: ``start`` then ``wait`` / ``stop``.

    Args:
        settings: The service's settings.
        launcher: Starts a local tritonserver when the settings name neither ``triton_url``
            nor ``in_process`` (``dpr serve`` passes ``dpr_plugin.triton_local.launcher``).
    """

    def __init__(self, settings: ServeSettings, launcher: TritonLauncher | None = None) -> None:
        self.settings = settings
        self.launcher = launcher
        self.metrics = ServiceMetrics()
        self.port = 0
        self.metrics_port = 0
        self.components: ServingComponents | None = None
        self._server: grpc.aio.Server | None = None
        self._worker: WorkerLoop | None = None
        self._health = DrainingHealthServicer()
        self._metrics_http: object | None = None
        self.releases: ReleaseSwitch | None = None
        self._watch: Awaitable[None] | None = None

    @property
    def pipeline(self) -> SteeringPipeline | None:
        """The pipeline of the started service."""
        return self.components.pipeline if self.components else None

    async def start(
        self,
        backends: Backends | None = None,
        index: ItemIndex | None = None,
        history: HistoryStore | None = None,
    ) -> int:
        """Builds the components (or takes the given ones) on the worker loop, binds, serves;
        returns the port. On failure everything already started (a launched tritonserver
        included) is stopped."""
        try:
            options = server_options(self.settings)  # before anything starts: files, host rule
            self._worker = WorkerLoop()
            if self.settings.releases:
                self.releases = ReleaseSwitch(
                    self.settings, self.metrics, self.launcher, self._serve_components
                )
                self.components = await self._worker.run(self.releases.start(history))
            else:
                self.components = await self._worker.run(
                    build_components(
                        self.settings, self.metrics, self.launcher, backends, index, history
                    )
                )
            host, port = self.settings.host, self.settings.port
            self._server, self.port = create_server(
                self.components.pipeline,
                host,
                port,
                self._health,
                dataclasses.replace(options, work=self._worker.run, current=self._pipeline),
            )
            await self._server.start()
            if self.settings.metrics_port >= 0:
                http = metrics_endpoint(host, self.settings.metrics_port, self.metrics)
                self._metrics_http = http
                self.metrics_port = http.server_port
            launched = self.components.backends.launched
            if launched is not None:
                await self._worker.run(_supervise(launched))
            if self.releases is not None:
                self._watch = self._worker.run(self.releases.run())
            for name in ("", SERVICE_NAME):
                await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        except BaseException:
            await self.stop(drain_s=0.0)  # nothing was served: no balancer to drain from
            raise
        log.info(
            "serving %s on %s:%d (metrics :%d, model %s)",
            SERVICE_NAME,
            host,
            self.port,
            self.metrics_port,
            self.components.bundle.model_version,
        )
        return self.port

    def _serve_components(self, components: ServingComponents) -> None:
        """A release switch's new parts: every call from now on goes to their pipeline."""
        self.components = components

    def _pipeline(self) -> SteeringPipeline:
        assert self.components is not None
        return self.components.pipeline

    async def wait(self) -> None:
        """Blocks until the server stops."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def stop(self, drain_s: float | None = None) -> None:
        """Graceful shutdown (``drain_and_stop``, with the settings' drain window unless
        ``drain_s`` is given), then every component is released."""
        if self._server is not None:
            server, self._server = self._server, None
            drain = self.settings.drain_s if drain_s is None else drain_s
            await drain_and_stop(server, self._health, drain, self.settings.grace_s)
        await self._health.enter_graceful_shutdown()
        if self._watch is not None:
            self._watch.cancel()  # type: ignore[attr-defined]  # a future of this loop
            self._watch = None
        if self.releases is not None and self._worker is not None:
            await self._worker.run(self.releases.close())
        if self.components is not None and self._worker is not None:
            await self._worker.run(self.components.close())
            self.components = None
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        if self._metrics_http is not None:
            self._metrics_http.shutdown()  # type: ignore[attr-defined]
            self._metrics_http.server_close()  # type: ignore[attr-defined]
            self._metrics_http = None
