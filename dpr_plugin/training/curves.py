"""Training-curve plots (PNG): loss and validation NDCG@10 / Recall@10 per evaluated epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_curve(curve: list[dict[str, float]], title: str, path: Path) -> Path:
    """Writes a two-panel training-curve PNG and returns its path."""
    epochs = [p["epoch"] for p in curve]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [p["loss"] for p in curve], marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title="loss")
    for key in ("ndcg@10", "recall@10"):
        right.plot(epochs, [p[key] for p in curve], marker="o", label=f"valid {key}")
    right.set(xlabel="epoch", title="validation (full ranking)")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
