"""The local tritonserver as ``dpr serve`` launches it: started on the export, supervised
(restarted on the same ports when it dies) and stopped with the service. ``launch`` is the
``TritonLauncher`` the composition root hands to the serving layer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from dpr_plugin.triton_local.server import LocalTritonServer, TritonSettings
from dpr_plugin.triton_local.supervisor import TritonSupervisor


class SupervisedTriton:
    """A started local server and the supervisor that keeps it alive.

    Args:
        server: The started server.
        on_restart: Called with ``"ok"`` or ``"failed"`` after each restart attempt.
    """

    def __init__(self, server: LocalTritonServer, on_restart: Callable[[str], None]) -> None:
        self.server = server
        self.grpc_url = server.grpc_url
        self._supervisor = TritonSupervisor(server, on_restart)

    def supervise(self) -> None:
        """Starts watching the process (in the running event loop)."""
        self._supervisor.start()

    async def stop(self) -> None:
        """No restarts from here on, then the server stops (waiting for a restart under way)."""
        await self._supervisor.stop()
        await asyncio.to_thread(self.server.stop)


def launch(
    repository: Path,
    on_restart: Callable[[str], None],
    settings: TritonSettings | None = None,
) -> SupervisedTriton:
    """Starts a local tritonserver on ``repository`` (blocking until its models are ready).

    Raises:
        TritonStartError: The server exited or did not become ready.
    """
    return SupervisedTriton(LocalTritonServer(repository, settings).start(), on_restart)
