"""Catalogue items named by their title: "the godfather" → "Godfather, The (1972)".

Titles are compared as word sequences with case, accents, punctuation, a trailing year, a
trailing alternative title in parentheses and articles removed ("Godfather, The (1972)" and
"the Godfather" both read ``godfather``). A name that matches no title exactly is matched
fuzzily against titles sharing a word with it. A name may also be the start of a title ("star
wars" → "Star Wars: Episode IV - A New Hope"); among the titles it names exactly or begins,
the exact one wins unless another is far more popular (``PREFIX_LEAD``).
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from dpr_plugin.intent.text import fold

ARTICLES = frozenset({"the", "a", "an", "le", "la", "les", "l", "il", "el", "der", "die", "das"})
_TRAILING_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_TRAILING_PARENS = re.compile(r"\s*\([^()]*\)\s*$")
_WORD = re.compile(r"[a-z0-9]+")
PREFIX_LEAD = 3.0
"""A title that begins with the name beats the title equal to it only when its prior is this many
times larger ("lord of the rings": the 2001 film, rated far more, over the 1978 one; "toy
story": Toy Story, not Toy Story 2)."""
FUZZY_CUTOFF = 0.86
"""Least difflib ratio for a fuzzy title match (a typo or two in a short title)."""


def title_key(title: str) -> tuple[str, ...]:
    """The words a title is matched by."""
    text = fold(title)
    text = _TRAILING_YEAR.sub("", text)
    while _TRAILING_PARENS.search(text) and not text.startswith("("):
        text = _TRAILING_PARENS.sub("", text)
    words = _WORD.findall(text.replace("'", ""))
    return tuple(w for w in words if w not in ARTICLES)


def _key(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(w.replace("'", "") for w in words if w not in ARTICLES)


@dataclass(frozen=True)
class TitleMatch:
    """The item a name refers to (internal id and platform id), its title and whether the
    match was exact."""

    item_id: int
    title: str
    exact: bool
    platform_id: str = ""


class TitleIndex:
    """Exact and fuzzy lookup of catalogue titles.

    Args:
        titles: Titles in internal id order (``titles[i - 1]`` is internal id ``i``).
        prior: Per title, a tie-breaker among items with the same key (the larger wins; the
            service passes the item vector's norm, which grows with popularity).
        ids: The platform's item ids, in the same order (reported with a match).
    """

    def __init__(
        self,
        titles: Sequence[str],
        prior: Sequence[float] | None = None,
        ids: Sequence[str] | None = None,
    ) -> None:
        self._titles = list(titles)
        self._ids = list(ids) if ids is not None else [""] * len(self._titles)
        self._by_key: dict[tuple[str, ...], int] = {}
        self._by_word: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        best = self._prior = {}
        for i, title in enumerate(titles):
            key = title_key(title)
            if not key:
                continue
            weight = float(prior[i]) if prior is not None else -float(i)
            if key not in best or weight > best[key]:
                best[key] = weight
                self._by_key[key] = i + 1
            for word in key:
                self._by_word[word].add(key)

    def exact(self, words: Sequence[str]) -> TitleMatch | None:
        """The item whose title key is exactly ``words`` (articles ignored)."""
        key = _key(words)
        item = self._by_key.get(key) if key else None
        return None if item is None else self._match(item, True)

    def named(self, words: Sequence[str]) -> TitleMatch | None:
        """The most popular item whose title key is ``words`` or begins with them."""
        key = _key(words)
        if not key:
            return None
        starting = [k for k in self._by_word.get(key[0], set()) if k[: len(key)] == key]
        if not starting:
            return None
        chosen = max(starting, key=lambda k: self._prior[k])
        if key in self._by_key and self._prior[chosen] < PREFIX_LEAD * self._prior[key]:
            chosen = key  # the exact title, unless one it begins is far more popular
        return self._match(self._by_key[chosen], chosen == key)

    def fuzzy(self, words: Sequence[str]) -> TitleMatch | None:
        """The closest title (difflib ratio >= FUZZY_CUTOFF) among those sharing a word."""
        key = _key(words)
        if not key or sum(len(w) for w in key) < 4:
            return None
        candidates = set().union(*(self._by_word.get(w, set()) for w in key))
        if not candidates:
            return None
        target = " ".join(key)
        scored = [
            (difflib.SequenceMatcher(None, target, " ".join(c)).ratio(), c) for c in candidates
        ]
        ratio, best = max(scored)
        if ratio < FUZZY_CUTOFF:
            return None
        return self._match(self._by_key[best], False)

    def _match(self, item: int, exact: bool) -> TitleMatch:
        return TitleMatch(item, self._titles[item - 1], exact, self._ids[item - 1])
