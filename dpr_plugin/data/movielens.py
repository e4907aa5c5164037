"""Loaders for MovieLens: official ML-1M ``.dat``, the ML-1M reconstruction TSV, CSV releases.

Tags are the genres. Sequences are chronological; interactions with equal timestamps keep
their file order (a stable sort, as SASRec's preprocessing does; pandas' default quicksort on
one column does not). About half of ML-1M's consecutive ratings share a timestamp, and
``ratings.dat`` lists each user's rows in a largely global movie order, so the tie order is
learnable: see ``benchmarks.lib.tie_order`` and ``benchmarks.tie_order``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.records import csv_rows, parse_float, parse_int, split_fields
from dpr_plugin.errors import DataFormatError

_NO_GENRE = "(no genres listed)"


def _genres(value: str) -> tuple[str, ...]:
    return tuple(g for g in value.split("|") if g and g != _NO_GENRE)


def read_movies_dat(path: Path) -> dict[str, ItemMeta]:
    """Reads ML-1M ``movies.dat`` (``MovieID::Title::Genres``, latin-1)."""
    movies: dict[str, ItemMeta] = {}
    for number, (movie, title, genres) in split_fields(path, "latin-1", "::", 3):
        parse_int(path, number, "MovieID", movie)
        movies[movie.strip()] = ItemMeta(title=title, tags=_genres(genres))
    if not movies:
        raise DataFormatError(path, None, "no movies found")
    return movies


def _check_known(
    path: Path, line: int, item: str, movies: dict[str, ItemMeta], source: Path
) -> None:
    if item not in movies:
        raise DataFormatError(path, line, f"movie id {item} does not appear in {source.name}")


def _chronological(
    path: Path,
    records: Iterator[tuple[int, list[str]]],
    names: tuple[str, str, str],
    meta: dict[str, ItemMeta],
    movies: Path,
) -> list[tuple[str, str]]:
    """Validates (user, movie, rating, timestamp) records and returns (user, movie) pairs
    sorted by user then timestamp; the sort is stable, so ties keep file order."""
    rows: list[tuple[int, int, str, str]] = []
    user_field, rating_field, time_field = names
    for number, (user, movie, rating, stamp) in records:
        parse_int(path, number, user_field, user)
        parse_float(path, number, rating_field, rating)
        ts = parse_int(path, number, time_field, stamp)
        _check_known(path, number, movie, meta, movies)
        rows.append((int(user), ts, user, movie))
    if not rows:
        raise DataFormatError(path, None, "no ratings found")
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(user, movie) for _, _, user, movie in rows]


def load_ml1m(ratings: Path, movies: Path) -> SequenceDataset:
    """Loads the official ML-1M ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``).

    Args:
        ratings: Path of ``ratings.dat`` supplied by the user (ML-1M may not be redistributed).
        movies: Path of ``movies.dat``.
    """
    meta = read_movies_dat(movies)
    records = split_fields(ratings, "latin-1", "::", 4)
    pairs = _chronological(ratings, records, ("UserID", "Rating", "Timestamp"), meta, movies)
    return SequenceDataset.from_interactions("ml-1m", pairs, meta, f"ML-1M ratings.dat ({ratings})")


def reconstruction_rows(interactions: Path) -> Iterator[tuple[int, list[str]]]:
    """Yields (line number, [user_id, movie_id, rating, timestamp]) of the reconstruction's
    ``interactions.tsv`` after its header, in file order, each field checked; rating and
    timestamp may be empty."""
    header = ("user_id", "movie_id", "rating", "timestamp")
    for number, fields in split_fields(interactions, "utf-8", "\t", 4):
        if number == 1:
            if tuple(f.strip().lower() for f in fields) != header:
                raise DataFormatError(interactions, 1, f"expected header {' '.join(header)}")
            continue
        user, _, rating, stamp = fields
        parse_int(interactions, number, "user_id", user)
        if rating:
            parse_float(interactions, number, "rating", rating)
        if stamp:
            parse_int(interactions, number, "timestamp", stamp)
        yield number, fields


def load_ml1m_reconstruction(interactions: Path, movies: Path) -> SequenceDataset:
    """Loads the team's ML-1M reconstruction ``interactions.tsv`` (already chronological per user).

    Columns ``user_id  movie_id  rating  timestamp``; rating and timestamp may be empty (the
    reconstruction does not know them for a third of the rows), so file order is kept as is.
    """
    meta = read_movies_dat(movies)
    pairs: list[tuple[str, str]] = []
    for number, (user, movie, _, _) in reconstruction_rows(interactions):
        _check_known(interactions, number, movie, meta, movies)
        pairs.append((user, movie))
    if not pairs:
        raise DataFormatError(interactions, None, "no interactions found")
    return SequenceDataset.from_interactions(
        "ml-1m", pairs, meta, f"ML-1M reconstruction interactions.tsv ({interactions}), file order"
    )


def load_movielens_csv(directory: Path, name: str = "ml-latest-small") -> SequenceDataset:
    """Loads a MovieLens CSV release (``ratings.csv`` and ``movies.csv``, UTF-8, quoted).

    Args:
        directory: Folder holding both files.
        name: Dataset name to record.
    """
    movies_path, ratings_path = directory / "movies.csv", directory / "ratings.csv"
    meta: dict[str, ItemMeta] = {}
    for number, (movie, title, genres) in csv_rows(movies_path, ("movieId", "title", "genres")):
        parse_int(movies_path, number, "movieId", movie)
        meta[movie] = ItemMeta(title=title, tags=_genres(genres))
    records = csv_rows(ratings_path, ("userId", "movieId", "rating", "timestamp"))
    names = ("userId", "rating", "timestamp")
    pairs = _chronological(ratings_path, records, names, meta, movies_path)
    return SequenceDataset.from_interactions(name, pairs, meta, f"MovieLens CSV ({directory})")
