"""How much the steering targets move between heads trained with different seeds.

    .venv/bin/python -m benchmarks.steering_seeds --results steering_strength_plain \\
        steering_strength_seed1 steering_strength_seed2

(seed 0 is the plain-table heads; seeds 1 and 2 were trained on the same plain backbones).

Reads ``benchmarks.steering_strength`` result files (one per seed of the heads, same
backbones; ``benchmarks.steering_ml1m --seed S --runs DIR`` trains them) and sets, for each
backbone and each issue target, the value of every seed beside their mean, spread and how many
seeds meet the target: the spread between training seeds, next to the spread between test
users that each target's ``ci95`` gives. Trains nothing; reads
``benchmarks/results/steering_strength/<stem>.json`` and writes
``benchmarks/results/steering_seeds/steering_seeds_ml1m.json`` (another stem with
``--result-name``). ``--smoke`` reads the committed seed files (a second; it needs nothing but
them) and writes under a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks.common import (
    RESULTS,
    add_smoke_arguments,
    command_line,
    git_sha,
    parse_args,
    require,
    result_path,
    results_root,
    write_result,
)

EXPERIMENT = "steering_seeds"
INPUTS = "steering_strength"
"""The experiment whose result files this one reads."""
SMOKE_RESULTS = ("steering_strength_plain", "steering_strength_seed1", "steering_strength_seed2")
BLOCKS = ("targets_valid_at_default", "targets_at_default", "targets_at_1")


def seed_spread(runs: dict[str, dict]) -> dict[str, dict]:
    """``{backbone: {"default_strength": {run: picks}, block: {target: summary}}}``.

    Args:
        runs: Result name → a ``steering_strength`` result (``{backbone: report, ...}``).
    """
    first = next(iter(runs.values()))
    backbones = [k for k, v in first.items() if isinstance(v, dict) and "targets_at_default" in v]
    for name, run in runs.items():
        missing = [kind for kind in backbones if kind not in run]
        if missing:
            raise ValueError(f"runs: {name} has no {', '.join(missing)} report")
    out: dict[str, dict] = {}
    for kind in backbones:
        entry: dict[str, dict] = {
            "default_strength": {
                name: {k: v for k, v in run[kind]["default_strength"].items() if k != "source"}
                for name, run in runs.items()
            }
        }
        for block in BLOCKS:
            per_target: dict[str, dict] = {}
            for target in first[kind][block]:
                checks = {name: run[kind][block][target] for name, run in runs.items()}
                values = np.array([check["value"] for check in checks.values()], dtype=float)
                per_target[target] = {
                    "target": next(iter(checks.values()))["target"],
                    "values": {name: check["value"] for name, check in checks.items()},
                    "mean": round(float(values.mean()), 4),
                    "sd": round(float(values.std(ddof=1)), 4) if len(values) > 1 else 0.0,
                    "min": round(float(values.min()), 4),
                    "max": round(float(values.max()), 4),
                    "met": f"{sum(bool(c['met']) for c in checks.values())} of {len(checks)}",
                }
            entry[block] = per_target
        out[kind] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--results",
        nargs="+",
        help="stems of steering_strength result files (required unless --smoke)",
    )
    parser.add_argument("--result-name", default="steering_seeds_ml1m")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    if args.smoke and args.results is None:
        args.results = list(SMOKE_RESULTS)
    require(parser, args, "results")
    runs: dict[str, dict] = {}
    for stem in args.results:
        path = result_path(INPUTS, stem, RESULTS if args.smoke else root)
        if not path.is_file():
            raise SystemExit(f"--results: {path} does not exist")
        runs[stem] = json.loads(path.read_text())
    if len(runs) < 2:
        raise SystemExit("--results: give at least two result files (one per seed)")
    try:
        spread = seed_spread(runs)
    except ValueError as error:
        raise SystemExit(f"--results: {error}") from None
    body: dict[str, object] = {
        **spread,
        "heads": {
            stem: {k: v["head"] for k, v in run.items() if isinstance(v, dict) and "head" in v}
            for stem, run in runs.items()
        },
        "note": (
            "Each target's value at every seed of the steering heads (backbones fixed), with "
            "mean, sample sd, range and how many seeds meet it; sd is the spread between "
            "training seeds, the result files' ci95 the spread between test users."
        ),
        "command": command_line("benchmarks.steering_seeds"),
        "git_sha": git_sha(),
    }
    out = result_path(EXPERIMENT, args.result_name, root)
    write_result(out, body)
    for kind, entry in spread.items():
        summary = {
            target: {k: figures[k] for k in ("mean", "sd", "min", "max", "met")}
            for target, figures in entry["targets_at_default"].items()
        }
        print(json.dumps({kind: summary}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
