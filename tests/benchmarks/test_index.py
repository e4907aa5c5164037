"""benchmarks/README.md indexes every committed result file, and docs/results.md points only at
result files that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
INDEX = ROOT / "benchmarks" / "README.md"
DOCS = ROOT / "docs" / "results.md"
# `<experiment>/<file>` as the index writes a result file, and the same under
# `benchmarks/results/` as docs/results.md does.
MENTION = re.compile(r"(?<![\w/.-])([a-z0-9_]+/[\w.-]+\.(?:json|png))")
DOC_MENTION = re.compile(r"benchmarks/results/([a-z0-9_]+/[\w.-]+\.(?:json|png))")


def committed() -> set[str]:
    """Every file under benchmarks/results, as ``<experiment>/<file>``."""
    return {p.relative_to(RESULTS).as_posix() for p in RESULTS.rglob("*") if p.is_file()}


def test_results_are_one_folder_per_experiment() -> None:
    assert committed(), "no result files found"
    assert all(name.count("/") == 1 for name in committed()), sorted(committed())


def test_every_result_file_is_listed_in_the_index() -> None:
    missing = sorted(name for name in committed() if name not in INDEX.read_text())
    assert not missing, f"benchmarks/README.md does not list {missing}"


def test_the_index_lists_no_result_file_that_does_not_exist() -> None:
    folders = {name.split("/")[0] for name in committed()}
    mentioned = {m for m in MENTION.findall(INDEX.read_text()) if m.split("/")[0] in folders}
    assert mentioned - committed() == set()


def test_the_results_document_points_at_existing_result_files() -> None:
    mentioned = set(DOC_MENTION.findall(DOCS.read_text()))
    assert mentioned, "docs/results.md names no result file"
    assert mentioned - committed() == set()
