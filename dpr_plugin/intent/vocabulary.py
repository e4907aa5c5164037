"""The catalogue vocabulary: per tag, how it reads, a description, synonyms and phrases.

A platform supplies one for its own taxonomy (TOML, see ``vocabularies/movielens.toml``);
MovieLens genres and MIND categories are bundled. ``dpr export`` resolves the file against the
export's tags and writes it into the export as JSON, beside the encoder's embeddings of every
description, synonym and phrase (the zero-shot reader's table).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from dpr_plugin.errors import ConfigError

BUNDLED = ("movielens", "mind")
"""Vocabularies shipped in ``dpr_plugin/intent/vocabularies/``."""

DEFAULT_ITEM_NOUNS = ("item", "items", "one", "ones", "thing", "things", "stuff")


@dataclass(frozen=True)
class TagTerms:
    """How one tag is talked about.

    Attributes:
        tag: The catalogue tag, as the export spells it.
        surface: How it reads in a sentence ("comedies"); the canonical prompt uses it.
        description: One line; embedded for the zero-shot reader.
        synonyms: Words and phrases that name the tag (the lexicon).
        phrases: Example phrases that describe it without naming it.
    """

    tag: str
    surface: str
    description: str
    synonyms: tuple[str, ...]
    phrases: tuple[str, ...]

    def zero_shot_texts(self) -> list[str]:
        """The texts embedded for this tag: description, synonyms, phrases (deduplicated)."""
        return list(dict.fromkeys([self.description, *self.synonyms, *self.phrases]))


@dataclass(frozen=True)
class Vocabulary:
    """The resolved vocabulary of one export: one TagTerms per tag, in the export's tag order."""

    name: str
    terms: tuple[TagTerms, ...]
    item_nouns: tuple[str, ...] = DEFAULT_ITEM_NOUNS

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(t.tag for t in self.terms)

    @cached_property
    def by_tag(self) -> dict[str, TagTerms]:
        """The terms of each tag, by tag."""
        return {t.tag: t for t in self.terms}

    def term(self, tag: str) -> TagTerms:
        """The terms of ``tag``."""
        return self.by_tag[tag]

    def zero_shot_rows(self) -> list[tuple[str, str]]:
        """``(tag, text)`` for every embedded text, in the order of the embedding table."""
        return [(t.tag, text) for t in self.terms for text in t.zero_shot_texts()]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "item_nouns": list(self.item_nouns),
            "tags": [
                {
                    "tag": t.tag,
                    "surface": t.surface,
                    "description": t.description,
                    "synonyms": list(t.synonyms),
                    "phrases": list(t.phrases),
                }
                for t in self.terms
            ],
        }

    @classmethod
    def from_json(cls, body: object, where: str) -> Vocabulary:
        """The inverse of ``to_json``; ConfigError naming ``where`` and the field."""
        if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
            raise ConfigError(f"{where}: expected an object with a tags list")
        terms = []
        for i, entry in enumerate(body["tags"]):
            at = f"{where}: tags[{i}]"
            if not isinstance(entry, dict):
                raise ConfigError(f"{at}: expected an object")
            terms.append(
                TagTerms(
                    tag=_string(entry, "tag", at),
                    surface=_string(entry, "surface", at),
                    description=_string(entry, "description", at),
                    synonyms=_strings(entry, "synonyms", at),
                    phrases=_strings(entry, "phrases", at),
                )
            )
        nouns = _strings(body, "item_nouns", where) or DEFAULT_ITEM_NOUNS
        return cls(str(body.get("name", "")), tuple(terms), nouns)


def _string(entry: dict, key: str, at: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{at}.{key}: expected a non-empty string")
    return value.strip()


def _strings(entry: dict, key: str, at: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{at}.{key}: expected a list of non-empty strings")
    return tuple(v.strip() for v in value)


def default_terms(tag: str) -> TagTerms:
    """Terms for a tag the vocabulary file does not describe: its own name only."""
    name = tag.replace("-", " ").replace("_", " ").lower()
    return TagTerms(tag, name, name, tuple(dict.fromkeys([tag.lower(), name])), ())


def read_vocabulary_file(path: Path, tags: tuple[str, ...]) -> Vocabulary:
    """Reads a TOML vocabulary and resolves it against ``tags`` (the export's, in order).

    A file entry matches a tag by its key or one of its ``aliases``; tags it does not describe
    get ``default_terms``; entries for tags the export lacks are ignored.

    Raises:
        ConfigError: starting with ``vocabulary:`` and naming the file and field.
    """
    where = f"vocabulary: {path}"
    try:
        body = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{where} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from exc
    entries = body.get("tags")
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{where}: expected a [tags.<name>] table per tag")
    by_name: dict[str, tuple[str, dict]] = {}
    for key, entry in entries.items():
        at = f"{where}: tags.{key}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at}: expected a table")
        for name in (key, *_strings(entry, "aliases", at)):
            by_name[name] = (key, entry)
    terms = []
    for tag in tags:
        if tag not in by_name:
            terms.append(default_terms(tag))
            continue
        key, entry = by_name[tag]
        at = f"{where}: tags.{key}"
        surface = _string(entry, "surface", at)
        synonyms = (*_strings(entry, "synonyms", at), tag.lower(), surface)
        terms.append(
            TagTerms(
                tag=tag,
                surface=surface,
                description=_string(entry, "description", at),
                synonyms=tuple(dict.fromkeys(s.lower() for s in synonyms)),
                phrases=_strings(entry, "phrases", at),
            )
        )
    nouns = _strings(body, "item_noun", where) or DEFAULT_ITEM_NOUNS
    return Vocabulary(str(body.get("name", Path(path).stem)), tuple(terms), nouns)


def bundled_path(name: str) -> Path:
    """The file of a bundled vocabulary."""
    if name not in BUNDLED:
        raise ConfigError(f"vocabulary: unknown bundled vocabulary {name!r} (have {BUNDLED})")
    return Path(str(resources.files("dpr_plugin.intent") / "vocabularies" / f"{name}.toml"))


def resolve_vocabulary(choice: str, tags: tuple[str, ...]) -> Vocabulary:
    """``choice``: a TOML path, a bundled name, or ``auto`` (the bundled vocabulary that
    describes most of ``tags``; tags' own names when none describes any)."""
    if choice != "auto":
        path = bundled_path(choice) if choice in BUNDLED else Path(choice)
        return read_vocabulary_file(path, tags)
    best = max(
        (read_vocabulary_file(bundled_path(name), tags) for name in BUNDLED),
        key=lambda v: sum(t.description != default_terms(t.tag).description for t in v.terms),
    )
    if all(t.description == default_terms(t.tag).description for t in best.terms):
        return Vocabulary("tag-names", tuple(default_terms(t) for t in tags))
    return best


def load_vocabulary_json(path: Path) -> Vocabulary:
    """The vocabulary an export carries."""
    where = f"repository: {path}"
    try:
        body = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{where} not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: invalid JSON: {exc}") from exc
    return Vocabulary.from_json(body, where)
