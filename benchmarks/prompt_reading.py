"""How a trained steering head reads each prompt template: polarity and tag accuracy.

    .venv/bin/python -m benchmarks.prompt_reading --steering runs/ml1m/steering-sasrec

Every template (trained and held out) is rendered for every tag of the checkpoint and read by
the head's polarity and tag readers, as the service reads a prompt. Writes
``benchmarks/results/prompt_reading.json`` and prints one line per template, so a phrasing the
head misreads (a ban read as a wish) is visible by name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import command_line, git_sha, write_result
from dpr_plugin.data.prompts import HELD_OUT, NEGATIVE_TEMPLATES, POSITIVE_TEMPLATES, render
from dpr_plugin.models.prompt_encoder import PromptEncoder
from dpr_plugin.training.checkpoint import load_steering

RESULT = Path(__file__).parent / "results" / "prompt_reading.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steering", type=Path, required=True, help="steering checkpoint dir")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()

    head, tags, _ = load_steering(args.steering)
    head.eval()
    encoder = PromptEncoder()
    rows = []
    for negative, templates in ((False, POSITIVE_TEMPLATES), (True, NEGATIVE_TEMPLATES)):
        for i, template in enumerate(templates):
            texts = [render(tag, negative, i).text for tag in tags]
            z = torch.as_tensor(np.asarray(encoder.encode(texts)))
            with torch.no_grad():
                negative_prob = torch.sigmoid(head.polarity(z)).squeeze(-1).numpy()
                tag_logits = head.tags(z).numpy()
            row = {
                "polarity": "negative" if negative else "positive",
                "template": template,
                "held_out": i in HELD_OUT,
                "polarity_accuracy": round(float(((negative_prob >= 0.5) == negative).mean()), 4),
                "mean_negative_probability": round(float(negative_prob.mean()), 4),
                "tag_accuracy": round(
                    float((tag_logits.argmax(1) == np.arange(len(tags))).mean()), 4
                ),
            }
            rows.append(row)
            print(
                f"{row['polarity']:8s} {'held-out' if row['held_out'] else 'trained ':8s} "
                f"polarity {row['polarity_accuracy']:.2f} tag {row['tag_accuracy']:.2f}  "
                f"{template}",
                flush=True,
            )
    body = {
        "steering": str(args.steering),
        "tags": len(tags),
        "templates": rows,
        "command": command_line("benchmarks.prompt_reading"),
        "git_sha": git_sha(),
    }
    write_result(args.out, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
