"""A circuit breaker in front of the primary inference backend (Triton).

A Triton that hangs (``kill -STOP``, a wedged GPU) answers nothing and refuses nothing: every
call waits out its whole budget. Without a breaker each request paid that wait, twice when the
unsteered retry went to the same server (250 ms + 250 ms: 250 req/s fell to 32). With it,
``failures`` consecutive failures open the circuit: calls skip Triton and go straight to the
in-process fallback, while a probe task asks Triton's readiness every ``probe_interval_s``
(each ask bounded by ``probe_timeout_s``) and closes the circuit on the first yes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from dpr_plugin.serving.inference.base import InferenceBackend

log = logging.getLogger("dpr.pipeline")


class CircuitBreaker:
    """Tracks whether calls should go to ``backend`` at all.

    Args:
        backend: The primary backend its probe asks.
        failures: Consecutive failed calls that open the circuit.
        probe_interval_s: How often an open circuit asks whether the backend is back.
        probe_timeout_s: Longest one readiness ask may take (a hung server never answers).
        on_change: Called with True when the circuit opens, False when it closes (metrics).
    """

    def __init__(
        self,
        backend: InferenceBackend,
        failures: int = 3,
        probe_interval_s: float = 0.5,
        probe_timeout_s: float = 0.25,
        on_change: Callable[[bool], None] = lambda is_open: None,
    ) -> None:
        self.backend = backend
        self.failures = failures
        self.probe_interval_s = probe_interval_s
        self.probe_timeout_s = probe_timeout_s
        self.on_change = on_change
        self._consecutive = 0
        self._open = False
        self._probe: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        """True while calls should skip the backend."""
        return self._open

    def record_success(self) -> None:
        self._consecutive = 0

    def record_failure(self) -> None:
        """Counts a failed call; the ``failures``-th in a row opens the circuit and starts the
        probe (call from the running event loop)."""
        self._consecutive += 1
        if self._consecutive >= self.failures and not self._open:
            self._open = True
            log.warning(
                "inference backend failed %d calls in a row: serving from the fallback until "
                "it answers a readiness probe",
                self._consecutive,
            )
            self.on_change(True)
            self._probe = asyncio.get_running_loop().create_task(
                self._probe_until_ready(), name="circuit-probe"
            )

    async def _ready(self) -> bool:
        try:
            return await asyncio.wait_for(self.backend.is_ready(), self.probe_timeout_s)
        except Exception:
            return False

    async def _probe_until_ready(self) -> None:
        while not await self._ready():
            await asyncio.sleep(self.probe_interval_s)
        self._open = False
        self._consecutive = 0
        log.warning("inference backend ready again: circuit closed")
        self.on_change(False)

    async def close(self) -> None:
        """Stops a probe in progress."""
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
