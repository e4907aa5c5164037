"""Amounts in a prompt → ranges over a catalogue's declared numeric fields.

A comparison is read only when it says what it measures, so that "under 50" alone stays
unread:

* the field is named before or after it: "price under 50", "rating of at least 4",
  "under 300 pages" (a field ``pages``), "between 2 and 5 kg" does not name a field;
* or the amount carries a currency ("under $50", "less than 30 euros", "between 20 and 40
  dollars", "cheaper than £15"), which goes to a field named ``price``, when there is one.

Comparisons: *under / below / less than / at most / up to / no more than / max* give an upper
bound, *over / above / more than / at least / from / min* a lower one, *between A and B* /
*from A to B* / *A-B* both. "cheaper than X" is ``price <= X``, "more expensive than X"
``price >= X``. Eras (years) are read by ``eras.py``, not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

PRICE_FIELD = "price"
"""The field a currency amount goes to."""
PRICE_WORDS = ("price", "prices", "priced", "cost", "costs", "costing")
_CURRENCY_BEFORE = r"(?:[$€£]\s*)"
_CURRENCY_AFTER = r"(?:\s*(?:dollars?|bucks|euros?|pounds?|usd|eur|gbp)\b)"
_NUMBER = r"\d+(?:[.,]\d+)?"
_LOWER = (
    r"(?P<lower>over|above|more\s+than|at\s+least|from|min(?:imum)?|no\s+less\s+than|"
    r"greater\s+than|>=?)"
)
_UPPER = (
    r"(?P<upper>under|below|less\s+than|at\s+most|up\s+to|no\s+more\s+than|max(?:imum)?|"
    r"within|<=?)"
)


@dataclass(frozen=True)
class Amount:
    """A range read from ``text[start:end]`` over ``field``; an open side is ``None``."""

    start: int
    end: int
    field: str
    gte: float | None
    lte: float | None


def field_words(numeric_fields: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The words that name each numeric field: its name (``_`` read as a space, and its plural)
    and, for ``price``, PRICE_WORDS."""
    words: dict[str, tuple[str, ...]] = {}
    for name in numeric_fields:
        spoken = name.replace("_", " ").lower()
        own = (spoken, spoken + "s") if not spoken.endswith("s") else (spoken,)
        words[name] = tuple(dict.fromkeys((*own, *(PRICE_WORDS if name == PRICE_FIELD else ()))))
    return words


def _value(text: str) -> float:
    """``1,000`` is a thousand, ``12,50`` twelve and a half."""
    if re.fullmatch(r"\d{1,3},\d{3}", text):
        return float(text.replace(",", ""))
    return float(text.replace(",", "."))


def _alternatives(words: tuple[str, ...]) -> str:
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered)


def _amount_of(group: str, currency: str = "optional") -> str:
    """A number in group ``group``: with a currency sign or word around it when ``currency``
    is ``required``, allowed when ``optional``."""
    number = rf"(?P<{group}>{_NUMBER})"
    if currency == "required":  # the sign before it, or the word after it
        word = rf"(?P<{group}_>{_NUMBER}){_CURRENCY_AFTER}"
        return rf"(?:{_CURRENCY_BEFORE}{number}{_CURRENCY_AFTER}?|{word})"
    return rf"{_CURRENCY_BEFORE}?{number}{_CURRENCY_AFTER}?"


_BETWEEN = rf"(?:between|from)\s+{_amount_of('a')}\s+(?:and|to|-)\s+{_amount_of('b')}"
_SPAN = rf"{_amount_of('a')}\s*(?:-|\u2013|to)\s*{_amount_of('b')}"
_BOUND = rf"(?:{_LOWER}|{_UPPER})\s+{_amount_of('a')}"


class AmountReader:
    """Finds amounts for one catalogue's numeric fields (``field_words``)."""

    def __init__(self, words: Mapping[str, tuple[str, ...]]) -> None:
        self.fields = dict(words)
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for field, names in self.fields.items():
            named = rf"(?<![a-z])(?:{_alternatives(names)})(?![a-z])"
            link = r"\s+(?:of\s+|is\s+|at\s+|in\s+the\s+range\s+)?"
            for form in (_BETWEEN, _SPAN, _BOUND):  # the field named first, then after
                self._patterns.append((re.compile(named + link + form), field))
                self._patterns.append(
                    (re.compile(r"(?<![a-z0-9])" + form + r"\s+(?:in\s+)?" + named), field)
                )
        if PRICE_FIELD in self.fields:
            paid, paid_b = _amount_of("a", "required"), _amount_of("b", "required")
            forms = (
                rf"(?:between|from)\s+{_amount_of('a')}\s+(?:and|to|-)\s+{paid_b}",
                rf"(?:between|from)\s+{paid}\s+(?:and|to|-)\s+{_amount_of('b')}",
                rf"{paid}\s*(?:-|\u2013|to)\s*{_amount_of('b')}",
                rf"(?:{_LOWER}|{_UPPER})\s+{paid}",
                rf"(?P<cheaper>cheaper|less\s+expensive)\s+than\s+{_amount_of('a')}",
                rf"(?P<dearer>more\s+expensive|pricier|dearer)\s+than\s+{_amount_of('a')}",
            )
            self._patterns += [(re.compile(r"(?<![a-z])" + f), PRICE_FIELD) for f in forms]

    def find(self, text: str) -> list[Amount]:
        """Non-overlapping amounts in ``text`` (lower-cased, as ``text.flat`` gives it), in
        order; a longer reading wins over one inside it."""
        found = [
            amount
            for pattern, field in self._patterns
            for match in pattern.finditer(text)
            if (amount := _amount(match, field)) is not None
        ]
        found.sort(key=lambda a: (-(a.end - a.start), a.start))
        kept: list[Amount] = []
        for amount in found:
            if all(amount.start >= k.end or amount.end <= k.start for k in kept):
                kept.append(amount)
        return sorted(kept, key=lambda a: a.start)


def _amount(match: re.Match[str], field: str) -> Amount | None:
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    a = groups.get("a") or groups.get("a_")
    b = groups.get("b") or groups.get("b_")
    if a is None:
        return None
    gte: float | None
    lte: float | None
    if b is not None:
        gte, lte = sorted((_value(a), _value(b)))
    elif "lower" in groups or "dearer" in groups:
        gte, lte = _value(a), None
    else:
        gte, lte = None, _value(a)
    return Amount(match.start(), match.end(), field, gte, lte)
