"""The index's points from an export's item table."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from dpr_plugin.errors import DataFormatError
from dpr_plugin.serving.index.base import CATALOGUE_FIELDS, Match, Range, SearchFilter
from dpr_plugin.serving.index.catalogue import catalogue_items, title_year

META = {
    "item_ids": ["10", "20", "30"],
    "titles": ["Heat (1995)", "No Year", "Alien (1979) "],
    "tags": [["Action", "Crime"], [], ["Sci-Fi"]],
}


def write_table(
    root: Path, table: np.ndarray | None = None, meta: dict | str | None = None
) -> Path:
    """Writes ``seq_backbone/1/items.npy`` (3 x 4 by default) and ``items.json``."""
    folder = root / "seq_backbone" / "1"
    folder.mkdir(parents=True, exist_ok=True)
    if table is None:
        table = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(folder / "items.npy", table)
    text = meta if isinstance(meta, str) else json.dumps(META if meta is None else meta)
    (folder / "items.json").write_text(text)
    return root


def test_points_follow_internal_ids_and_carry_payloads(tmp_path: Path) -> None:
    items, dim = catalogue_items(write_table(tmp_path))
    assert dim == 4 and [i.item_id for i in items] == [1, 2, 3]
    np.testing.assert_array_equal(items[0].vector, [0, 1, 2, 3])
    np.testing.assert_array_equal(items[2].vector, [8, 9, 10, 11])
    assert all(i.vector.dtype == np.float32 for i in items)
    assert items[0].payload == {
        "item_id": "10",
        "title": "Heat (1995)",
        "tags": ["Action", "Crime"],
        "year": 1995,
    }
    assert items[1].payload == {"item_id": "20", "title": "No Year", "tags": []}
    assert items[2].payload["year"] == 1979


def test_year_parsing() -> None:
    assert title_year("Toy Story (1995)") == 1995
    assert title_year("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == 1995
    assert title_year("1984 (1984)") == 1984
    assert title_year("Babylon 5") is None
    assert title_year("Untitled") is None
    assert title_year("Heat (1995) extended") is None


def test_the_catalogue_builds_a_filterable_index(tmp_path: Path) -> None:
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, EdgeItemIndex

    table = np.eye(3, 4, dtype=np.float32)
    items, dim = catalogue_items(write_table(tmp_path / "repo", table))
    root = tmp_path / "index"
    asyncio.run(EdgeIndexBuilder(root).build(items, dim, CATALOGUE_FIELDS))
    index = EdgeItemIndex(root)
    q = np.ones((1, dim), np.float32)
    where = SearchFilter(must=(Range("year", lte=1990),), must_not=(Match("tags", ("Crime",)),))
    (hits,) = asyncio.run(index.search(q, 5, where, payload_fields=("item_id", "year")))
    assert [(h.item_id, h.payload) for h in hits] == [(3, {"item_id": "30", "year": 1979})]
    asyncio.run(index.close())


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"seq_backbone/1/items\.npy: missing"):
        catalogue_items(tmp_path)
    write_table(tmp_path)
    (tmp_path / "seq_backbone" / "1" / "items.json").unlink()
    with pytest.raises(DataFormatError, match=r"items\.json: missing"):
        catalogue_items(tmp_path)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (np.zeros(4, np.float32), r"items\.npy: expected \[N, D\], got \[4\]"),
        (np.zeros((3, 4), np.int64), r"items\.npy: expected float embeddings, got int64"),
        (np.array([["a"] * 4] * 3, dtype=object), r"items\.npy: not a numpy array"),
    ],
)
def test_malformed_tables_name_the_file(tmp_path: Path, table: np.ndarray, message: str) -> None:
    folder = write_table(tmp_path) / "seq_backbone" / "1"
    np.save(folder / "items.npy", table, allow_pickle=True)
    with pytest.raises(DataFormatError, match=message):
        catalogue_items(tmp_path)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ("{not json", r"items\.json:1: invalid JSON"),
        ("[]", r"items\.json: expected an object"),
        ({**META, "item_ids": ["10", "20"]}, r"item_ids: expected a list of 3 .*got 2 entries"),
        ({**META, "titles": ["a", "b", "c", "d"]}, r"titles: expected a list of 3"),
        ({k: v for k, v in META.items() if k != "tags"}, r"tags: expected a list of 3 .*NoneType"),
        ({**META, "item_ids": ["10", "20", "10"]}, r"item_ids\[2\]: duplicate '10' \(first at 0\)"),
        ({**META, "item_ids": ["10", "", "30"]}, r"item_ids\[1\]: expected a non-empty id"),
        ({**META, "titles": ["a", None, "c"]}, r"titles\[1\]: expected a string"),
        ({**META, "tags": [["a"], "Drama", []]}, r"tags\[1\]: expected a list of strings"),
    ],
)
def test_malformed_metadata_names_the_file_and_entry(
    tmp_path: Path, meta: dict | str, message: str
) -> None:
    write_table(tmp_path, meta=meta)
    with pytest.raises(DataFormatError, match=message) as caught:
        catalogue_items(tmp_path)
    assert "items.json" in str(caught.value)


def test_a_table_with_the_padding_row_is_refused(tmp_path: Path) -> None:
    """The exporter drops row 0 (padding); a table that still has it disagrees in length."""
    write_table(tmp_path, np.zeros((4, 4), np.float32))
    with pytest.raises(DataFormatError, match="item_ids: expected a list of 4 entries"):
        catalogue_items(tmp_path)
