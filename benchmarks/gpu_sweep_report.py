"""Collects the summaries of ``benchmarks/backbone_gpu_sweep.sh`` runs into one result file.

    .venv/bin/python -m benchmarks.gpu_sweep_report --sweep 1=runs/gpu/sweep \\
        --sweep 2=runs/gpu/sweep2 --sweep 3=runs/gpu/sweep3 --device "NVIDIA H100 80GB HBM3"

Each ``N=DIR`` names a sweep number and the folder holding its ``<run>.json`` summaries (what
``dpr train`` printed). Writes ``benchmarks/results/backbone_ml1m_gpu_sweep.json``: every run's
NDCG@10 on validation (the selection metric), on test with history items kept in the ranking
(DESIGN.md's protocol) and removed (the protocol most papers use), the best run of each
backbone under both protocols, and the distance to the issue's 0.18.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.common import command_line, git_sha, write_result

RESULT = Path(__file__).parent / "results" / "backbone_ml1m_gpu_sweep.json"
TARGET = 0.18
SELECTION = {
    "1": "validation NDCG@10 with history kept",
    "2": "validation NDCG@10 with history removed",
    "3": "validation NDCG@10 with history removed",
}


def run_row(path: Path, sweep: str) -> dict[str, object]:
    """One run's figures from its summary file."""
    summary = json.loads(path.read_text())
    row: dict[str, object] = {
        "sweep": sweep,
        "selected_on": SELECTION.get(sweep, "see the sweep script"),
        "epochs": summary["epochs"],
        "best_epoch": summary["best_epoch"],
        "train_seconds": summary["train_seconds"],
        "valid_ndcg@10": round(summary["valid"]["ndcg@10"], 4),
        "test_ndcg@10_history_kept": round(summary["test"]["ndcg@10"], 4),
        "test_ndcg@10_history_removed": round(summary["test_exclude_seen"]["ndcg@10"], 4),
        "stopped_because": summary["stopped_because"],
    }
    if "transcribed" in summary:
        row["transcribed"] = summary["transcribed"]
    return row


def best(runs: dict[str, dict[str, object]], kind: str, metric: str) -> dict[str, object]:
    """The run of ``kind`` with the highest ``metric`` (picked on test: a ceiling, not a model
    selection)."""
    name = max((n for n in runs if n.startswith(kind)), key=lambda n: runs[n][metric])
    value = float(runs[name][metric])  # type: ignore[arg-type]
    return {"run": name, metric: value, "short_of_0.18": round(TARGET - value, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="append", required=True, help="N=DIR, repeatable")
    parser.add_argument("--device", required=True, help="the GPU the sweep ran on")
    args = parser.parse_args(argv)
    runs: dict[str, dict[str, object]] = {}
    for spec in args.sweep:
        sweep, _, folder = spec.partition("=")
        if not folder:
            parser.error(f"--sweep: expected N=DIR, got {spec!r}")
        for path in sorted(Path(folder).glob("*.json")):
            runs[path.stem] = run_row(path, sweep)
    if not runs:
        parser.error("--sweep: no <run>.json summaries found")
    body = {
        "device": args.device,
        "script": "bash benchmarks/backbone_gpu_sweep.sh DATA_DIR OUT_DIR BUDGET_S SWEEP",
        "runs": runs,
        "best": {
            kind: {
                "history_kept": best(runs, kind, "test_ndcg@10_history_kept"),
                "history_removed": best(runs, kind, "test_ndcg@10_history_removed"),
            }
            for kind in ("sasrec", "gru4rec")
        },
        "command": command_line("benchmarks.gpu_sweep_report"),
        "git_sha": git_sha(),
    }
    write_result(RESULT, body)
    print(json.dumps(body["best"], indent=2))
    print(f"wrote {RESULT} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
