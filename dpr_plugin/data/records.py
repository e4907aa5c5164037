"""Line-numbered reading of delimited text files, so every parse error names file and line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dpr_plugin.errors import DataFormatError


def open_checked(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Yields (1-based line number, line without newline); a missing file is a DataFormatError."""
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    try:
        with path.open(encoding=encoding, newline="") as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, f"not valid {encoding}: {exc.reason}") from exc


def split_fields(
    path: Path, encoding: str, sep: str, width: int, skip_header: bool = False
) -> Iterator[tuple[int, list[str]]]:
    """Yields (line number, fields) of a file whose lines hold exactly ``width`` fields.

    Blank lines are skipped. With ``skip_header`` the first line is skipped.
    """
    for number, line in open_checked(path, encoding):
        if (skip_header and number == 1) or not line.strip():
            continue
        fields = line.split(sep)
        if len(fields) != width:
            raise DataFormatError(
                path, number, f"expected {width} fields separated by {sep!r}, found {len(fields)}"
            )
        yield number, fields


def parse_int(path: Path, line: int, name: str, value: str) -> int:
    """Parses an integer field or raises a DataFormatError naming the field."""
    try:
        return int(value)
    except ValueError:
        raise DataFormatError(path, line, f"field {name!r} is not an integer: {value!r}") from None
