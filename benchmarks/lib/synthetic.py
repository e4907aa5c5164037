"""A tiny synthetic MovieLens-shaped dataset for the benchmarks' ``--smoke`` runs.

Users drift between genres: each keeps a current genre, picks mostly unseen movies of it and
now and then turns to another. So the steering case rules (docs/evaluation.md) find both kinds
of case (a target whose genre is rare in the recent window: "more X"; a window dominated by a
genre the target lacks: "no X"). Timestamps tie often (as about half of ML-1M's consecutive
ratings do) and a fifth of them are unknown in the reconstruction, so ``benchmarks.tie_order``
has ties to put in row order.

One call writes the three files the ML-1M loaders read, all describing the same ratings:

* ``ratings.dat`` (``ml-1m``): ``UserID::MovieID::Rating::Timestamp``, each user's rows in
  true order (the "row order" ``benchmarks.tie_order`` restores);
* ``interactions.tsv`` (``ml-1m-tsv``, the reconstruction): chronological, each run of tied
  timestamps shuffled, some timestamps and ratings left empty;
* ``movies.dat``: ``MovieID::Title (Year)::Genre|Genre``.

Nothing here reads ML-1M or the network; the same seed writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Thriller")
"""The tags: ML-1M genre names, with Comedy and Drama (``benchmarks.tag_embeddings_bundled``
reports those two by name)."""

FORMAT = "ml-1m-tsv"
"""The format the smoke runs read the folder with (the one the ML-1M benchmarks use)."""


def movie_genres(movie: int) -> tuple[str, ...]:
    """Genres of movie ``movie`` (1-based): one main genre, a second for every third movie."""
    main = GENRES[movie % len(GENRES)]
    if movie % 3:
        return (main,)
    return (main, GENRES[(movie + 2) % len(GENRES)])


def _user_sequence(
    rng: np.random.Generator, by_genre: dict[str, list[int]], length: int, switch: float
) -> list[int]:
    """``length`` distinct movies: mostly the current genre's, switching with ``switch``."""
    seen: set[int] = set()
    genre = GENRES[int(rng.integers(len(GENRES)))]
    out: list[int] = []
    every = [m for movies in by_genre.values() for m in movies]
    while len(out) < length:
        if rng.random() < switch:
            genre = GENRES[int(rng.integers(len(GENRES)))]
        pool = [m for m in by_genre[genre] if m not in seen] or [m for m in every if m not in seen]
        movie = int(pool[int(rng.integers(len(pool)))])
        seen.add(movie)
        out.append(movie)
    return out


def write_movielens(
    folder: Path,
    users: int = 120,
    movies: int = 60,
    length: tuple[int, int] = (25, 45),
    switch: float = 0.12,
    seed: int = 0,
) -> Path:
    """Writes ``ratings.dat``, ``interactions.tsv`` and ``movies.dat`` into ``folder``.

    Args:
        folder: Created if missing.
        users: Number of users (ids 1..users).
        movies: Number of movies (ids 1..movies); every user rates at most ``movies`` of them.
        length: Inclusive range of ratings per user.
        switch: Chance per rating that the user turns to another genre.
        seed: Seed of every random choice.

    Returns:
        ``folder``.
    """
    if length[1] > movies:
        raise ValueError(f"length: at most {movies} ratings per user (one per movie)")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    by_genre: dict[str, list[int]] = {g: [] for g in GENRES}
    lines = []
    for movie in range(1, movies + 1):
        genres = movie_genres(movie)
        for genre in genres:
            by_genre[genre].append(movie)
        lines.append(f"{movie}::Synthetic Movie {movie} ({1980 + movie % 30})::{'|'.join(genres)}")
    (folder / "movies.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")
    ratings, rows = [], ["user_id\tmovie_id\trating\ttimestamp"]
    for user in range(1, users + 1):
        sequence = _user_sequence(
            rng, by_genre, int(rng.integers(length[0], length[1] + 1)), switch
        )
        stamp = 978_300_000 + user * 10_000
        stamps = []
        for _ in sequence:
            stamp += 0 if rng.random() < 0.45 else int(rng.integers(1, 120))
            stamps.append(stamp)
        stars = rng.integers(1, 6, size=len(sequence))
        ratings += [
            f"{user}::{m}::{r}::{t}" for m, r, t in zip(sequence, stars, stamps, strict=True)
        ]
        # The reconstruction: chronological, ties in arbitrary order, some fields unknown.
        order = sorted(range(len(sequence)), key=lambda i: (stamps[i], rng.random()))
        for i in order:
            known = rng.random() > 0.2
            rating, when = (str(stars[i]), str(stamps[i])) if known else ("", "")
            rows.append(f"{user}\t{sequence[i]}\t{rating}\t{when}")
    (folder / "ratings.dat").write_text("\n".join(ratings) + "\n", encoding="latin-1")
    (folder / "interactions.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder
