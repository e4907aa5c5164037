"""Lifecycle of a local ``tritonserver``: start on free loopback ports, wait until ready
(failing fast with the log if the process dies), stop cleanly, leave no shared memory behind."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from dpr_plugin.contract import ENSEMBLES
from dpr_plugin.errors import TritonStartError
from dpr_plugin.manifest import version_dir
from dpr_plugin.triton_local.environment import TritonInstall, build_workspace, ensure_install
from dpr_plugin.triton_local.orphans import (
    WORKSPACE_PREFIX,
    reclaim_stale_workspaces,
    record_owner,
    spawn,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TritonSettings:
    """Settings of the local Triton server (flags ``--venv``, ``--cache-bytes``, ... of
    ``dpr triton`` and ``dpr serve``; env ``DPR_TRITON_*``).

    Attributes:
        venv: The Triton venv (created on first use).
        cache_bytes: Size of the local response cache.
        startup_timeout_s: Longest wait for all models to be ready.
        stop_timeout_s: Grace period after SIGTERM before SIGKILL.
        log_verbose: Triton's ``--log-verbose`` level.
    """

    venv: Path = Path(".venv-triton")
    cache_bytes: int = 64 * 1024 * 1024
    startup_timeout_s: float = 180.0
    stop_timeout_s: float = 15.0
    log_verbose: int = 0


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (the OS picks them; another process could race us)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class LocalTritonServer:
    """A tritonserver process serving ``repository`` on 127.0.0.1 (use as a context manager)."""

    def __init__(self, repository: Path, settings: TritonSettings | None = None) -> None:
        self.repository = Path(repository).resolve()
        self.settings = settings or TritonSettings()
        self._install: TritonInstall | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._workspace: Path | None = None
        self._lock = threading.RLock()  # start, restart and stop may come from two threads
        self._shm_prefix = ""  # the Python backend's shared-memory names of the last start
        self.http_port = self.grpc_port = self.metrics_port = 0

    @property
    def grpc_url(self) -> str:
        """``host:port`` of the gRPC endpoint."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        """Prometheus metrics endpoint."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def log_path(self) -> Path:
        """The server's combined stdout/stderr."""
        assert self._workspace is not None
        return self._workspace / "tritonserver.log"

    def start(self) -> LocalTritonServer:
        """Starts the server and returns once every model is ready.

        After the process died (``kill``, a crash) it starts a new one on the same ports, so
        clients reconnect without being told.

        Raises:
            TritonStartError: The process is still running, exited, or was not ready in time.
        """
        with self._lock:
            if self.is_running():
                raise TritonStartError(f"tritonserver already running on {self.grpc_url}")
            self._discard_dead()
            return self._start()

    def restart(self) -> LocalTritonServer:
        """Stops the process if it still runs, then ``start``; the ports stay the same."""
        with self._lock:
            self._stop()
            return self._start()

    def _discard_dead(self) -> None:
        """Forgets a process that died by itself: its group, shared memory and workspace."""
        if self._process is not None:
            self._stop()

    def _start(self) -> LocalTritonServer:
        if self._install is None:
            self._install = ensure_install(self.settings.venv)
        reclaim_stale_workspaces()
        self._workspace = Path(tempfile.mkdtemp(prefix=WORKSPACE_PREFIX))
        # kept after stop, so leftovers of this process can still be found and removed
        self._shm_prefix = f"dpr_{os.getpid()}_{self._workspace.name.rsplit('_', 1)[-1]}_"
        backends, caches = build_workspace(self._install, self._workspace)
        if not self.grpc_port:  # a restart keeps its ports, so clients reconnect to it
            self.http_port, self.grpc_port, self.metrics_port = free_ports(3)
        for spec, _ in ENSEMBLES:  # Triton loads an ensemble only with a version folder
            version_dir(self.repository, spec.name).mkdir(parents=True, exist_ok=True)
        command = [
            str(self._install.binary),
            f"--model-repository={self.repository}",
            f"--backend-directory={backends}",
            f"--cache-directory={caches}",
            f"--cache-config=local,size={self.settings.cache_bytes}",
            f"--backend-config=python,shm-region-prefix-name={self._shm_prefix}",
            "--backend-config=python,shm-default-byte-size=4194304",
            "--backend-config=python,shm-growth-byte-size=1048576",
            "--http-address=127.0.0.1",
            f"--http-port={self.http_port}",
            "--grpc-address=127.0.0.1",
            f"--grpc-port={self.grpc_port}",
            "--metrics-address=127.0.0.1",
            f"--metrics-port={self.metrics_port}",
            "--allow-gpu-metrics=false",
            "--pinned-memory-pool-byte-size=0",
            "--strict-readiness=true",
            "--exit-on-error=true",
            "--exit-timeout-secs=10",
            f"--log-verbose={self.settings.log_verbose}",
        ]
        with self.log_path.open("wb") as sink:
            self._process = spawn(
                command,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self._install.environment(),
                start_new_session=True,
            )
        record_owner(self._workspace, self._process.pid, self._shm_prefix)
        try:
            self._wait_ready()
        except BaseException:
            self._stop()
            raise
        log.info("tritonserver ready: grpc %s (log %s)", self.grpc_url, self.log_path)
        return self

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` of the server's log (of the current or the dead process)."""
        if self._workspace is None:
            return "(no log)"
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.settings.startup_timeout_s
        url = f"http://127.0.0.1:{self.http_port}/v2/health/ready"
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise TritonStartError(f"tritonserver exited with code {code}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        waited = self.settings.startup_timeout_s
        raise TritonStartError(f"tritonserver not ready after {waited:.0f}s:\n{self.log_tail()}")

    def is_ready(self, timeout_s: float = 1.0) -> bool:
        """True when the server answers its readiness endpoint within ``timeout_s``."""
        url = f"http://127.0.0.1:{self.http_port}/v2/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def is_running(self) -> bool:
        """True while the process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The process's exit status once it ended by itself; ``None`` while it runs."""
        return None if self._process is None else self._process.poll()

    def kill(self) -> None:
        """SIGKILLs the server (fault tests); ``start()`` brings up a new one on the same ports."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._kill_group()
        self._cleanup_shm()

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after the grace period; removes shared memory and workspace."""
        with self._lock:
            return self._stop()

    def _stop(self) -> int | None:
        code = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.send_signal(signal.SIGTERM)
                try:
                    self._process.wait(self.settings.stop_timeout_s)
                except subprocess.TimeoutExpired:
                    log.warning(
                        "tritonserver ignored SIGTERM for %.0fs: killing it",
                        self.settings.stop_timeout_s,
                    )
                    self._process.kill()
                    self._process.wait()
            code = self._process.returncode
            self._kill_group()
            self._process = None
        self._cleanup_shm()
        if self._workspace is not None:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None
        return code

    def _kill_group(self) -> None:
        """SIGKILLs what is left of the server's process group (Python backend stubs outlive a
        server that died), so their shared memory can be removed for good."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def _cleanup_shm(self) -> None:
        if not self._shm_prefix:
            return
        for leftover in glob.glob(f"/dev/shm/{self._shm_prefix}*"):
            Path(leftover).unlink(missing_ok=True)

    def leftover_shm(self) -> list[str]:
        """Shared-memory files of this server still present (tests assert there are none)."""
        return glob.glob(f"/dev/shm/{self._shm_prefix}*") if self._shm_prefix else []

    def __enter__(self) -> LocalTritonServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
