"""What every user sees when they ask for a tag: the tag's share of their top K.

The paper's tasks (``steering_eval``) score only the cases their rules select: a positive case
needs a target whose tag is rare in the user's recent history, so a common tag such as Comedy
is seldom asked for there. This measure asks every user for every tag ("more X" and "no X",
one trained phrasing each) and reports the tag's share of the top K before and after
steering, so a tag the head barely moves toward is visible by name.
"""

from __future__ import annotations

import numpy as np
import torch

from dpr_plugin.models.prompt_features import PromptFeatures
from dpr_plugin.models.steering_head import SteeringHead


@torch.no_grad()
def tag_share_at_k(
    head: SteeringHead,
    users: torch.Tensor,
    table: torch.Tensor,
    item_tags: np.ndarray,
    tag_names: list[str],
    prompts: dict[tuple[int, bool], PromptFeatures],
    k: int = 10,
) -> dict[str, object]:
    """Per tag and on average over tags: share of the top ``k`` carrying the tag.

    Args:
        head: The trained steering head (eval mode is set here).
        users: ``[U, D]`` backbone user vectors of the users to ask.
        table: ``[N, D]`` item vectors (no padding row).
        item_tags: ``[N, T]`` 0/1 tags of those items.
        tag_names: Name of each tag column.
        prompts: (tag column, negative) → phrasings; the first one of each is asked.
        k: List length.

    Returns:
        ``{"per_tag": {tag: {"catalogue", "unsteered", "more", "no"}}, "mean": {...}}``;
        ``more`` should rise far above ``unsteered`` and ``no`` fall to near 0.
    """
    head.eval()
    base_top = (users @ table.T).topk(k, dim=1).indices.numpy()  # [U, k]
    strength = torch.ones(len(users), 1)
    per_tag: dict[str, dict[str, float]] = {}
    for col, name in enumerate(tag_names):
        carries = item_tags[:, col].astype(bool)
        row = {"catalogue": float(carries.mean()), "unsteered": float(carries[base_top].mean())}
        for label, negative in (("more", False), ("no", True)):
            first = prompts[(col, negative)].take(torch.zeros(len(users), dtype=torch.long))
            steered = head(users, first, strength).steered
            top = (steered @ table.T).topk(k, dim=1).indices.numpy()
            row[label] = float(carries[top].mean())
        per_tag[name] = {key: round(value, 4) for key, value in row.items()}
    fields = ("catalogue", "unsteered", "more", "no")
    mean = {f: round(float(np.mean([r[f] for r in per_tag.values()])), 4) for f in fields}
    return {"k": k, "users": len(users), "per_tag": per_tag, "mean": mean}
