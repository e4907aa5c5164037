"""Dataset specifications as users write them (``mapping:FILE``, ``ml-1m:DIR``...) → loader.

A platform's own data is described by a mapping file (``mapping.py``). The MovieLens formats
are presets: mapping files shipped in ``dpr_plugin/data/presets``, read against the folder
given. MIND keeps a reader of its own: its events are impression logs, not one row per event.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.mapped import load_mapped, read_items
from dpr_plugin.data.mapping import CatalogueMapping, read_mapping
from dpr_plugin.data.mind import load_mind
from dpr_plugin.data.split import LeaveOneOutSplit, kcore, leave_one_out
from dpr_plugin.errors import ConfigError

BUNDLED = "bundled"
"""The dataset shipped inside the package: MovieLens ml-latest-small (its licence beside it)."""

PRESETS = ("ml-1m", "ml-1m-tsv", "movielens-csv")
FORMATS = ("bundled", "mapping", *PRESETS, "mind")


def bundled_path() -> Path:
    """Folder of the bundled ml-latest-small files."""
    return Path(str(resources.files("dpr_plugin.data") / "bundled" / "ml-latest-small"))


def preset(kind: str, folder: Path) -> CatalogueMapping:
    """The mapping of a preset format read against ``folder``."""
    path = Path(str(resources.files("dpr_plugin.data") / "presets" / f"{kind}.toml"))
    mapping = read_mapping(path, Path(folder))
    mapping = dataclasses.replace(mapping, source=f"the {kind} preset")
    if kind == "movielens-csv":  # a CSV release is named after its folder
        mapping = dataclasses.replace(mapping, name=Path(folder).name)
    return mapping


def _mapping_of(spec: str, setting: str = "dataset") -> CatalogueMapping | None:
    """The mapping a ``bundled``, ``mapping:FILE`` or preset spec names; ``None`` for
    ``mind:DIR``; a ConfigError starting with ``setting`` for anything else."""
    kind, _, location = spec.partition(":")
    if kind == BUNDLED and not location:
        return preset("movielens-csv", bundled_path())
    if kind not in FORMATS or not location:
        raise ConfigError(
            f"{setting}: expected 'bundled' or FORMAT:PATH with FORMAT in "
            f"{', '.join(FORMATS[1:])}; got {spec!r}"
        )
    if kind == "mapping":
        return read_mapping(Path(location))
    if kind in PRESETS:
        return preset(kind, Path(location))
    return None


def load_dataset(spec: str) -> SequenceDataset:
    """Loads a dataset from ``FORMAT:PATH`` (or ``bundled``).

    Formats:
        ``bundled``: the shipped ml-latest-small.
        ``mapping:FILE``: the tables a mapping file describes (``mapping.py``).
        ``ml-1m:DIR``: official ``ratings.dat`` + ``movies.dat`` in DIR.
        ``ml-1m-tsv:DIR``: the reconstruction ``interactions.tsv`` + ``movies.dat`` in DIR.
        ``movielens-csv:DIR``: ``ratings.csv`` + ``movies.csv`` in DIR.
        ``mind:DIR``: ``behaviors.tsv`` + ``news.tsv`` in DIR.
    """
    mapping = _mapping_of(spec)
    if mapping is not None:
        return load_mapped(mapping)
    folder = Path(spec.partition(":")[2])
    return load_mind(folder / "behaviors.tsv", folder / "news.tsv")


def load_items(spec: str) -> dict[str, ItemMeta]:
    """Every item of a dataset's items table, with interactions or not (``bundled``,
    ``mapping:FILE`` and the presets), by its id."""
    mapping = _mapping_of(spec, "cold_items")
    if mapping is None:
        raise ConfigError(
            f"cold_items: expected 'bundled', mapping:FILE or one of {', '.join(PRESETS)}; "
            f"got {spec!r}"
        )
    return read_items(mapping.items)


def load_split(spec: str, min_user: int = 0, min_item: int = 0) -> LeaveOneOutSplit:
    """Loads ``spec``, applies k-core filtering when either minimum is > 0, splits leave-one-out."""
    dataset = load_dataset(spec)
    if min_user > 0 or min_item > 0:
        dataset = kcore(dataset, min_user, min_item)
    return leave_one_out(dataset)
