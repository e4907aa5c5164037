"""A catalogue's own item fields (``brand``, ``price``, ``year``...): their kinds and values.

A field is declared with a kind:

* ``keyword``: a string (or a list of strings), filtered by exact match;
* ``integer`` / ``float``: a number, filtered by match (integer) or range;
* ``text``: a string kept with the item and returned on request, never indexed.

Values are held column-wise, one entry per item in internal-id order (``None`` when the item
has no value). They travel from the loader through the checkpoint and the export's
``items.json`` (``"fields": {name: {"kind": ..., "values": [...]}}``) into the index payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

FieldKind = Literal["keyword", "integer", "float", "text"]
FIELD_KINDS: tuple[FieldKind, ...] = ("keyword", "integer", "float", "text")
INDEXED_KINDS: tuple[FieldKind, ...] = ("keyword", "integer", "float")
COLD_FIELD = "cold"
"""An export's integer field: 1 for an item indexed from its tags alone (it arrived after
training, ``dpr export --cold-items``), 0 for a trained one."""
RESERVED = ("item_id", "title", "tags")
"""Payload names every item already has; a field may not take them."""

FieldValue = str | int | float | list[str] | None


@dataclass(frozen=True)
class ItemField:
    """One declared field: its kind and a value per item (internal-id order)."""

    kind: FieldKind
    values: tuple[FieldValue, ...]

    def take(self, positions: Sequence[int]) -> ItemField:
        """The field for the items at ``positions`` (0-based), in that order."""
        return ItemField(self.kind, tuple(self.values[p] for p in positions))


ItemFields = Mapping[str, ItemField]


def check_kind(where: str, kind: object) -> FieldKind:
    """``kind`` as a FieldKind, or ValueError naming ``where``."""
    if kind not in FIELD_KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(FIELD_KINDS)}, got {kind!r}")
    return cast(FieldKind, kind)


def check_name(where: str, name: object, declared: bool = False) -> str:
    """A field name: a non-empty identifier-like string that is not reserved (nor, for a
    field a mapping ``declared``, the export's own ``cold``)."""
    if not isinstance(name, str) or not name or not name.replace("_", "a").isalnum():
        raise ValueError(f"{where}: a field name is letters, digits and '_', got {name!r}")
    if name in RESERVED:
        raise ValueError(f"{where}: {name!r} is reserved (every item has {', '.join(RESERVED)})")
    if declared and name == COLD_FIELD:
        raise ValueError(f"{where}: {name!r} is reserved (an export marks cold items with it)")
    return name


def check_value(where: str, kind: FieldKind, value: object) -> FieldValue:
    """``value`` as stored for a field of ``kind``; ValueError naming ``where`` otherwise."""
    if value is None:
        return None
    if kind in ("keyword", "text"):
        if isinstance(value, str):
            return value
        if kind == "keyword" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ValueError(f"{where}: a {kind} field holds strings, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: a {kind} field holds numbers, got {value!r}")
    if kind == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{where}: an integer field holds whole numbers, got {value!r}")
        return int(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{where}: a float field holds finite numbers, got {value!r}")
    return float(value)


def fields_to_json(fields: ItemFields) -> dict[str, object]:
    """The ``"fields"`` entry of ``items.json``."""
    return {name: {"kind": f.kind, "values": list(f.values)} for name, f in fields.items()}


def fields_from_json(body: object, rows: int) -> dict[str, ItemField]:
    """Parses the ``"fields"`` entry of ``items.json`` (``rows`` items); ValueError naming
    the field and, for a bad value, its position."""
    if not isinstance(body, dict):
        raise ValueError("fields: expected an object {name: {kind, values}}")
    fields: dict[str, ItemField] = {}
    for name, spec in body.items():
        where = f"fields.{name}"
        check_name(where, name)
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: expected an object with kind and values")
        kind = check_kind(f"{where}.kind", spec.get("kind"))
        values = spec.get("values")
        if not isinstance(values, list) or len(values) != rows:
            got = f"{len(values)} entries" if isinstance(values, list) else type(values).__name__
            raise ValueError(f"{where}.values: expected {rows} entries (one per item), got {got}")
        fields[name] = ItemField(
            kind, tuple(check_value(f"{where}.values[{i}]", kind, v) for i, v in enumerate(values))
        )
    return fields


def indexed_kinds(fields: ItemFields) -> dict[str, FieldKind]:
    """The declared fields an index builds payload indexes for (all but ``text``)."""
    return {name: f.kind for name, f in fields.items() if f.kind in INDEXED_KINDS}
