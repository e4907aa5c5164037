"""Settings objects from command-line flags and ``DPR_*`` environment variables.

Every component keeps its defaults in one frozen dataclass; this module turns its fields into
flags (``--field-name``) whose default comes from ``DPR_<PREFIX>_<FIELD>`` when set, else from
the dataclass. Precedence: flag > environment variable > the command's own default (``build``'s
``defaults``) > dataclass default.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing
from typing import Any, TypeVar

from dpr_plugin.errors import ConfigError

T = TypeVar("T")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _converter(annotation: Any) -> Any:
    """The parser of a resolved field type (``X | None`` parses as X)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if args else annotation
    return _parse_bool if base is bool else base


def env_name(prefix: str, field: str) -> str:
    """``DPR_<PREFIX>_<FIELD>`` in upper case."""
    return f"DPR_{prefix}_{field}".upper()


def add_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    prefix: str,
    skip: tuple[str, ...] = (),
    default_help: dict[str, str] | None = None,
    only: tuple[str, ...] | None = None,
) -> None:
    """Adds one ``--flag`` per dataclass field of ``cls`` (except ``skip``; only ``only`` when
    given, for a command that needs a few of a component's settings: the others still follow
    their environment variables in ``build``); ``default_help`` describes, per field, a
    default the command chooses itself instead of the dataclass's."""
    group = parser.add_argument_group(f"{cls.__name__} (env DPR_{prefix.upper()}_*)")
    for f in dataclasses.fields(cls):
        if f.name in skip or (only is not None and f.name not in only):
            continue
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f"{prefix}__{f.name}",
            type=str,
            default=None,
            help=f"default {(default_help or {}).get(f.name, repr(f.default))}",
        )


def build(
    cls: type[T],
    namespace: argparse.Namespace,
    prefix: str,
    defaults: dict[str, Any] | None = None,
    **fixed: Any,
) -> T:
    """Instantiates ``cls`` from flags, environment variables and defaults: ``fixed`` values
    are taken as they are; the others from the flag, else the environment variable, else
    ``defaults`` (a default the command chooses itself), else the dataclass's.

    Raises:
        ConfigError: naming the flag or variable whose value does not parse.
    """
    values: dict[str, Any] = dict(fixed)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in fixed:
            continue
        raw = getattr(namespace, f"{prefix}__{f.name}", None)
        source = f"--{f.name.replace('_', '-')}"
        if raw is None and env_name(prefix, f.name) in os.environ:
            raw, source = os.environ[env_name(prefix, f.name)], env_name(prefix, f.name)
        if raw is None:
            if defaults and f.name in defaults:
                values[f.name] = defaults[f.name]
            continue
        if raw.lower() == "none" and type(None) in typing.get_args(hints[f.name]):
            values[f.name] = None
            continue
        try:
            values[f.name] = _converter(hints[f.name])(raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return cls(**values)
