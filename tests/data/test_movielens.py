"""Tests of the MovieLens loaders: official ML-1M .dat, the reconstruction TSV, CSV releases."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpr_plugin.data.movielens import load_ml1m, load_ml1m_reconstruction, load_movielens_csv
from dpr_plugin.data.sources import load_dataset
from dpr_plugin.errors import ConfigError, DataFormatError

MOVIES_DAT = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Jumanji (1995)::Adventure\n"
    "3::Heat (1995)::Action|Crime\n"
)


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_load_ml1m_orders_by_timestamp_when_file_is_unordered(tmp_path: Path) -> None:
    movies = _write(tmp_path, "movies.dat", MOVIES_DAT, "latin-1")
    ratings = _write(
        tmp_path, "ratings.dat", "1::3::4::300\n1::1::5::100\n2::2::3::50\n1::2::1::100\n"
    )
    ds = load_ml1m(ratings, movies)
    assert ds.user_ids == ["1", "2"]
    # user 1: t=100 (movie 1), t=100 (movie 2, file order kept for ties), t=300 (movie 3)
    assert [ds.item_ids[i - 1] for i in ds.sequences[0]] == ["1", "2", "3"]
    assert ds.item_tags[0] == ("Animation", "Children's", "Comedy")
    assert ds.num_interactions == 4


def test_load_ml1m_reads_latin1_titles(tmp_path: Path) -> None:
    movies = _write(tmp_path, "movies.dat", "1::Misérables, Les (1995)::Drama\n", "latin-1")
    ratings = _write(tmp_path, "ratings.dat", "1::1::5::1\n")
    assert load_ml1m(ratings, movies).item_titles == ["Misérables, Les (1995)"]


@pytest.mark.parametrize(
    ("ratings_text", "message"),
    [
        ("1::1::5::100\n1::2::5\n", "ratings.dat:2: expected 4 fields"),
        ("1::1::5::100\nx::2::5::1\n", "ratings.dat:2: field 'UserID' is not an integer"),
        ("1::1::5::soon\n", "ratings.dat:1: field 'Timestamp' is not an integer"),
        ("1::9::5::100\n", "ratings.dat:1: movie id 9 does not appear in movies.dat"),
        ("", "ratings.dat: no ratings found"),
    ],
)
def test_load_ml1m_names_file_and_line_when_ratings_malformed(
    tmp_path: Path, ratings_text: str, message: str
) -> None:
    movies = _write(tmp_path, "movies.dat", MOVIES_DAT, "latin-1")
    ratings = _write(tmp_path, "ratings.dat", ratings_text)
    with pytest.raises(DataFormatError, match=message):
        load_ml1m(ratings, movies)


def test_load_ml1m_names_file_when_missing(tmp_path: Path) -> None:
    movies = _write(tmp_path, "movies.dat", MOVIES_DAT, "latin-1")
    with pytest.raises(DataFormatError, match=r"ratings.dat: file not found"):
        load_ml1m(tmp_path / "ratings.dat", movies)


def test_load_ml1m_names_line_when_movies_malformed(tmp_path: Path) -> None:
    movies = _write(tmp_path, "movies.dat", "1::Toy Story::Comedy\n2::Broken\n", "latin-1")
    ratings = _write(tmp_path, "ratings.dat", "1::1::5::1\n")
    with pytest.raises(DataFormatError, match=r"movies.dat:2: expected 3 fields"):
        load_ml1m(ratings, movies)


def test_load_reconstruction_keeps_file_order_with_empty_cells(tmp_path: Path) -> None:
    movies = _write(tmp_path, "movies.dat", MOVIES_DAT, "latin-1")
    tsv = _write(
        tmp_path,
        "interactions.tsv",
        "user_id\tmovie_id\trating\ttimestamp\n1\t3\t\t\n1\t1\t4\t500\n2\t2\t5\t10\n",
    )
    ds = load_ml1m_reconstruction(tsv, movies)
    assert [ds.item_ids[i - 1] for i in ds.sequences[0]] == ["3", "1"]
    assert ds.num_users == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user\tmovie\trating\ttimestamp\n", "interactions.tsv:1: expected header"),
        (
            "user_id\tmovie_id\trating\ttimestamp\n1\t1\tgood\t5\n",
            "interactions.tsv:2: field 'rating'",
        ),
        (
            "user_id\tmovie_id\trating\ttimestamp\n1\t1\t4\n",
            "interactions.tsv:2: expected 4 fields",
        ),
    ],
)
def test_load_reconstruction_names_file_and_line_when_malformed(
    tmp_path: Path, text: str, message: str
) -> None:
    movies = _write(tmp_path, "movies.dat", MOVIES_DAT, "latin-1")
    with pytest.raises(DataFormatError, match=message):
        load_ml1m_reconstruction(_write(tmp_path, "interactions.tsv", text), movies)


def test_load_movielens_csv_parses_quoted_titles(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "movies.csv",
        'movieId,title,genres\n1,"American President, The (1995)",Comedy|Drama\n'
        "2,Heat (1995),(no genres listed)\n",
    )
    _write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,20\n1,1,4.0,10\n")
    ds = load_movielens_csv(tmp_path)
    assert ds.item_titles == ["American President, The (1995)", "Heat (1995)"]
    assert ds.item_tags == [("Comedy", "Drama"), ()]
    assert list(ds.sequences[0]) == [1, 2]


def test_load_movielens_csv_names_file_and_line_when_field_bad(tmp_path: Path) -> None:
    _write(tmp_path, "movies.csv", "movieId,title,genres\n1,A,Comedy\n")
    _write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,10\n1,1,four,11\n")
    with pytest.raises(DataFormatError, match=r"ratings.csv:3: field 'rating' is not a number"):
        load_movielens_csv(tmp_path)


def test_load_movielens_csv_names_header_when_wrong(tmp_path: Path) -> None:
    _write(tmp_path, "movies.csv", "id,title,genres\n1,A,Comedy\n")
    with pytest.raises(
        DataFormatError, match=r"movies.csv:1: expected header movieId,title,genres"
    ):
        load_movielens_csv(tmp_path)


def test_load_dataset_bundled_matches_release_summary() -> None:
    ds = load_dataset("bundled")
    stats = ds.stats()
    assert (stats["users"], stats["items"], stats["interactions"]) == (671, 9066, 100004)
    assert "Comedy" in ds.tag_names


def test_load_dataset_names_field_when_spec_unknown() -> None:
    with pytest.raises(ConfigError, match="dataset: expected 'bundled' or FORMAT:DIR"):
        load_dataset("parquet:/tmp/x")
