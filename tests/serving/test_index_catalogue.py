"""The index's points from an export's item table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dpr_plugin.errors import DataFormatError
from dpr_plugin.serving.index_catalogue import catalogue_items, title_year


def write_table(root: Path, rows: int = 3, titles: list[str] | None = None) -> Path:
    folder = root / "seq_backbone" / "1"
    folder.mkdir(parents=True)
    np.save(folder / "items.npy", np.arange(rows * 4, dtype=np.float32).reshape(-1, 4))
    titles = titles or ["Heat (1995)", "No Year", "Alien (1979) "]
    meta = {"item_ids": ["10", "20", "30"], "titles": titles, "tags": [["Action"], [], ["Sci-Fi"]]}
    (folder / "items.json").write_text(json.dumps(meta))
    return root


def test_points_follow_internal_ids_and_carry_payloads(tmp_path: Path) -> None:
    items, dim = catalogue_items(write_table(tmp_path))
    assert dim == 4 and [i.item_id for i in items] == [1, 2, 3]
    np.testing.assert_array_equal(items[0].vector, [0, 1, 2, 3])
    assert items[0].payload == {
        "item_id": "10",
        "title": "Heat (1995)",
        "tags": ["Action"],
        "year": 1995,
    }
    assert "year" not in items[1].payload and items[2].payload["year"] == 1979


def test_year_parsing() -> None:
    assert title_year("Toy Story (1995)") == 1995
    assert title_year("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == 1995
    assert title_year("Untitled") is None


def test_missing_and_inconsistent_tables_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"items\.npy: missing"):
        catalogue_items(tmp_path)
    write_table(tmp_path, rows=4)
    with pytest.raises(DataFormatError, match="item_ids: expected a list of 4 entries"):
        catalogue_items(tmp_path)
