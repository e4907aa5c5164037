"""Loading a dataset described by a mapping (``mapping.py``): items first, then the events.

Each user's events are put in time order by a stable sort on the timestamp column, so events
with equal timestamps keep their file order (without a timestamp column, file order is time
order). Every error names the file, the row and the column.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.item_fields import FieldValue
from dpr_plugin.data.mapping import CatalogueMapping, FieldMapping, ItemMapping
from dpr_plugin.data.tables import Row, read_rows
from dpr_plugin.errors import DataFormatError


def _text(cell: object) -> str:
    """A cell as stripped text (``""`` for an empty or null cell)."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _number(path: Path, row: int, column: str, cell: object) -> float | None:
    """A numeric cell as a float, ``None`` when empty; DataFormatError otherwise."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    try:
        value = float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(path, row, f"column {column!r} is not a number: {cell!r}") from None
    if not math.isfinite(value):
        raise DataFormatError(path, row, f"column {column!r} is not finite: {cell!r}")
    return value


def _seconds(path: Path, row: int, column: str, cell: object) -> float:
    """A timestamp cell (a number, ISO 8601 text or a date/time value) as seconds."""
    if isinstance(cell, datetime):
        return (cell if cell.tzinfo else cell.replace(tzinfo=UTC)).timestamp()
    if isinstance(cell, date):
        return datetime(cell.year, cell.month, cell.day, tzinfo=UTC).timestamp()
    if isinstance(cell, str) and cell.strip() and not _is_number(cell):
        try:
            return _seconds(path, row, column, datetime.fromisoformat(cell.strip()))
        except ValueError:
            raise DataFormatError(
                path, row, f"column {column!r} is neither a number nor ISO 8601: {cell!r}"
            ) from None
    value = _number(path, row, column, cell)
    if value is None:
        raise DataFormatError(path, row, f"column {column!r} is empty")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _field_value(path: Path, row: int, spec: FieldMapping, cell: object) -> FieldValue:
    where = f"column {spec.column!r} (field {spec.name!r})"
    if spec.pattern is not None:
        match = spec.pattern.search(_text(cell))
        cell = match.group(1) if match else None
    if spec.kind == "text":
        return _text(cell) or None
    if spec.kind == "keyword":
        text = _text(cell)
        if not spec.separator:
            return text or None
        parts = [p.strip() for p in text.split(spec.separator) if p.strip()]
        return parts or None
    value = _number(path, row, spec.column, cell)
    if value is None:
        return None
    if spec.kind == "integer":
        if not value.is_integer():
            raise DataFormatError(path, row, f"{where} is not a whole number: {cell!r}")
        return int(value)
    return value


def _tags(items: ItemMapping, row: Row) -> tuple[str, ...]:
    tags: list[str] = []
    for column in items.tags:
        text = _text(row[column])
        parts = text.split(items.tag_separator) if items.tag_separator else [text]
        tags += [p.strip() for p in parts if p.strip() and p.strip() not in items.skip_tags]
    return tuple(dict.fromkeys(tags))


def read_items(items: ItemMapping) -> dict[str, ItemMeta]:
    """Every item of the items table, by its id."""
    path = items.table.path
    metas: dict[str, ItemMeta] = {}
    for row, cells in read_rows(items.table, items.columns):
        item = _text(cells[items.id])
        if not item:
            raise DataFormatError(path, row, f"column {items.id!r} (the item id) is empty")
        if item in metas:
            raise DataFormatError(path, row, f"column {items.id!r}: item {item!r} listed twice")
        fields: dict[str, FieldValue] = {}
        for spec in items.fields:
            value = _field_value(path, row, spec, cells[spec.column])
            if value is not None:
                fields[spec.name] = value
        title = _text(cells[items.title]) if items.title else ""
        metas[item] = ItemMeta(title=title or item, tags=_tags(items, cells), fields=fields)
    if not metas:
        raise DataFormatError(path, None, "no items found")
    return metas


def read_events(mapping: CatalogueMapping, known: dict[str, ItemMeta]) -> list[tuple[str, str]]:
    """The (user, item) pairs of the events table, each user's in time order."""
    events = mapping.events
    path = events.table.path
    rows: list[tuple[float, str, str]] = []
    for row, cells in read_rows(events.table, events.columns):
        user, item = _text(cells[events.user]), _text(cells[events.item])
        if not user:
            raise DataFormatError(path, row, f"column {events.user!r} (the user) is empty")
        if item not in known:
            raise DataFormatError(
                path,
                row,
                f"column {events.item!r}: item {item!r} is not in {mapping.items.table.path.name}",
            )
        if events.weight:
            weight = _number(path, row, events.weight, cells[events.weight])
            if events.min_weight is not None and (weight is None or weight < events.min_weight):
                continue
        when = 0.0
        if events.timestamp:
            when = _seconds(path, row, events.timestamp, cells[events.timestamp])
        rows.append((when, user, item))
    if not rows:
        raise DataFormatError(path, None, "no events found")
    if events.timestamp:
        rows.sort(key=lambda r: r[0])  # stable: equal timestamps keep file order
    return [(user, item) for _, user, item in rows]


def load_mapped(mapping: CatalogueMapping) -> SequenceDataset:
    """The dataset a mapping describes. Items without events are not part of it."""
    items = read_items(mapping.items)
    pairs = read_events(mapping, items)
    order = "time order" if mapping.events.timestamp else "file order"
    return SequenceDataset.from_interactions(
        mapping.name,
        pairs,
        items,
        f"{mapping.events.table.path} and {mapping.items.table.path} by {mapping.source}, {order}",
        {f.name: f.kind for f in mapping.items.fields},
    )
