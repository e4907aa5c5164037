"""A local tritonserver never outlives the process that started it.

* **Parent-death signal.** The server is started through a few lines of Python that ask the
  kernel (Linux ``prctl(PR_SET_PDEATHSIG)``) to send it SIGKILL when its parent dies, then
  ``exec`` the server, which keeps the request. Its Python backend stubs notice that their
  server is gone and exit too. If ``dpr serve`` is killed (SIGKILL, the OOM killer, a SIGHUP it
  does not handle), nothing of the server is left after 1.6-1.8 s (measured,
  ``tests/hardening/test_orphans.py``); with SIGTERM instead, the server's own orderly shutdown
  took 2.8-3.8 s, too close to the 5 s the service promises. The kernel ties the signal to the
  *thread* that started the server, not to the process: a server restarted from a worker thread
  would die with that thread. So every server is started from one thread that lives as long as
  the process (``spawn``).
* **Stale workspaces.** Each server's workspace (``dpr_triton_*`` under the temp directory)
  records its owner's and its server's pids. A start reclaims the workspaces whose owner is
  gone: it kills what is left of their server's process group (a server from a version
  without the parent-death signal), removes their shared memory and deletes them.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

WORKSPACE_PREFIX = "dpr_triton_"
OWNER_FILE = "owner.json"

_EXEC_WITH_PDEATHSIG = """
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    os._exit(1)  # the parent died before the request took effect
os.execv(sys.argv[2], sys.argv[2:])
"""


def dies_with_parent(command: list[str]) -> list[str]:
    """``command`` wrapped so that it gets SIGKILL when this process dies (Linux; elsewhere
    the command as it is, and the stale-workspace sweep is the only guard)."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-c", _EXEC_WITH_PDEATHSIG, str(os.getpid()), *command]


_SPAWNER = ThreadPoolExecutor(1, thread_name_prefix="dpr-triton-spawn")
"""The one thread every local tritonserver is started from (lives as long as the process)."""


def spawn(command: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(dies_with_parent(command), **popen)``, from the spawner thread."""
    return _SPAWNER.submit(subprocess.Popen, dies_with_parent(command), **popen).result()


def record_owner(workspace: Path, server_pid: int, shm_prefix: str) -> None:
    """Writes who owns ``workspace``: this process, its server, its shared-memory prefix."""
    body = {"owner_pid": os.getpid(), "server_pid": server_pid, "shm_prefix": shm_prefix}
    (workspace / OWNER_FILE).write_text(json.dumps(body))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to touch
    return True


def _serves_workspace(pid: int, workspace: Path) -> bool:
    """True when ``pid`` is still the server of ``workspace`` (its command line names it), so
    a recycled pid is never killed."""
    try:
        return str(workspace) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def reclaim_stale_workspaces(root: Path | None = None) -> list[Path]:
    """Reclaims every workspace under ``root`` (the temp directory) whose owner is gone.

    Returns:
        The workspaces removed.
    """
    root = Path(root or tempfile.gettempdir())
    removed = []
    for workspace in sorted(root.glob(f"{WORKSPACE_PREFIX}*")):
        try:
            owner = json.loads((workspace / OWNER_FILE).read_text())
            owner_pid, server_pid = int(owner["owner_pid"]), int(owner["server_pid"])
            shm_prefix = str(owner["shm_prefix"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being set up by a live start, or not ours
        if owner_pid == os.getpid() or _alive(owner_pid):
            continue
        if _alive(server_pid) and _serves_workspace(server_pid, workspace):
            log.warning("killing tritonserver %d left behind by process %d", server_pid, owner_pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(server_pid, signal.SIGKILL)
        if shm_prefix:
            for leftover in glob.glob(f"/dev/shm/{shm_prefix}*"):
                Path(leftover).unlink(missing_ok=True)
        shutil.rmtree(workspace, ignore_errors=True)
        log.info("reclaimed the stale tritonserver workspace %s", workspace)
        removed.append(workspace)
    return removed
