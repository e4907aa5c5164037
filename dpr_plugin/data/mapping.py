"""The mapping file: which columns of a platform's own event and item tables are which.

A mapping is a small TOML file (``docs/your_catalogue.md`` has a whole example)::

    name = "shop"

    [events]                        # one row per interaction
    path = "events.parquet"         # relative to the mapping file; csv, tsv or parquet
    user = "customer_id"
    item = "sku"
    timestamp = "ts"                # optional: numbers or ISO 8601; without it, file order
    weight = "quantity"             # optional, with min_weight: rows below it are dropped
    min_weight = 1

    [items]                         # one row per item
    path = "products.csv"
    id = "sku"
    title = "name"                  # optional: the id when absent
    tags = ["category"]             # the steerable tags: one or more categorical columns
    tag_separator = "|"             # optional: a cell holding several tags

    [items.fields]                  # payload fields and their kinds
    brand = "keyword"
    price = "float"
    description = "text"            # kept and returned, not indexed
    year = { kind = "integer", column = "title", pattern = '\\((\\d{4})\\)\\s*$' }

Text tables also take ``format`` (``csv``, ``tsv``, ``delimited``, ``parquet``), ``separator``
(several characters are allowed: ``"::"``), ``header``, ``columns`` (names when there is no
header) and ``encoding``. A field's ``pattern`` takes the value from the regular expression's
first group (the field is empty when it does not match); ``separator`` splits a keyword cell
into a list. Every problem is a ConfigError that names the mapping file and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dpr_plugin.data.item_fields import FieldKind, check_kind, check_name
from dpr_plugin.data.tables import FORMATS, TableSpec
from dpr_plugin.errors import ConfigError

_TABLE_KEYS = {"path", "format", "separator", "header", "columns", "encoding"}
_EVENT_KEYS = _TABLE_KEYS | {"user", "item", "timestamp", "weight", "min_weight"}
_ITEM_KEYS = _TABLE_KEYS | {"id", "title", "tags", "tag_separator", "skip_tags", "fields"}
_FIELD_KEYS = {"kind", "column", "pattern", "separator"}


@dataclass(frozen=True)
class FieldMapping:
    """One declared item field.

    Attributes:
        name: The payload name.
        kind: keyword, integer, float or text.
        column: The item-table column it is read from.
        pattern: A regular expression whose first group is the value (``None``: the cell).
        separator: Splits a keyword cell into a list of values.
    """

    name: str
    kind: FieldKind
    column: str
    pattern: re.Pattern[str] | None = None
    separator: str = ""


@dataclass(frozen=True)
class EventMapping:
    """The events table and its columns."""

    table: TableSpec
    user: str
    item: str
    timestamp: str = ""
    weight: str = ""
    min_weight: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns read."""
        return tuple(c for c in (self.user, self.item, self.timestamp, self.weight) if c)


@dataclass(frozen=True)
class ItemMapping:
    """The items table and its columns."""

    table: TableSpec
    id: str
    title: str = ""
    tags: tuple[str, ...] = ()
    tag_separator: str = ""
    skip_tags: tuple[str, ...] = ()
    fields: tuple[FieldMapping, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns read."""
        named = (self.id, self.title, *self.tags, *(f.column for f in self.fields))
        return tuple(dict.fromkeys(c for c in named if c))


@dataclass(frozen=True)
class CatalogueMapping:
    """A whole mapping: dataset name, events and items."""

    name: str
    events: EventMapping
    items: ItemMapping
    source: str
    """Where the mapping came from (a file, or a preset and its folder)."""


class _Keys:
    """Reads one TOML table of a mapping; errors name the file and the dotted key."""

    def __init__(self, origin: str, at: str, body: object, allowed: set[str]) -> None:
        if not isinstance(body, dict):
            raise ConfigError(f"{origin}: [{at}] must be a table")
        unknown = sorted(set(body) - allowed)
        if unknown:
            keys = ", ".join(sorted(allowed))
            raise ConfigError(f"{origin}: {at}.{unknown[0]} is not a mapping key (keys: {keys})")
        self.origin, self.at, self.body = origin, at, body

    def where(self, key: str) -> str:
        return f"{self.origin}: {self.at}.{key}"

    def text(self, key: str, required: bool = False, default: str = "") -> str:
        value = self.body.get(key, None)
        if value is None:
            if required:
                raise ConfigError(f"{self.where(key)} is required")
            return default
        if not isinstance(value, str) or (required and not value):
            raise ConfigError(f"{self.where(key)}: expected a non-empty string, got {value!r}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.body.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self.where(key)}: expected a list of strings, got {value!r}")
        return tuple(value)

    def table(self, folder: Path) -> TableSpec:
        path = self.text("path", required=True)
        fmt = self.text("format")
        if fmt and fmt not in FORMATS:
            raise ConfigError(f"{self.where('format')}: one of {', '.join(FORMATS)}, got {fmt!r}")
        header = self.body.get("header", True)
        if not isinstance(header, bool):
            raise ConfigError(f"{self.where('header')}: expected true or false")
        columns = self.texts("columns")
        if not header and not columns:
            raise ConfigError(f"{self.where('columns')}: header = false needs the column names")
        return TableSpec(
            path=(folder / path),
            format=fmt,
            separator=self.text("separator"),
            header=header,
            columns=columns,
            encoding=self.text("encoding", default="utf-8"),
        )


def _field(origin: str, name: str, spec: object) -> FieldMapping:
    at = f"items.fields.{name}"
    try:
        check_name(f"{origin}: {at}", name, declared=True)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(spec, str):
        spec = {"kind": spec}
    keys = _Keys(origin, at, spec, _FIELD_KEYS)
    try:
        kind = check_kind(keys.where("kind"), keys.text("kind", required=True))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    pattern = None
    if source := keys.text("pattern"):
        try:
            pattern = re.compile(source)
        except re.error as exc:
            raise ConfigError(f"{keys.where('pattern')}: not a regular expression: {exc}") from None
        if pattern.groups < 1:
            raise ConfigError(f"{keys.where('pattern')}: needs a group, e.g. '(\\d{{4}})'")
    separator = keys.text("separator")
    if separator and kind != "keyword":
        raise ConfigError(f"{keys.where('separator')}: only a keyword field holds a list")
    return FieldMapping(name, kind, keys.text("column", default=name), pattern, separator)


def parse_mapping(body: dict[str, object], folder: Path, origin: str) -> CatalogueMapping:
    """A mapping from its parsed TOML; relative paths are taken from ``folder``."""
    top = _Keys(origin, "mapping", body, {"name", "events", "items"})
    events = _Keys(origin, "events", body.get("events"), _EVENT_KEYS)
    min_weight = events.body.get("min_weight")
    if min_weight is not None and (
        isinstance(min_weight, bool) or not isinstance(min_weight, int | float)
    ):
        raise ConfigError(f"{events.where('min_weight')}: expected a number, got {min_weight!r}")
    weight = events.text("weight")
    if min_weight is not None and not weight:
        raise ConfigError(f"{events.where('min_weight')}: needs events.weight (its column)")
    items = _Keys(origin, "items", body.get("items"), _ITEM_KEYS)
    raw_fields = items.body.get("fields", {})
    if not isinstance(raw_fields, dict):
        raise ConfigError(f"{items.where('fields')}: must be a table")
    fields = tuple(_field(origin, name, spec) for name, spec in raw_fields.items())
    return CatalogueMapping(
        name=top.text("name", default=Path(origin).stem),
        events=EventMapping(
            table=events.table(folder),
            user=events.text("user", required=True),
            item=events.text("item", required=True),
            timestamp=events.text("timestamp"),
            weight=weight,
            min_weight=None if min_weight is None else float(min_weight),
        ),
        items=ItemMapping(
            table=items.table(folder),
            id=items.text("id", required=True),
            title=items.text("title"),
            tags=items.texts("tags"),
            tag_separator=items.text("tag_separator"),
            skip_tags=items.texts("skip_tags"),
            fields=fields,
        ),
        source=origin,
    )


def read_mapping(path: Path, folder: Path | None = None) -> CatalogueMapping:
    """Reads a mapping file; its tables' paths are relative to ``folder`` (default: the
    file's own folder)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"mapping: {path} not found")
    try:
        body = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_mapping(body, folder or path.parent, str(path))
