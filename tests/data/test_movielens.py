"""Tests of the MovieLens presets: official ML-1M .dat, the reconstruction TSV, CSV releases
(mapping files read by the generic loader)."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def _ml1m(tmp_path: Path, ratings: str, movies: str = MOVIES_DAT) -> str:
    _write(tmp_path, "movies.dat", movies, "latin-1")
    _write(tmp_path, "ratings.dat", ratings)
    return f"ml-1m:{tmp_path}"


def test_ml1m_orders_by_timestamp_when_file_is_unordered(tmp_path: Path) -> None:
    ds = load_dataset(_ml1m(tmp_path, "1::3::4::300\n1::1::5::100\n2::2::3::50\n1::2::1::100\n"))
    assert ds.name == "ml-1m"
    assert ds.user_ids == ["1", "2"]
    # user 1: t=100 (movie 1), t=100 (movie 2, file order kept for ties), t=300 (movie 3)
    assert [ds.item_ids[i - 1] for i in ds.sequences[0]] == ["1", "2", "3"]
    assert ds.item_tags[0] == ("Animation", "Children's", "Comedy")
    assert ds.num_interactions == 4


def test_ml1m_reads_latin1_titles_and_the_year_field(tmp_path: Path) -> None:
    ds = load_dataset(_ml1m(tmp_path, "1::1::5::1\n", "1::Misérables, Les (1995)::Drama\n"))
    assert ds.item_titles == ["Misérables, Les (1995)"]
    assert ds.item_fields["year"].kind == "integer"
    assert ds.item_fields["year"].values == (1995,)


@pytest.mark.parametrize(
    ("ratings_text", "message"),
    [
        ("1::1::5::100\n1::2::5\n", "ratings.dat:2: expected 4 cells, found 3"),
        ("1::1::5::soon\n", "ratings.dat:1: column 'Timestamp' is neither a number nor ISO"),
        ("1::1::five::100\n", "ratings.dat:1: column 'Rating' is not a number"),
        ("1::9::5::100\n", "ratings.dat:1: column 'MovieID': item '9' is not in movies.dat"),
        ("", "ratings.dat: no events found"),
    ],
)
def test_ml1m_names_file_and_line_when_ratings_malformed(
    tmp_path: Path, ratings_text: str, message: str
) -> None:
    with pytest.raises(DataFormatError, match=message):
        load_dataset(_ml1m(tmp_path, ratings_text))


def test_ml1m_names_file_when_missing(tmp_path: Path) -> None:
    _write(tmp_path, "movies.dat", MOVIES_DAT, "latin-1")
    with pytest.raises(DataFormatError, match=r"ratings.dat: file not found"):
        load_dataset(f"ml-1m:{tmp_path}")


def test_ml1m_names_line_when_movies_malformed(tmp_path: Path) -> None:
    spec = _ml1m(tmp_path, "1::1::5::1\n", "1::Toy Story::Comedy\n2::Broken\n")
    with pytest.raises(DataFormatError, match=r"movies.dat:2: expected 3 cells"):
        load_dataset(spec)


def test_reconstruction_keeps_file_order_with_empty_cells(tmp_path: Path) -> None:
    _write(tmp_path, "movies.dat", MOVIES_DAT, "latin-1")
    _write(
        tmp_path,
        "interactions.tsv",
        "User_id\tmovie_id\trating\ttimestamp\n1\t3\t\t\n1\t1\t4\t500\n2\t2\t5\t10\n",
    )
    ds = load_dataset(f"ml-1m-tsv:{tmp_path}")
    assert [ds.item_ids[i - 1] for i in ds.sequences[0]] == ["3", "1"]
    assert ds.num_users == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user\tmovie\trating\ttimestamp\n", "interactions.tsv:1: column 'user_id' not found"),
        (
            "user_id\tmovie_id\trating\ttimestamp\n1\t1\tgood\t5\n",
            "interactions.tsv:2: column 'rating' is not a number",
        ),
        (
            "user_id\tmovie_id\trating\ttimestamp\n1\t1\t4\n",
            "interactions.tsv:2: expected 4 cells",
        ),
    ],
)
def test_reconstruction_names_file_and_line_when_malformed(
    tmp_path: Path, text: str, message: str
) -> None:
    _write(tmp_path, "movies.dat", MOVIES_DAT, "latin-1")
    _write(tmp_path, "interactions.tsv", text)
    with pytest.raises(DataFormatError, match=message):
        load_dataset(f"ml-1m-tsv:{tmp_path}")


def test_movielens_csv_parses_quoted_titles(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "movies.csv",
        'movieId,title,genres\n1,"American President, The (1995)",Comedy|Drama\n'
        "2,Heat,(no genres listed)\n",
    )
    _write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,20\n1,1,4.0,10\n")
    ds = load_dataset(f"movielens-csv:{tmp_path}")
    assert ds.name == tmp_path.name
    assert ds.item_titles == ["American President, The (1995)", "Heat"]
    assert ds.item_tags == [("Comedy", "Drama"), ()]
    assert ds.item_fields["year"].values == (1995, None)
    assert list(ds.sequences[0]) == [1, 2]


def test_movielens_csv_names_file_and_line_when_field_bad(tmp_path: Path) -> None:
    _write(tmp_path, "movies.csv", "movieId,title,genres\n1,A,Comedy\n")
    _write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,10\n1,1,four,11\n")
    with pytest.raises(DataFormatError, match=r"ratings.csv:3: column 'rating' is not a number"):
        load_dataset(f"movielens-csv:{tmp_path}")


def test_movielens_csv_names_the_missing_column(tmp_path: Path) -> None:
    _write(tmp_path, "movies.csv", "id,title,genres\n1,A,Comedy\n")
    _write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,10\n")
    with pytest.raises(
        DataFormatError, match=r"movies.csv:1: column 'movieId' not found \(columns: id, title"
    ):
        load_dataset(f"movielens-csv:{tmp_path}")


def test_load_dataset_bundled_matches_release_summary() -> None:
    ds = load_dataset("bundled")
    stats = ds.stats()
    assert (stats["users"], stats["items"], stats["interactions"]) == (671, 9066, 100004)
    assert "Comedy" in ds.tag_names
    assert ds.name == "ml-latest-small"
    assert sum(v is not None for v in ds.item_fields["year"].values) == 9061


def test_load_dataset_names_field_when_spec_unknown() -> None:
    with pytest.raises(ConfigError, match="dataset: expected 'bundled' or FORMAT:PATH"):
        load_dataset("parquet:/tmp/x")
