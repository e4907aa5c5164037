"""How a trained steering head reads each prompt template: polarity and tag accuracy.

    .venv/bin/python -m benchmarks.prompt_reading --steering runs/ml1m/steering-sasrec

Every template (trained and held out), and a set of "novel" phrasings that appear nowhere in
the package (not trained, not in the held-out evaluation), is rendered for every tag of the
checkpoint and read by the head's polarity and tag readers, as the service reads a prompt.
Writes ``benchmarks/results/prompt_reading/prompt_reading.json`` (another stem with
``--result-name``) with per-group means and prints one line per phrasing, so a phrasing the
head misreads (a ban read as a wish) is visible by name. ``--smoke`` reads an untrained head
of the synthetic data's six tags (``benchmarks.lib.smoke``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import (
    add_smoke_arguments,
    command_line,
    git_sha,
    parse_args,
    prompt_encoder,
    require,
    result_path,
    results_root,
    write_result,
)
from benchmarks.lib.smoke import SmokeInputs
from dpr_plugin.data.prompts import HELD_OUT, NEGATIVE_TEMPLATES, POSITIVE_TEMPLATES, surface
from dpr_plugin.training.checkpoint import load_steering

EXPERIMENT = "prompt_reading"

# Written for this benchmark only and never trained on: how people might really phrase a wish
# or a ban. Kept here, outside the package, so no training code can pick them up.
NOVEL_POSITIVE = (
    "maybe some {tag}",
    "I'd enjoy {tag}",
    "{tag} would hit the spot",
    "looking for {tag}",
    "what about {tag}",
    "I'm up for {tag}",
)
NOVEL_NEGATIVE = (
    "{tag}? nah",
    "I'm sick of {tag}",
    "anything except {tag}",
    "please no {tag} tonight",
    "{tag} isn't my thing",
    "I'll pass on {tag}",
)


def _groups() -> list[tuple[bool, str, str]]:
    """(negative, group, template) for every phrasing read."""
    out = []
    for negative, templates, novel in (
        (False, POSITIVE_TEMPLATES, NOVEL_POSITIVE),
        (True, NEGATIVE_TEMPLATES, NOVEL_NEGATIVE),
    ):
        out += [
            (negative, "held_out" if i in HELD_OUT else "trained", t)
            for i, t in enumerate(templates)
        ]
        out += [(negative, "novel", t) for t in novel]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--steering", type=Path, help="steering checkpoint dir (required unless --smoke)"
    )
    parser.add_argument("--result-name", default="prompt_reading", help="stem of the result JSON")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    if args.smoke and args.steering is None:
        args.steering = SmokeInputs(root).head("sasrec")
    require(parser, args, "steering")

    head, tags, _ = load_steering(args.steering)
    head.eval()
    encoder = prompt_encoder()
    rows = []
    for negative, group, template in _groups():
        z = encoder.features([template.format(tag=surface(tag)) for tag in tags])
        with torch.no_grad():
            negative_prob = torch.sigmoid(head.polarity(z.states, z.mask)).squeeze(-1).numpy()
            tag_logits = head.tags(z.embedding).numpy()
        row = {
            "polarity": "negative" if negative else "positive",
            "template": template,
            "group": group,
            "polarity_accuracy": round(float(((negative_prob >= 0.5) == negative).mean()), 4),
            "mean_negative_probability": round(float(negative_prob.mean()), 4),
            "tag_accuracy": round(float((tag_logits.argmax(1) == np.arange(len(tags))).mean()), 4),
        }
        rows.append(row)
        print(
            f"{row['polarity']:8s} {group:8s} polarity {row['polarity_accuracy']:.2f} "
            f"tag {row['tag_accuracy']:.2f}  {template}",
            flush=True,
        )
    by_group: dict[str, list[float]] = {}
    for r in rows:
        by_group.setdefault(f"{r['polarity']}/{r['group']}", []).append(r["polarity_accuracy"])
    summary = {key: round(float(np.mean(values)), 4) for key, values in by_group.items()}
    print("mean polarity accuracy:", summary, flush=True)
    body = {
        "steering": str(args.steering),
        "tags": len(tags),
        "polarity_accuracy": summary,
        "templates": rows,
        "command": command_line("benchmarks.prompt_reading"),
        "git_sha": git_sha(),
    }
    out = result_path(EXPERIMENT, args.result_name, root)
    write_result(out, body)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
