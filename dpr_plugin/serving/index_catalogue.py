"""The points of the item index, read from an export's item table.

``seq_backbone/1/items.npy`` holds the item embeddings (row ``i - 1`` is internal id ``i``;
the padding id 0 has no row) and ``items.json`` the platform ids, titles and tags in the
same order. Each point's payload:
``item_id``, ``title``, ``tags`` and ``year`` (from a trailing "(1995)" in the title; absent
when the title has none).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from dpr_plugin.contract import SEQ_BACKBONE
from dpr_plugin.errors import DataFormatError
from dpr_plugin.serving.item_index import IndexedItem, PayloadValue

_YEAR = re.compile(r"\((\d{4})\)\s*$")


def title_year(title: str) -> int | None:
    """The year of a MovieLens-style title "Name (1995)", or ``None``."""
    match = _YEAR.search(title)
    return int(match.group(1)) if match else None


def catalogue_items(repository: Path) -> tuple[list[IndexedItem], int]:
    """Every item of the export as an IndexedItem, and the embedding width."""
    folder = Path(repository) / SEQ_BACKBONE.name / "1"
    table_path, meta_path = folder / "items.npy", folder / "items.json"
    for path in (table_path, meta_path):
        if not path.is_file():
            raise DataFormatError(path, None, "missing (run `python -m export` first)")
    try:
        table = np.load(table_path)
    except (OSError, ValueError) as exc:
        raise DataFormatError(table_path, None, f"not a numpy array: {exc}") from exc
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataFormatError(meta_path, exc.lineno, f"invalid JSON: {exc.msg}") from exc
    if table.ndim != 2:
        raise DataFormatError(table_path, None, f"expected [N, D], got {list(table.shape)}")
    for key in ("item_ids", "titles", "tags"):
        if not isinstance(meta.get(key), list) or len(meta[key]) != len(table):
            raise DataFormatError(
                meta_path, None, f"{key}: expected a list of {len(table)} entries (one per row)"
            )
    items = []
    for i, (item_id, title, tags) in enumerate(
        zip(meta["item_ids"], meta["titles"], meta["tags"], strict=True), start=1
    ):
        payload: dict[str, PayloadValue] = {
            "item_id": str(item_id),
            "title": str(title),
            "tags": [str(t) for t in tags],
        }
        year = title_year(str(title))
        if year is not None:
            payload["year"] = year
        items.append(IndexedItem(i, table[i - 1].astype(np.float32), payload))
    return items, int(table.shape[1])
