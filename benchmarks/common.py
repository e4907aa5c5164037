"""Helpers shared by the benchmark commands: where results go, the ``--smoke`` flags, latency
summaries and run provenance.

Results live in ``benchmarks/results/<experiment>/<name>.json`` (``result_path``), one folder
per benchmark command family; ``benchmarks/README.md`` lists every file with its command. A
``--smoke`` run writes the same files under a temporary (or ``--results-dir``) root instead,
never under ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import numpy as np

if TYPE_CHECKING:
    from dpr_plugin.models.prompt_encoder import PromptEncoder

_REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
"""The committed results: ``RESULTS / <experiment> / <name>.json``."""


def result_path(
    experiment: str, name: str, root: Path | None = None, suffix: str = ".json"
) -> Path:
    """``<root>/<experiment>/<name><suffix>``; ``root`` defaults to the committed ``RESULTS``."""
    return (RESULTS if root is None else Path(root)) / experiment / f"{name}{suffix}"


def add_smoke_arguments(parser: argparse.ArgumentParser) -> None:
    """``--smoke`` and ``--results-dir``, the flags every benchmark takes."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the same code path on tiny synthetic data (no ML-1M, no network), in seconds; "
        "writes under --results-dir (default: a new temporary folder), never into "
        "benchmarks/results",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="root of the result folders (default: benchmarks/results; with --smoke a new "
        "temporary folder)",
    )


def results_root(args: argparse.Namespace) -> Path:
    """Where this run writes its ``<experiment>/<name>.json``.

    Raises:
        SystemExit: ``--smoke`` was asked to write into ``benchmarks/results``.
    """
    if not args.smoke:
        return RESULTS if args.results_dir is None else Path(args.results_dir)
    if args.results_dir is None:
        root = Path(tempfile.mkdtemp(prefix="dpr-smoke-"))
        print(f"smoke run: results under {root}", flush=True)
        return root
    root = Path(args.results_dir).resolve()
    if root == RESULTS or RESULTS in root.parents:
        raise SystemExit(f"--results-dir {root}: a smoke run never writes into {RESULTS}")
    return root


def require(parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    """Exits with a usage error naming the first of ``names`` (flag destinations) that is
    unset: flags a real run needs and a ``--smoke`` run fills in itself."""
    for name in names:
        if getattr(args, name) is None:
            parser.error(f"--{name.replace('_', '-')} is required (or --smoke)")


@functools.cache
def prompt_encoder() -> PromptEncoder:
    """The frozen sentence encoder, loaded once per process: a benchmark that reads several
    heads, and smoke runs one after another in one process, share it and its prompt cache."""
    from dpr_plugin.models.prompt_encoder import PromptEncoder

    return PromptEncoder()


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


_ARGV: list[str] | None = None
"""The arguments of the benchmark run in progress (``parse_args``), for ``command_line``."""


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, remembering ``argv`` (else the process's arguments) as the
    invocation ``command_line`` records: a benchmark's ``main(argv)`` called in-process
    (the smoke tests) records its own arguments, not the caller's."""
    global _ARGV
    _ARGV = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args(argv)


def command_line(module: str) -> str:
    """How this benchmark was invoked, for the result file."""
    argv = sys.argv[1:] if _ARGV is None else _ARGV
    return " ".join([Path(sys.executable).name, "-m", module, *argv])


def write_result(path: Path, body: dict[str, object]) -> None:
    """Writes a result file atomically (a temporary file, then a rename), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    tmp.replace(path)


def write_service_result(
    out: Path, body: dict[str, object], targets: dict[str, object], module: str
) -> None:
    """Writes a benchmark of the running service: ``body``, its ``targets``, the machine (the
    load generator shares it), command and commit; prints the targets and the path."""
    import os

    result = {
        **body,
        "targets": targets,
        "machine": f"{os.cpu_count()} cores; load generator in the same machine",
        "command": command_line(module),
        "git_sha": git_sha(),
    }
    write_result(out, result)
    print(json.dumps(targets, indent=2))
    print(f"wrote {out}")


def shown_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (as result files record it), else
    absolute."""
    resolved = path.resolve()
    return str(
        resolved.relative_to(_REPOSITORY) if resolved.is_relative_to(_REPOSITORY) else resolved
    )


def write_plotted_result(
    out: Path, body: dict[str, object], png: Path, png_key: str, module: str
) -> Path:
    """Writes ``out``: ``body`` plus the path of its (already drawn) ``png`` under
    ``png_key``, the command and the commit; prints what it wrote."""
    write_result(
        out,
        {
            **body,
            png_key: shown_path(png),
            "command": command_line(module),
            "git_sha": git_sha(),
        },
    )
    print(f"wrote {out} and {png}")
    return out


def run_dpr(args: list[str], in_process: bool = False) -> dict:
    """Runs ``dpr ARGS`` and returns the JSON it prints.

    By default the ``dpr`` command of this interpreter's environment in its own process (a
    long training run keeps nothing in the benchmark's memory); ``in_process`` calls
    ``dpr_plugin.cli.main`` here instead, for smoke runs that cannot pay a new interpreter,
    torch import and sentence-encoder load per call (it shares ``prompt_encoder()``).

    Raises:
        SystemExit: ``dpr`` failed (its error output is printed).
    """
    if in_process:
        from dpr_plugin import cli
        from dpr_plugin.models import prompt_encoder as encoder_module

        printed = io.StringIO()
        # The command builds its encoder by name at call time: give it this process's.
        with (
            mock.patch.object(encoder_module, "PromptEncoder", prompt_encoder),
            contextlib.redirect_stdout(printed),
        ):
            code = cli.main(args)
        if code:
            raise SystemExit(f"dpr {' '.join(args)}: exit status {code}")
        return json.loads(printed.getvalue())
    command = [str(Path(sys.executable).with_name("dpr")), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"dpr {' '.join(args)}: exit status {done.returncode}")
    return json.loads(done.stdout)
