from __future__ import annotations

import asyncio
import threading

import pytest

from dpr_plugin.grpc_api.worker_loop import WorkerLoop


async def _thread_name() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_run_awaits_a_coroutine_on_the_worker_thread() -> None:
    worker = WorkerLoop("dpr-work-test")
    try:
        assert asyncio.run(_run(worker, _thread_name())) == "dpr-work-test"
    finally:
        worker.close()


async def _run(worker: WorkerLoop, coro):  # type: ignore[no-untyped-def]
    return await worker.run(coro)


def test_an_exception_on_the_worker_reaches_the_caller() -> None:
    async def fail() -> None:
        raise ValueError("history_length: must be positive")

    worker = WorkerLoop()
    try:
        with pytest.raises(ValueError, match="history_length"):
            asyncio.run(_run(worker, fail()))
    finally:
        worker.close()


class Sleeper:
    """A coroutine that sleeps until cancelled, and events that say it started and was
    cancelled (set on the worker's thread, read on the test's)."""

    def __init__(self) -> None:
        self.started, self.cancelled = threading.Event(), threading.Event()

    async def sleep(self) -> None:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


def test_cancelling_the_caller_cancels_the_work() -> None:
    worker = WorkerLoop()
    sleeper = Sleeper()
    started, cancelled = sleeper.started, sleeper.cancelled

    async def caller() -> None:
        task = asyncio.ensure_future(worker.run(sleeper.sleep()))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(caller())
        assert cancelled.wait(5)
    finally:
        worker.close()


def test_close_cancels_what_is_left_and_ends_the_thread() -> None:
    worker = WorkerLoop()
    sleeper = Sleeper()
    asyncio.run_coroutine_threadsafe(sleeper.sleep(), worker.loop)
    assert sleeper.started.wait(5)
    worker.close()
    assert sleeper.cancelled.is_set() and worker.loop.is_closed()
    worker.close()  # a second close does nothing
