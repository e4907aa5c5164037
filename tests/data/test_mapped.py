"""A platform's own tables through a mapping file: the generated shop (Parquet events, CSV
products with brand, price, category and a text field), and errors that name file, row and
column."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpr_plugin.data.mapped import load_mapped
from dpr_plugin.data.mapping import read_mapping
from dpr_plugin.data.sources import load_dataset
from dpr_plugin.errors import ConfigError, DataFormatError
from tests.shop import CATEGORIES, CUSTOMERS, write_shop

pytest.importorskip("pyarrow", reason="pyarrow (the train and dev extras) reads Parquet")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shop(tmp_path_factory.mktemp("shop"))


def test_the_shop_loads_with_its_fields_and_category_tags(shop: Path) -> None:
    import pyarrow.parquet as pq

    ds = load_dataset(f"mapping:{shop}")
    assert ds.name == "shop" and ds.num_users == CUSTOMERS
    assert set(ds.tag_names) <= set(CATEGORIES)
    assert {name: f.kind for name, f in ds.item_fields.items()} == {
        "brand": "keyword", "price": "float", "category": "keyword", "description": "text",
    }  # fmt: skip
    k = ds.item_ids.index("SKU-0007")
    assert ds.item_tags[k] == (ds.item_fields["category"].values[k],)
    assert isinstance(ds.item_fields["price"].values[k], float)
    assert ds.item_fields["description"].values[k].startswith("A ")
    events = pq.read_table(shop.parent / "events.parquet").to_pydict()
    kept = [q >= 1 for q in events["quantity"]]
    assert ds.num_interactions == sum(kept) < len(kept)  # returns (quantity 0) are dropped
    # one customer's purchases, in time order although the file is shuffled
    mine = sorted(
        (t, s)
        for u, s, t, ok in zip(
            events["customer_id"], events["sku"], events["bought_at"], kept, strict=True
        )
        if u == "cust-3" and ok
    )
    sequence = ds.sequences[ds.user_ids.index("cust-3")]
    assert [ds.item_ids[i - 1] for i in sequence] == [s for _, s in mine]


def _mapping(folder: Path, body: str) -> Path:
    path = folder / "m.toml"
    path.write_text(body)
    return path


BASE = """\
[events]
path = "events.csv"
user = "u"
item = "i"
timestamp = "t"
[items]
path = "items.csv"
id = "id"
tags = ["cat"]
[items.fields]
price = "float"
year = "integer"
"""


def _tables(folder: Path, events: str, items: str) -> None:
    (folder / "events.csv").write_text(events)
    (folder / "items.csv").write_text(items)


def test_iso_and_numeric_timestamps_order_events_and_empty_cells_are_missing(
    tmp_path: Path,
) -> None:
    _tables(
        tmp_path,
        "u,i,t\na,2,2026-01-02T00:00:00Z\na,1,2026-01-01T12:00:00+00:00\nb,1,5\n",
        "id,cat,price,year\n1,x,9.5,\n2,x|y,,2001\n",
    )
    ds = load_mapped(read_mapping(_mapping(tmp_path, BASE)))
    assert [ds.item_ids[i - 1] for i in ds.sequences[ds.user_ids.index("a")]] == ["1", "2"]
    assert ds.item_fields["price"].values == (9.5, None)
    assert ds.item_fields["year"].values == (None, 2001)
    assert ds.item_tags == [("x",), ("x|y",)]  # no tag_separator: the cell is one tag
    assert ds.item_titles == ["1", "2"]  # no title column: the id


@pytest.mark.parametrize(
    ("events", "items", "message"),
    [
        ("u,i,t\na,3,1\n", "id,cat,price,year\n1,x,1,1\n",
         r"events.csv:2: column 'i': item '3' is not in items.csv"),
        ("u,i,t\na,1,yesterday\n", "id,cat,price,year\n1,x,1,1\n",
         r"events.csv:2: column 't' is neither a number nor ISO 8601"),
        ("u,i,t\na,1,1\n", "id,cat,price,year\n1,x,cheap,1\n",
         r"items.csv:2: column 'price' is not a number: 'cheap'"),
        ("u,i,t\na,1,1\n", "id,cat,price,year\n1,x,1,1999.5\n",
         r"items.csv:2: column 'year' \(field 'year'\) is not a whole number"),
        ("u,i,t\na,1,1\n", "id,cat,price,year\n1,x,1,1\n1,y,2,2\n",
         r"items.csv:3: column 'id': item '1' listed twice"),
        ("u,item,t\na,1,1\n", "id,cat,price,year\n1,x,1,1\n",
         r"events.csv:1: column 'i' not found \(columns: u, item, t\)"),
        ("u,i,t\n,1,1\n", "id,cat,price,year\n1,x,1,1\n",
         r"events.csv:2: column 'u' \(the user\) is empty"),
    ],
)  # fmt: skip
def test_a_bad_cell_is_named_by_file_row_and_column(
    tmp_path: Path, events: str, items: str, message: str
) -> None:
    _tables(tmp_path, events, items)
    with pytest.raises(DataFormatError, match=message):
        load_mapped(read_mapping(_mapping(tmp_path, BASE)))


def test_a_bad_parquet_cell_is_named_by_row_and_column(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"u": ["a", "a"], "i": ["1", "9"], "t": [1, 2]}), tmp_path / "e.pq")
    (tmp_path / "items.csv").write_text("id,cat,price,year\n1,x,1,1\n")
    body = BASE.replace('path = "events.csv"', 'path = "e.pq"\nformat = "parquet"')
    with pytest.raises(DataFormatError, match=r"e.pq:2: column 'i': item '9' is not in items.csv"):
        load_mapped(read_mapping(_mapping(tmp_path, body)))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("user = \"u\"\n", ""), r"m.toml: events.user is required"),
        (("year = \"integer\"", "year = \"date\""), r"items.fields.year.kind: kind must be one of"),
        (("year = \"integer\"", "tags = \"keyword\""), r"'tags' is reserved"),
        (("timestamp = \"t\"", "timestamp = \"t\"\nmin_weight = 1"),
         r"events.min_weight: needs events.weight"),
        (("id = \"id\"", "id = \"id\"\nsort = true"), r"items.sort is not a mapping key"),
        (("year = \"integer\"", "year = { kind = \"integer\", pattern = \"\\\\d+\" }"),
         r"items.fields.year.pattern: needs a group"),
        (("[items]", "[items]\nformat = \"xlsx\""), r"items.format: one of csv, tsv"),
    ],
)  # fmt: skip
def test_a_bad_mapping_is_named_by_file_and_key(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        read_mapping(_mapping(tmp_path, BASE.replace(*edit)))


def test_a_mapping_that_is_not_toml_or_not_there_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_mapping(_mapping(tmp_path, "[events\n"))
    with pytest.raises(ConfigError, match=r"mapping: .*nope\.toml not found"):
        load_dataset(f"mapping:{tmp_path / 'nope.toml'}")
