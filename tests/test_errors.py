"""The package's one flat error tree: every exception class lives in errors.py and is a
DprError, so a caller can catch the package's errors with one clause."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import dpr_plugin
from dpr_plugin import errors

PACKAGE = Path(dpr_plugin.__file__).parent


def test_errors_every_exception_class_is_defined_in_errors_py() -> None:
    elsewhere = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" or "generated" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                getattr(base, "id", getattr(base, "attr", "")).endswith(("Error", "Exception"))
                for base in node.bases
            ):
                elsewhere.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    assert elsewhere == []


def test_errors_every_class_is_a_dpr_error() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert len(classes) >= 10
    assert all(issubclass(c, errors.DprError) for c in classes), classes
