"""The supervisor's retry logic, on a stand-in whose restarts fail; the real restart of a real
tritonserver is tested end to end in tests/grpc_api/test_triton_service.py."""

from __future__ import annotations

import asyncio

from dpr_plugin.errors import TritonStartError
from dpr_plugin.triton_local.supervisor import TritonSupervisor


class DeadServer:
    """A server that is down and comes back on the ``succeed_on``-th restart."""

    grpc_url = "127.0.0.1:1"
    exit_code = -9

    def __init__(self, succeed_on: int) -> None:
        self.succeed_on = succeed_on
        self.attempts = 0
        self.running = False

    def is_running(self) -> bool:
        return self.running

    def is_ready(self, timeout_s: float = 1.0) -> bool:
        return self.running

    def log_tail(self, lines: int = 40) -> str:
        return "segfault"

    def restart(self) -> DeadServer:
        self.attempts += 1
        if self.attempts < self.succeed_on:
            raise TritonStartError("not ready")
        self.running = True
        return self


def test_failed_restarts_are_retried_with_backoff_until_one_succeeds() -> None:
    async def scenario() -> tuple[DeadServer, list[str], int]:
        server = DeadServer(succeed_on=3)
        outcomes: list[str] = []
        supervisor = TritonSupervisor(
            server,  # type: ignore[arg-type]
            outcomes.append,
            interval_s=0.01,
            max_backoff_s=0.04,
        )
        supervisor.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if server.running:
                break
        await asyncio.sleep(0.05)  # running now: no more attempts
        await supervisor.stop()
        return server, outcomes, supervisor.restarts

    server, outcomes, restarts = asyncio.run(scenario())
    assert outcomes == ["failed", "failed", "ok"]
    assert server.attempts == 3 and restarts == 1


def test_stop_ends_the_watch_without_restarting() -> None:
    async def scenario() -> DeadServer:
        server = DeadServer(succeed_on=1)
        supervisor = TritonSupervisor(server, interval_s=0.5)  # type: ignore[arg-type]
        supervisor.start()
        await asyncio.sleep(0.05)
        await supervisor.stop()
        await asyncio.sleep(0.6)
        return server

    assert asyncio.run(scenario()).attempts == 0
