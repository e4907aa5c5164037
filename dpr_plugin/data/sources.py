"""Dataset specifications as users write them (``ml-1m:DIR``, ``movielens-csv:DIR``...) → loader."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from dpr_plugin.data.dataset import SequenceDataset
from dpr_plugin.data.mind import load_mind
from dpr_plugin.data.movielens import load_ml1m, load_ml1m_reconstruction, load_movielens_csv
from dpr_plugin.data.split import LeaveOneOutSplit, kcore, leave_one_out
from dpr_plugin.errors import ConfigError

BUNDLED = "bundled"
"""The dataset shipped inside the package: MovieLens ml-latest-small (its licence beside it)."""

FORMATS = ("bundled", "ml-1m", "ml-1m-tsv", "movielens-csv", "mind")


def bundled_path() -> Path:
    """Folder of the bundled ml-latest-small files."""
    return Path(str(resources.files("dpr_plugin.data") / "bundled" / "ml-latest-small"))


def load_dataset(spec: str) -> SequenceDataset:
    """Loads a dataset from ``FORMAT:PATH`` (or ``bundled``).

    Formats:
        ``bundled``: the shipped ml-latest-small.
        ``ml-1m:DIR``: official ``ratings.dat`` + ``movies.dat`` in DIR.
        ``ml-1m-tsv:DIR``: the reconstruction ``interactions.tsv`` + ``movies.dat`` in DIR.
        ``movielens-csv:DIR``: ``ratings.csv`` + ``movies.csv`` in DIR.
        ``mind:DIR``: ``behaviors.tsv`` + ``news.tsv`` in DIR.
    """
    kind, _, location = spec.partition(":")
    if kind == BUNDLED and not location:
        return load_movielens_csv(bundled_path(), "ml-latest-small")
    if kind not in FORMATS or not location:
        raise ConfigError(
            f"dataset: expected 'bundled' or FORMAT:DIR with FORMAT in {', '.join(FORMATS[1:])}; "
            f"got {spec!r}"
        )
    folder = Path(location)
    if kind == "ml-1m":
        return load_ml1m(folder / "ratings.dat", folder / "movies.dat")
    if kind == "ml-1m-tsv":
        return load_ml1m_reconstruction(folder / "interactions.tsv", folder / "movies.dat")
    if kind == "movielens-csv":
        return load_movielens_csv(folder, folder.name)
    return load_mind(folder / "behaviors.tsv", folder / "news.tsv")


def load_split(spec: str, min_user: int = 0, min_item: int = 0) -> LeaveOneOutSplit:
    """Loads ``spec``, applies k-core filtering when either minimum is > 0, splits leave-one-out."""
    dataset = load_dataset(spec)
    if min_user > 0 or min_item > 0:
        dataset = kcore(dataset, min_user, min_item)
    return leave_one_out(dataset)
