"""Row 3 of the hardening review: a second server on a port in use fails to start with a
one-line error instead of sharing the port (SO_REUSEPORT) with the first."""

from __future__ import annotations

import pytest
from grpc_health.v1 import health

from dpr_plugin.errors import ConfigError
from dpr_plugin.grpc_api.server import create_server
from tests.hardening.conftest import FakeService


def test_create_server_refuses_a_port_another_server_holds(fake_service: FakeService) -> None:
    async def second() -> None:
        create_server(
            fake_service.pipeline, "127.0.0.1", fake_service.port, health.aio.HealthServicer()
        )

    with pytest.raises(ConfigError, match=rf"^port: cannot bind 127\.0\.0\.1:{fake_service.port}"):
        fake_service.run(second())


def test_metrics_endpoint_on_a_port_in_use_is_a_one_line_error() -> None:
    """Row 11: the metrics port in use gave a 40-line traceback."""
    import socket

    from dpr_plugin.grpc_api.server import metrics_endpoint
    from dpr_plugin.serving.metrics import ServiceMetrics

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^metrics_port: cannot bind 127\.0\.0\.1:{port}: "):
            metrics_endpoint("127.0.0.1", port, ServiceMetrics())
