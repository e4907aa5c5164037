"""Shared fixtures: small synthetic datasets with a learnable sequential pattern."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.split import LeaveOneOutSplit, leave_one_out

TAGS = ("Action", "Comedy", "Drama", "Horror")


def make_sequential_dataset(
    num_users: int = 120, num_items: int = 40, length: int = 30, seed: int = 0
) -> SequenceDataset:
    """Users walk the catalogue in steps of +1 (mod N) with a few random jumps.

    The next item is predictable from the last one, while every item is about equally
    popular, so a sequential model must beat a popularity ranking by a wide margin.
    """
    rng = np.random.default_rng(seed)
    pairs = []
    for u in range(num_users):
        item = int(rng.integers(num_items))
        for _ in range(length):
            pairs.append((str(u + 1), str(item + 1)))
            item = (item + 1) % num_items if rng.random() > 0.1 else int(rng.integers(num_items))
    items = {
        str(i + 1): ItemMeta(title=f"Item {i + 1}", tags=(TAGS[i % len(TAGS)],))
        for i in range(num_items)
    }
    return SequenceDataset.from_interactions("synthetic", pairs, items, "synthetic walk")


@pytest.fixture(scope="session")
def sequential_split() -> LeaveOneOutSplit:
    """Leave-one-out split of the synthetic walk dataset."""
    return leave_one_out(make_sequential_dataset())
