"""Preprocessing (k-core filtering) and the chronological leave-one-out split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpr_plugin.data.dataset import SequenceDataset


def kcore(dataset: SequenceDataset, min_user: int, min_item: int) -> SequenceDataset:
    """Repeatedly drops users with fewer than ``min_user`` and items with fewer than ``min_item``
    interactions until both hold. Item ids are renumbered densely; the step is recorded.
    """
    seqs = [s.copy() for s in dataset.sequences]
    keep_users = list(range(dataset.num_users))
    while True:
        counts = np.bincount(
            np.concatenate([seqs[u] for u in keep_users]) if keep_users else np.zeros(0, np.int64),
            minlength=dataset.num_items + 1,
        )
        ok_item = counts >= min_item
        ok_item[0] = False
        changed = False
        for u in keep_users:
            filtered = seqs[u][ok_item[seqs[u]]]
            changed |= len(filtered) != len(seqs[u])
            seqs[u] = filtered
        still = [u for u in keep_users if len(seqs[u]) >= min_user]
        changed |= len(still) != len(keep_users)
        keep_users = still
        if not changed:
            break
    used = np.zeros(dataset.num_items + 1, dtype=bool)
    for u in keep_users:
        used[seqs[u]] = True
    old_ids = np.flatnonzero(used)  # ascending, excludes 0
    remap = np.zeros(dataset.num_items + 1, dtype=np.int64)
    remap[old_ids] = np.arange(1, len(old_ids) + 1)
    return SequenceDataset(
        name=dataset.name,
        item_ids=[dataset.item_ids[i - 1] for i in old_ids],
        item_titles=[dataset.item_titles[i - 1] for i in old_ids],
        item_tags=[dataset.item_tags[i - 1] for i in old_ids],
        user_ids=[dataset.user_ids[u] for u in keep_users],
        sequences=[remap[seqs[u]] for u in keep_users],
        preprocessing=[*dataset.preprocessing, f"{min_user}-core users, {min_item}-core items"],
        item_fields={
            name: f.take([int(i) - 1 for i in old_ids]) for name, f in dataset.item_fields.items()
        },
    )


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """Chronological leave-one-out: last item = test, second last = validation, rest = train.

    Attributes:
        dataset: The dataset the split was taken from (users with < 3 interactions removed).
        train: Per user, every item but the last two.
        valid_target: Per user, the second-last item.
        test_target: Per user, the last item.
    """

    dataset: SequenceDataset
    train: list[np.ndarray]
    valid_target: np.ndarray
    test_target: np.ndarray

    def history(self, stage: str) -> list[np.ndarray]:
        """History that precedes each user's target at ``stage`` (``valid`` or ``test``)."""
        if stage == "valid":
            return self.train
        if stage == "test":
            return [s[:-1] for s in self.dataset.sequences]
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")

    def target(self, stage: str) -> np.ndarray:
        """Each user's held-out item at ``stage`` (``valid`` or ``test``)."""
        return self.valid_target if stage == "valid" else self.test_target


def leave_one_out(dataset: SequenceDataset) -> LeaveOneOutSplit:
    """Splits every user's sequence; users with fewer than 3 interactions are dropped (recorded)."""
    keep = [u for u, s in enumerate(dataset.sequences) if len(s) >= 3]
    dropped = dataset.num_users - len(keep)
    ds = dataset.subset_users(
        keep, f"leave-one-out split (dropped {dropped} users with < 3 interactions)"
    )
    return LeaveOneOutSplit(
        dataset=ds,
        train=[s[:-2] for s in ds.sequences],
        valid_target=np.array([s[-2] for s in ds.sequences], dtype=np.int64),
        test_target=np.array([s[-1] for s in ds.sequences], dtype=np.int64),
    )
