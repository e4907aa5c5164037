"""Row 2 of the hardening review: when the process that started a local tritonserver dies
without cleaning up (SIGKILL here; SIGHUP or the OOM killer alike), the server and its Python
backend stubs are gone within 5 s, and the next start reclaims the workspace and shared memory
left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dpr_plugin.triton_local.orphans import OWNER_FILE, reclaim_stale_workspaces

pytestmark = pytest.mark.slow

LAUNCHER = """
import sys, time
from pathlib import Path
from dpr_plugin.triton_local.server import LocalTritonServer
server = LocalTritonServer(Path(sys.argv[1])).start()
print(server._process.pid, server._workspace, server._shm_prefix, flush=True)
time.sleep(600)
"""


def _processes_naming(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


@pytest.mark.parametrize("exported", ["sasrec"], indirect=True)  # one backbone suffices
def test_local_triton_dies_with_its_parent_and_leaves_nothing(exported) -> None:
    _, _, _, repository, _ = exported
    parent = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(repository)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        line = parent.stdout.readline().split() if parent.stdout else []
        assert len(line) == 3, "the launcher did not start tritonserver"
        server_pid, workspace, shm_prefix = int(line[0]), Path(line[1]), line[2]
        assert _processes_naming(str(workspace)), "no tritonserver runs on the workspace"
        os.kill(parent.pid, signal.SIGKILL)  # no clean-up of any kind
        parent.wait()
        deadline = time.monotonic() + 5.0
        while _processes_naming(str(workspace)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _processes_naming(str(workspace)) == [], "tritonserver or a stub outlived its parent"
        # gone, or a zombie waiting for init to reap it (this sandbox's init does not)
        assert server_pid not in _processes_naming("")
        # the next start (here: its sweep) takes back what the dead owner left
        assert (workspace / OWNER_FILE).is_file()
        assert workspace in reclaim_stale_workspaces(workspace.parent)
        assert not workspace.exists()
        assert not list(Path("/dev/shm").glob(f"{shm_prefix}*"))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
