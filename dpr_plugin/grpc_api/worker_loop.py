"""The service's work on an event loop of its own, apart from the loop that takes gRPC calls.

grpcio's asyncio server takes one call at a time off its queue, once per turn of its event
loop. When that loop also runs the pipeline (history reads, inference, index queries, result
assembly), each turn carries every in-flight call's next step, so under a burst calls are taken
in slower than they arrive and expire in grpcio's queue before the admission limit ever sees
them (1,500 calls at once: 528 ran out of their 2 s deadline, 51 were cancelled by grpcio's
pending-call limit). With the pipeline here, the gRPC loop only takes calls, decodes, admits or
sheds, and waits; measured on 2 cores with a stand-in handler (3 ms of CPU per call), the
same burst went from 550 answered and 899 expired to 390 answered and 1,071 shed within 1.5 s
(the 39 left were cancelled by grpcio's pending-call limit, since raised: ``server.py``).

Everything the pipeline owns (the Triton client's channel, its locks, the Triton supervisor)
is created and closed on this loop: asyncio objects belong to the loop they were made on.

The two loops share the GIL. A thread that wants it while another runs Python waits up to the
interpreter's switch interval (5 ms by default), so while the worker was busy the gRPC loop got
one turn per 5 ms; ``WorkerLoop`` lowers the interval (process-wide) to SWITCH_INTERVAL_S.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

SWITCH_INTERVAL_S = 0.0005
"""The longest one thread waits for the GIL while another runs Python, once a worker loop
exists (``sys.setswitchinterval``; never raised)."""


class WorkRunner(Protocol):
    """Runs a coroutine where the service's work runs and returns its awaitable result."""

    def __call__(self, coro: Coroutine[Any, Any, T], /) -> Awaitable[T]: ...


def same_loop(coro: Coroutine[Any, Any, T], /) -> Awaitable[T]:
    """The ``WorkRunner`` of a server whose work shares its loop (tests, embedding apps)."""
    return coro


class WorkerLoop:
    """An event loop running on its own (daemon) thread until ``close``."""

    def __init__(self, name: str = "dpr-work") -> None:
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            left = asyncio.all_tasks(self.loop)
            for task in left:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], /) -> Awaitable[T]:
        """``coro`` scheduled on this loop, as a future of the calling loop. Cancelling that
        future cancels the coroutine; its exception is raised to the caller."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self, timeout_s: float = 10.0) -> None:
        """Stops the loop (tasks still on it are cancelled) and joins its thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)
