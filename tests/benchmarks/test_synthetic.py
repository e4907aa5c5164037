"""The smoke runs' synthetic dataset: deterministic, one dataset in both ML-1M formats, and
both kinds of steering case present."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.lib.synthetic import GENRES, write_movielens
from dpr_plugin.data.sources import load_dataset, load_split
from dpr_plugin.evaluation.steering_cases import select_cases


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    first, second = write_movielens(tmp_path / "a"), write_movielens(tmp_path / "b")
    for name in ("ratings.dat", "interactions.tsv", "movies.dat"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_both_formats_read_the_same_ratings(tmp_path: Path) -> None:
    folder = write_movielens(tmp_path, users=30, movies=40, length=(10, 20))
    official, reconstruction = load_dataset(f"ml-1m:{folder}"), load_dataset(f"ml-1m-tsv:{folder}")
    assert len(official.user_ids) == len(reconstruction.user_ids) == 30
    assert sorted(official.tag_names) == sorted(GENRES)
    for a, b in zip(official.sequences, reconstruction.sequences, strict=True):
        assert sorted(a) == sorted(b)  # same ratings; only the order inside ties differs


def test_the_test_targets_make_positive_and_negative_cases(tmp_path: Path) -> None:
    split = load_split(f"ml-1m-tsv:{write_movielens(tmp_path)}")
    positive, negative = select_cases(
        split.history("test"), split.target("test"), split.dataset.tag_matrix()
    )
    assert len(positive) >= 10
    assert len(negative) >= 10


def test_a_user_cannot_rate_more_movies_than_there_are(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at most 10 ratings"):
        write_movielens(tmp_path, movies=10, length=(5, 11))
