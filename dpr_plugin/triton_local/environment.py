"""The Triton environment: its own venv (``numpy<2``) and a server tree assembled from the wheel.

The wheel's python backend folder lacks the stub executable and has no ``onnxruntime``
backend, so each server gets a workspace laid out as pytriton lays out its own:
``backends/python`` (wheel files + the stub for this Python), ``backends/onnxruntime/model.py``
(ours) and ``caches`` (the local response cache).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dpr_plugin.errors import ConfigError

log = logging.getLogger(__name__)

REQUIREMENTS = ("nvidia-pytriton==0.7.0", "numpy==1.26.4", "onnxruntime==1.20.1")
"""Pins of the Triton venv. numpy 2 silently breaks the bundled python-backend stub."""

BACKEND_SOURCE = Path(__file__).parent / "backends" / "onnxruntime" / "model.py"


@dataclass(frozen=True)
class TritonInstall:
    """Where the pieces of an installed Triton venv are."""

    venv: Path
    wheel_root: Path  # site-packages/pytriton/tritonserver
    libs: Path  # site-packages/nvidia_pytriton.libs
    python_version: str

    @property
    def binary(self) -> Path:
        """The tritonserver executable."""
        return self.wheel_root / "bin" / "tritonserver"

    @property
    def stub(self) -> Path:
        """The python-backend stub matching the venv's Python."""
        return (
            self.wheel_root
            / "python_backend_stubs"
            / self.python_version
            / "triton_python_backend_stub"
        )

    def environment(self) -> dict[str, str]:
        """Process environment for the server: bundled libraries found, the venv first on PATH
        (the stub's embedded Python finds numpy and onnxruntime through it)."""
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(self.libs), env.get("LD_LIBRARY_PATH", "")) if p
        )
        env["PATH"] = os.pathsep.join((str(self.venv / "bin"), env.get("PATH", "")))
        env.pop("PYTHONPATH", None)
        return env


def _site_packages(venv: Path) -> tuple[Path, str]:
    out = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys, sysconfig; print(sysconfig.get_paths()['purelib']);"
            "print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return Path(out[0]), out[1]


def ensure_install(venv: Path) -> TritonInstall:
    """Creates ``venv`` with the pinned packages if needed (idempotent, a stamp records pins)."""
    venv = Path(venv).resolve()
    stamp = venv / ".dpr-triton-requirements"
    wanted = "\n".join(REQUIREMENTS)
    if not (stamp.is_file() and stamp.read_text() == wanted):
        log.info("installing Triton venv at %s (%s)", venv, ", ".join(REQUIREMENTS))
        if not (venv / "bin" / "python").exists():
            python = shutil.which("python3.11") or sys.executable
            subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *REQUIREMENTS,
            ],
            check=True,
        )
        stamp.write_text(wanted)
    site, version = _site_packages(venv)
    install = TritonInstall(
        venv, site / "pytriton" / "tritonserver", site / "nvidia_pytriton.libs", version
    )
    for needed in (install.binary, install.stub, install.libs):
        if not needed.exists():
            raise ConfigError(f"triton venv {venv}: {needed} missing (reinstall nvidia-pytriton)")
    return install


def build_workspace(install: TritonInstall, workspace: Path) -> tuple[Path, Path]:
    """Lays out ``backends/`` and ``caches/`` under ``workspace``; returns both paths."""
    backends, caches = workspace / "backends", workspace / "caches"
    shutil.copytree(install.wheel_root / "backends" / "python", backends / "python")
    shutil.copy2(install.stub, backends / "python" / "triton_python_backend_stub")
    (backends / "onnxruntime").mkdir(parents=True)
    shutil.copy2(BACKEND_SOURCE, backends / "onnxruntime" / "model.py")
    shutil.copytree(install.wheel_root / "caches", caches)
    return backends, caches
