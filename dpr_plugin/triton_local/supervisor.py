"""Keeps the local tritonserver that ``dpr serve`` started alive.

When the process dies (a crash, the OOM killer, a stray ``kill``) the supervisor notices within
``interval_s``, logs the end of the server's log and starts a new process on the same ports;
the service's Triton client reconnects by itself. Until it is back, the pipeline serves the
flagged unsteered list (its in-process fallback), so no request fails for it. A failed restart
is retried with exponential backoff up to ``max_backoff_s``. A Triton named by URL is someone
else's to run and is not supervised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from dpr_plugin.errors import TritonStartError
from dpr_plugin.triton_local.server import LocalTritonServer

log = logging.getLogger("dpr.triton")


class TritonSupervisor:
    """Watches ``server`` from an asyncio task; ``start`` in a running loop, ``stop`` to end.

    Args:
        server: The started local server.
        on_restart: Called with ``"ok"`` or ``"failed"`` after each restart attempt (metrics).
        interval_s: How often the process is checked.
        max_backoff_s: Longest wait between failed restarts.
    """

    def __init__(
        self,
        server: LocalTritonServer,
        on_restart: Callable[[str], None] | None = None,
        interval_s: float = 1.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.server = server
        self.on_restart = on_restart or (lambda outcome: None)
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts watching (call from the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="triton-watch")

    async def stop(self) -> None:
        """Stops watching. A restart already under way finishes in its thread; stopping the
        server afterwards waits for it (the server serialises start and stop)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        backoff = self.interval_s
        while True:
            await asyncio.sleep(self.interval_s)
            if self.server.is_running():
                continue
            log.error(
                "local tritonserver exited with code %s; restarting it on %s (requests are "
                "served unsteered until it is back). Its log ended with:\n%s",
                self.server.exit_code,
                self.server.grpc_url,
                self.server.log_tail(20),
            )
            try:
                await asyncio.to_thread(self.server.restart)
            except TritonStartError as exc:
                self.on_restart("failed")
                log.error("tritonserver restart failed (next try in %.0fs): %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            self.restarts += 1
            self.on_restart("ok")
            backoff = self.interval_s
            log.info("local tritonserver is back on %s", self.server.grpc_url)
