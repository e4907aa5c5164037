"""Tests of k-core filtering and the leave-one-out split."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.split import kcore, leave_one_out


def _dataset(seqs: dict[str, list[str]]) -> SequenceDataset:
    items = {i: ItemMeta(f"t{i}", ("A",)) for s in seqs.values() for i in s}
    pairs = [(u, i) for u, s in seqs.items() for i in s]
    return SequenceDataset.from_interactions("toy", pairs, items, "toy")


def test_leave_one_out_holds_out_last_two_and_drops_short_users() -> None:
    ds = _dataset({"1": ["10", "11", "12", "13"], "2": ["10", "11"], "3": ["12", "11", "10"]})
    split = leave_one_out(ds)
    assert split.dataset.user_ids == ["1", "3"]
    assert [list(t) for t in split.train] == [[1, 2], [3]]
    assert list(split.valid_target) == [3, 2]
    assert list(split.test_target) == [4, 1]
    assert [list(h) for h in split.history("test")] == [[1, 2, 3], [3, 2]]
    assert "dropped 1 users" in split.dataset.stats()["preprocessing"]


def test_split_history_rejects_unknown_stage() -> None:
    split = leave_one_out(_dataset({"1": ["1", "2", "3"]}))
    with pytest.raises(ValueError, match="stage must be"):
        split.history("train")


def test_kcore_iterates_until_stable_and_renumbers() -> None:
    # item 30 appears once -> removed; then user 2 has 1 interaction < 2 -> removed
    ds = _dataset({"1": ["10", "20", "10"], "2": ["30", "20"], "3": ["10", "20"]})
    out = kcore(ds, min_user=2, min_item=2)
    assert out.user_ids == ["1", "3"]
    assert out.item_ids == ["10", "20"]
    assert [list(s) for s in out.sequences] == [[1, 2, 1], [1, 2]]
    counts = np.bincount(np.concatenate(out.sequences))
    assert counts[1:].min() >= 2
    assert "2-core users, 2-core items" in out.stats()["preprocessing"]
