"""Reading a table (CSV, TSV, any delimited text, or Parquet) as rows of named cells, each row
numbered so that every error can name the file, the row and the column.

Text files: a row's number is its line in the file (the header is line 1). Parquet files: a
row's number is its 1-based position among the rows. Cells come back as Python values: text
cells as strings (``""`` when empty), Parquet cells as their column's type (``None`` when null).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dpr_plugin.data.records import open_checked
from dpr_plugin.errors import DataFormatError

FORMATS = ("csv", "tsv", "delimited", "parquet")
_SEPARATORS = {"csv": ",", "tsv": "\t"}
PARQUET_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class TableSpec:
    """Where a table is and how it is read.

    Attributes:
        path: The file.
        format: ``csv``, ``tsv``, ``delimited`` (any ``separator``, even several characters,
            no quoting) or ``parquet``; chosen from the file's suffix when ``""``.
        separator: The cell separator of a text file (``,`` for csv, tab for tsv).
        header: Whether a text file's first line names the columns.
        columns: The column names of a text file without a header.
        encoding: A text file's encoding.
    """

    path: Path
    format: str = ""
    separator: str = ""
    header: bool = True
    columns: tuple[str, ...] = ()
    encoding: str = "utf-8"

    @property
    def kind(self) -> str:
        """The format, from the suffix when not given."""
        if self.format:
            return self.format
        suffix = self.path.suffix.lower().lstrip(".")
        return suffix if suffix in FORMATS else "csv"

    @property
    def sep(self) -> str:
        """The separator of a text file."""
        return self.separator or _SEPARATORS.get(self.kind, ",")


Row = dict[str, object]


def read_rows(spec: TableSpec, needed: tuple[str, ...]) -> Iterator[tuple[int, Row]]:
    """Yields (row number, {column: cell}) for every row of the table.

    Args:
        spec: The table.
        needed: Columns that must exist; a missing one is a DataFormatError naming it and the
            columns the file has.
    """
    if spec.kind not in FORMATS:
        raise DataFormatError(spec.path, None, f"format must be one of {FORMATS}, got {spec.kind}")
    if spec.kind == "parquet":
        yield from _parquet_rows(spec, needed)
    else:
        yield from _text_rows(spec, needed)


def _check_columns(
    path: Path, line: int | None, have: list[str], needed: tuple[str, ...]
) -> list[str]:
    """``have`` with each needed column found in it; a column named in another case than the
    mapping's (``User_id`` for ``user_id``) takes the mapping's spelling."""
    names = list(have)
    for column in needed:
        if column in names:
            continue
        folded = [i for i, name in enumerate(names) if name.casefold() == column.casefold()]
        if len(folded) != 1:
            raise DataFormatError(
                path, line, f"column {column!r} not found (columns: {', '.join(have)})"
            )
        names[folded[0]] = column
    return names


def _split_lines(spec: TableSpec) -> Iterator[tuple[int, list[str]]]:
    lines = open_checked(spec.path, spec.encoding)
    if len(spec.sep) == 1:
        reader = csv.reader((line for _, line in lines), delimiter=spec.sep)
        for cells in reader:
            yield reader.line_num, cells
    else:
        for number, line in lines:
            yield number, line.split(spec.sep)


def _text_rows(spec: TableSpec, needed: tuple[str, ...]) -> Iterator[tuple[int, Row]]:
    rows = _split_lines(spec)
    if spec.header:
        first = next(rows, None)
        if first is None:
            raise DataFormatError(spec.path, 1, "empty file, expected a header line")
        names = [c.strip() for c in first[1]]
    else:
        if not spec.columns:
            raise DataFormatError(spec.path, None, "header = false needs the column names")
        names = list(spec.columns)
    names = _check_columns(spec.path, 1 if spec.header else None, names, needed)
    for number, cells in rows:
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != len(names):
            raise DataFormatError(
                spec.path, number, f"expected {len(names)} cells, found {len(cells)}"
            )
        yield number, dict(zip(names, cells, strict=True))


def _parquet_rows(spec: TableSpec, needed: tuple[str, ...]) -> Iterator[tuple[int, Row]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataFormatError(
            spec.path, None, "reading Parquet needs pyarrow: pip install 'dpr-plugin[parquet]'"
        ) from None
    if not spec.path.is_file():
        raise DataFormatError(spec.path, None, "file not found")
    try:
        table = pq.ParquetFile(spec.path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataFormatError(spec.path, None, f"not a Parquet file: {exc}") from None
    have = list(table.schema_arrow.names)
    names = _check_columns(spec.path, None, have, needed)
    number = 0
    for batch in table.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        columns = {
            name: batch.column(k).to_pylist() for k, name in enumerate(names) if name in needed
        }
        for k in range(batch.num_rows):
            number += 1
            yield number, {name: values[k] for name, values in columns.items()}
