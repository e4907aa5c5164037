"""The points of the item index, read from an export's item table.

``seq_backbone/1/items.npy`` holds the item embeddings, float [N, D]: row ``i - 1`` is internal
id ``i``. The exporter drops the padding row (id 0) before saving, so the padding id has no
row and is never indexed. ``items.json`` holds the platform ids, titles and tags in the same
order: ``{"item_ids": [...], "titles": [...], "tags": [[...], ...]}`` (and, from newer
checkpoints, ``"interactions"``: per item, its interactions in the training data, and
``"fields"``: the catalogue's declared fields, ``dpr_plugin/data/item_fields.py``).

Each point's payload: ``item_id`` (the platform id, a string), ``title``, ``tags`` (a list of
strings) and every declared field the item has a value for. ``item_id``, ``tags`` and the
declared keyword, integer and float fields get payload indexes; text fields are only stored.
An export written before fields existed (no ``"fields"`` key) gets the one field it had then:
``year``, from a trailing "(1995)" in the title.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dpr_plugin.contract import SEQ_BACKBONE
from dpr_plugin.data.item_fields import ItemField, fields_from_json, indexed_kinds
from dpr_plugin.errors import DataFormatError
from dpr_plugin.serving.index.base import BASE_FIELDS, FieldKind, IndexedItem, PayloadValue

ITEM_TABLE = "items.npy"
ITEM_META = "items.json"
_YEAR = re.compile(r"\((\d{4})\)\s*$")


def title_year(title: str) -> int | None:
    """The year of a MovieLens-style title "Name (1995)", or ``None``."""
    match = _YEAR.search(title)
    return int(match.group(1)) if match else None


def _load_table(path: Path) -> np.ndarray:
    """The table, memory-mapped."""
    try:
        table = np.load(path, mmap_mode="r")  # allow_pickle=False: an object array is refused
    except (OSError, ValueError) as exc:
        raise DataFormatError(path, None, f"not a numpy array: {exc}") from exc
    if table.ndim != 2 or table.shape[1] < 1:
        raise DataFormatError(path, None, f"expected [N, D], got {list(table.shape)}")
    if not np.issubdtype(table.dtype, np.floating):
        raise DataFormatError(path, None, f"expected float embeddings, got {table.dtype}")
    return table


def export_fields(meta: dict[str, object], rows: int, where: Path) -> dict[str, ItemField]:
    """The declared fields of an export's ``items.json`` (already parsed); for an export
    without them, ``year`` from the titles."""
    if "fields" not in meta:
        titles = meta.get("titles")
        years = tuple(title_year(t) for t in titles) if isinstance(titles, list) else ()
        if any(y is not None for y in years):
            return {"year": ItemField("integer", years)}
        return {}
    try:
        return fields_from_json(meta["fields"], rows)
    except ValueError as exc:
        raise DataFormatError(where, None, str(exc)) from None


def _load_meta(path: Path, rows: int) -> dict[str, list]:
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, exc.lineno, f"invalid JSON: {exc.msg}") from exc
    if not isinstance(meta, dict):
        raise DataFormatError(path, None, "expected an object with item_ids, titles, tags")
    for key in ("item_ids", "titles", "tags"):
        value = meta.get(key)
        if not isinstance(value, list) or len(value) != rows:
            got = f"{len(value)} entries" if isinstance(value, list) else type(value).__name__
            raise DataFormatError(
                path, None, f"{key}: expected a list of {rows} entries (one per row), got {got}"
            )
    seen: dict[str, int] = {}
    for i, item_id in enumerate(meta["item_ids"]):
        if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id) == "":
            raise DataFormatError(path, None, f"item_ids[{i}]: expected a non-empty id string")
        if str(item_id) in seen:
            raise DataFormatError(
                path, None, f"item_ids[{i}]: duplicate {item_id!r} (first at {seen[str(item_id)]})"
            )
        seen[str(item_id)] = i
    for i, title in enumerate(meta["titles"]):
        if not isinstance(title, str):
            raise DataFormatError(path, None, f"titles[{i}]: expected a string")
    for i, tags in enumerate(meta["tags"]):
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise DataFormatError(path, None, f"tags[{i}]: expected a list of strings")
    return meta


def catalogue_items(repository: Path) -> tuple[list[IndexedItem], int]:
    """Every item of the export as an IndexedItem (a list), and the embedding width; see
    ``stream_catalogue``."""
    catalogue = stream_catalogue(repository)
    return list(catalogue.items), catalogue.dim


@dataclass(frozen=True)
class ExportedCatalogue:
    """An export's items as index points.

    Attributes:
        items: The points (internal ids 1..N in table order), one at a time.
        dim: D, the embedding width.
        count: N.
        fields: The payload fields to index and their kinds (``item_id``, ``tags`` and the
            declared fields that are not text).
    """

    items: Iterator[IndexedItem]
    dim: int
    count: int
    fields: dict[str, FieldKind]


def stream_catalogue(repository: Path) -> ExportedCatalogue:
    """The export's items one at a time, with what a build needs to know about them.

    The item table is memory-mapped and each point's vector is a view of it, so a build holds
    no second copy of the table (10⁶ x 64 floats is 256 MB).

    Args:
        repository: The exported model repository (holding ``seq_backbone/1``).

    Raises:
        DataFormatError: naming the file that is missing or malformed, or whose length
            disagrees with the other's.
    """
    folder = Path(repository) / SEQ_BACKBONE.name / "1"
    table_path, meta_path = folder / ITEM_TABLE, folder / ITEM_META
    for path in (table_path, meta_path):
        if not path.is_file():
            raise DataFormatError(path, None, "missing (run `dpr export` first)")
    table = _load_table(table_path)
    meta = _load_meta(meta_path, len(table))
    fields = export_fields(meta, len(table), meta_path)

    def items() -> Iterator[IndexedItem]:
        for i, (item_id, title, tags) in enumerate(
            zip(meta["item_ids"], meta["titles"], meta["tags"], strict=True), start=1
        ):
            payload: dict[str, PayloadValue] = {
                "item_id": str(item_id),
                "title": title,
                "tags": list(tags),
            }
            for name, values in fields.items():
                value = values.values[i - 1]
                if value is not None:
                    payload[name] = value
            yield IndexedItem(i, table[i - 1], payload)

    return ExportedCatalogue(
        items(), int(table.shape[1]), len(table), {**BASE_FIELDS, **indexed_kinds(fields)}
    )
