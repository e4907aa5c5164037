"""Helpers shared by the benchmark commands: latency summaries and run provenance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

_REPOSITORY = Path(__file__).resolve().parents[1]


def latency_summary(latencies_s: list[float], wall_s: float) -> dict[str, float]:
    """p50/p90/p99 in milliseconds and throughput in requests per second."""
    ms = np.array(latencies_s) * 1000.0
    return {
        "requests": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p90_ms": round(float(np.percentile(ms, 90)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "rps": round(len(ms) / wall_s, 1),
    }


def git_sha() -> str:
    """The checked-out commit, ``+dirty`` when tracked code differs from it.

    Result files under ``benchmarks/results`` are left out of the check: a
    benchmark rewriting its own earlier result does not make the code dirty.
    ``unknown`` outside a git work tree.
    """
    try:
        head = _git("rev-parse", "HEAD")
        changed = _git(
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)benchmarks/results",
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if changed else head


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(_REPOSITORY), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def command_line(module: str) -> str:
    """How this benchmark was invoked, for the result file."""
    return " ".join([Path(sys.executable).name, "-m", module, *sys.argv[1:]])


def write_result(path: Path, body: dict[str, object]) -> None:
    """Writes a result file atomically (a temporary file, then a rename), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    tmp.replace(path)


def write_plotted_result(
    results: Path, stem: str, body: dict[str, object], png: Path, png_key: str, module: str
) -> Path:
    """Writes ``results/<stem>.json``: ``body`` plus the repository path of its (already
    drawn) ``png`` under ``png_key``, the command and the commit; prints what it wrote."""
    out = results / f"{stem}.json"
    write_result(
        out,
        {
            **body,
            png_key: str(png.resolve().relative_to(_REPOSITORY)),
            "command": command_line(module),
            "git_sha": git_sha(),
        },
    )
    print(f"wrote {out} and {png}")
    return out
