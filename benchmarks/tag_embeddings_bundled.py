"""Tag embeddings on the bundled data, side by side: the main job's recipe with and without.

    .venv/bin/python -m benchmarks.tag_embeddings_bundled

Runs ``dpr train`` and ``dpr train-steering`` exactly as ``scripts/main.sh`` does (bundled
ml-latest-small, seeded), once with ``--tag-embeddings false`` and once with ``true``, and
sets side by side what each printed: the backbone's test NDCG@10 (history kept / removed),
the steering tasks (NDCG@10 and adherence of DPR, hybrid and both filters), ``tag_share@10``
("more X" / "no X" averaged over the tags, and the demo's Comedy / Drama) and the default
strengths picked on validation. ~5 min on 2 cores. Writes
``benchmarks/results/tag_embeddings_bundled.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import command_line, git_sha, write_result

RESULT = Path(__file__).parent / "results" / "tag_embeddings_bundled.json"
# scripts/main.sh's recipe
BACKBONE_FLAGS = [
    *("--dataset", "bundled", "--backbone", "sasrec", "--quiet", "--max-epochs", "8"),
    *("--batch-size", "16", "--lr", "0.005", "--dropout", "0.2", "--patience", "3"),
]
STEERING_FLAGS = ["--quiet", "--max-samples", "60000", "--epochs", "4"]
METHODS = ("backbone", "dpr", "hybrid", "postfilter", "filter")


def dpr(*args: str) -> dict:
    """Runs the ``dpr`` command of this interpreter's environment; its JSON output."""
    command = [str(Path(sys.executable).with_name("dpr")), *args]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def steering_summary(report: dict) -> dict[str, object]:
    """The figures of a ``dpr train-steering`` report this comparison is about."""
    per_tag = report["tag_share@10"]["per_tag"]
    out: dict[str, object] = {
        "tag_share@10": {
            "unsteered": round(float(np.mean([v["unsteered"] for v in per_tag.values()])), 3),
            "more": round(float(np.mean([v["more"] for v in per_tag.values()])), 3),
            "no": round(float(np.mean([v["no"] for v in per_tag.values()])), 3),
            "Comedy_more": per_tag["Comedy"]["more"],
            "Drama_no": per_tag["Drama"]["no"],
        },
        "default_strength": report["default_strength"],
    }
    for task, adherence in (("positive", "tag_hit@10"), ("negative", "violation@10")):
        out[task] = {
            m: {"ndcg@10": report[task][m]["ndcg@10"], adherence: report[task][m][adherence]}
            for m in METHODS
        }
    out["cases"] = report["cases"]
    return out


def run_variant(runs: Path, tag_embeddings: bool) -> dict[str, object]:
    name = "tags" if tag_embeddings else "plain"
    started = time.perf_counter()
    backbone = dpr(
        "train",
        *BACKBONE_FLAGS,
        "--out",
        str(runs / name / "sasrec"),
        "--tag-embeddings",
        str(tag_embeddings).lower(),
    )
    steering = dpr(
        "train-steering",
        "--backbone",
        str(runs / name / "sasrec"),
        "--out",
        str(runs / name / "steering"),
        *STEERING_FLAGS,
    )
    return {
        "backbone": {
            "valid_ndcg@10": round(backbone["valid"]["ndcg@10"], 4),
            "test_ndcg@10": round(backbone["test"]["ndcg@10"], 4),
            "test_ndcg@10_seen_excluded": round(backbone["test_exclude_seen"]["ndcg@10"], 4),
            "epochs": backbone["epochs"],
        },
        "steering": steering_summary(steering),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/tag_embeddings_bundled"))
    args = parser.parse_args()
    body: dict[str, object] = {}
    for tag_embeddings in (False, True):
        key = "tag_embeddings" if tag_embeddings else "plain"
        body[key] = run_variant(args.runs, tag_embeddings)
        print(json.dumps({key: body[key]}, indent=1), flush=True)
    body["recipe"] = {
        "dpr train": " ".join(BACKBONE_FLAGS),
        "dpr train-steering": " ".join(STEERING_FLAGS),
    }
    body["command"] = command_line("benchmarks.tag_embeddings_bundled")
    body["git_sha"] = git_sha()
    write_result(RESULT, body)
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
