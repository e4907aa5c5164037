"""Keeps the local tritonserver that ``dpr serve`` started alive, and answering.

When the process dies (a crash, the OOM killer, a stray ``kill``) the supervisor notices within
``interval_s``; when it lives but stops answering its readiness endpoint (``kill -STOP``, a
deadlock) for ``hung_checks`` checks in a row, each bounded by ``probe_timeout_s``, it is
killed. Either way the supervisor logs the end of the server's log and starts a new process on
the same ports;
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
        hung_checks: Failed readiness checks in a row after which a running server is hung.
        probe_timeout_s: Longest one readiness check may take.
    """

    def __init__(
        self,
        server: LocalTritonServer,
        on_restart: Callable[[str], None] | None = None,
        interval_s: float = 1.0,
        max_backoff_s: float = 30.0,
        hung_checks: int = 3,
        probe_timeout_s: float = 1.0,
    ) -> None:
        self.server = server
        self.on_restart = on_restart or (lambda outcome: None)
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.hung_checks = hung_checks
        self.probe_timeout_s = probe_timeout_s
        self._unready = 0
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

    async def _needs_restart(self) -> bool:
        """True when the process died, or has failed ``hung_checks`` readiness checks in a row
        (then it is killed first)."""
        if not self.server.is_running():
            log.error(
                "local tritonserver exited with code %s; restarting it on %s (requests are "
                "served unsteered until it is back). Its log ended with:\n%s",
                self.server.exit_code,
                self.server.grpc_url,
                self.server.log_tail(20),
            )
            return True
        ready = await asyncio.to_thread(self.server.is_ready, self.probe_timeout_s)
        self._unready = 0 if ready else self._unready + 1
        if self._unready < self.hung_checks:
            return False
        log.error(
            "local tritonserver on %s runs but has not answered %d readiness checks in a row: "
            "killing and restarting it (requests are served unsteered until it is back)",
            self.server.grpc_url,
            self._unready,
        )
        await asyncio.to_thread(self.server.kill)
        return True

    async def _watch(self) -> None:
        backoff = self.interval_s
        while True:
            await asyncio.sleep(self.interval_s)
            if not await self._needs_restart():
                continue
            self._unready = 0
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
