"""A logger wrapper that writes a repeated warning at most once per interval, with the count of
the ones it left out: under a fault that hits every request, one line per request drowns the
log without telling more than the first line and a count."""

from __future__ import annotations

import logging
import threading
import time


class RateLimitedLog:
    """``warning`` passes at most once per ``interval_s``; the next line that passes says how
    many were left out since.

    Args:
        logger: Where the lines go.
        interval_s: Shortest time between two lines (0 passes every one).
    """

    def __init__(self, logger: logging.Logger, interval_s: float) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._last = float("-inf")
        self._left_out = 0
        self._lock = threading.Lock()

    def warning(self, message: str, *args: object) -> None:
        """Logs ``message % args`` at WARNING unless one passed within the interval."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval_s:
                self._left_out += 1
                return
            left_out, self._left_out, self._last = self._left_out, 0, now
        if left_out:
            message += f" ({left_out} more like it in the last %.0fs not logged)"
            args = (*args, self.interval_s)
        self.logger.warning(message, *args)
