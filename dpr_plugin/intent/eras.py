"""Eras in a prompt → ranges over a numeric payload field (``year`` for films).

Decades ("the eighties", "80s", "late 1990s"), comparisons ("before 1970", "after the 90s",
"older than 2000"), spans ("between 1985 and 1995", "1980-1990"), single years ("from 1995")
and relative words: *recent* is the newest ``RECENT_YEARS`` of the catalogue (a catalogue is a
snapshot, so "recent" is relative to its newest item), *old* / *classic* is before
``OLD_BEFORE`` (how viewers today use the word, whatever the catalogue).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RECENT_YEARS = 6
"""``recent``: the catalogue's newest year and the five before it."""
OLD_BEFORE = 1980
"""``old`` / ``classic`` / ``vintage``: released before this year."""

_DECADE_WORDS = {
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "nineties": 90,
    "noughties": 0,
    "aughts": 0,
}
_PART = r"(?:(?P<part>early|mid|late)[\s-]*)?"
_DECADE = (
    r"(?:the\s+)?" + _PART + r"(?:(?P<full>1[89]\d0|20[0-2]0)[']?s|[']?(?P<short>\d0)[']?s|"
    r"(?P<word>" + "|".join(_DECADE_WORDS) + r"))(?![a-z0-9])"
)
_YEAR = r"(?P<year>1[89]\d\d|20[0-4]\d)(?![a-z0-9'])"
_BEFORE = r"(?P<before>before|pre|prior\s+to|older\s+than|earlier\s+than|until|up\s+to)"
_AFTER = r"(?P<after>after|post|newer\s+than|later\s+than|since|from\s+at\s+least)"
_ONWARDS = (
    r"(?P<onwards>\s*\+|\s+(?:onwards?|on|and\s+later|or\s+later|and\s+newer|or\s+newer|"
    r"and\s+after))"
)
_EARLIER = r"(?P<earlier>\s+(?:and\s+earlier|or\s+earlier|and\s+older|or\s+older|and\s+before))"
_PATTERNS = [
    re.compile(
        r"(?:between|from)\s+(?P<a>1[89]\d\d|20[0-4]\d)\s+(?:and|to|-)\s+(?P<b>1[89]\d\d|20[0-4]\d)"
    ),
    re.compile(r"(?P<a>1[89]\d\d|20[0-4]\d)\s*(?:-|\u2013|to)\s*(?P<b>1[89]\d\d|20[0-4]\d)"),
    re.compile(r"(?<![a-z])" + _BEFORE + r"[\s-]*(?:" + _DECADE + "|" + _YEAR + ")"),
    re.compile(r"(?<![a-z])" + _AFTER + r"[\s-]*(?:" + _DECADE + "|" + _YEAR + ")"),
    re.compile(
        r"(?<![a-z0-9])(?:" + _DECADE + "|" + _YEAR + ")(?:" + _ONWARDS + "|" + _EARLIER + ")"
    ),
    re.compile(r"(?<![a-z0-9])" + _DECADE),
    # a bare year only after "from", "in", ... or before a word for an item ("a 1995 film"):
    # "take 1802" is not an era
    re.compile(r"\b(?:from|in|of|year|circa|around|made|released)\s+" + _YEAR),
    re.compile(_YEAR + r"(?= (?:film|films|movie|movies|flick|flicks|release|releases)\b)"),
    re.compile(
        r"(?<![a-z])(?P<recent>(?:new|recent)\s+releases?|recent|recently|newer|newest|new|"
        r"latest|modern|contemporary|current|(?:last|past)\s+(?:few|couple\s+of|\d+)\s+years|"
        r"this\s+decade)(?![a-z])"
    ),
    re.compile(
        r"(?<![a-z])(?<!year )(?<!years )(?<!year-)(?<!years-)"  # not "5 year old"
        r"(?P<old>old|older|oldies?|classics?|vintage|retro|old[\s-]school|"
        r"golden\s+age|black[\s-]+and[\s-]+white|silent\s+era|silent\s+films?)(?![a-z])"
    ),
]


@dataclass(frozen=True)
class EraMatch:
    """A span of the prompt read as ``gte <= year <= lte`` (a bound of ``None`` is open)."""

    start: int
    end: int
    gte: int | None
    lte: int | None


def _decade(match: re.Match[str], newest_year: int) -> tuple[int, int] | None:
    groups = match.groupdict()
    if groups.get("full"):
        first = int(groups["full"])
    elif groups.get("short"):
        two = int(groups["short"])
        first = 2000 + two if 2000 + two <= newest_year else 1900 + two
    elif groups.get("word"):
        two = _DECADE_WORDS[groups["word"]]
        first = 2000 + two if groups["word"] in ("noughties", "aughts") else 1900 + two
    else:
        return None
    part = groups.get("part")
    if part == "early":
        return first, first + 3
    if part == "mid":
        return first + 3, first + 6
    if part == "late":
        return first + 6, first + 9
    return first, first + 9


def _read(match: re.Match[str], newest_year: int) -> tuple[int | None, int | None]:
    groups = match.groupdict()
    if groups.get("a"):
        a, b = sorted((int(groups["a"]), int(groups["b"])))
        return a, b
    if groups.get("recent"):
        return newest_year - RECENT_YEARS + 1, None
    if groups.get("old"):
        return None, OLD_BEFORE - 1
    decade = _decade(match, newest_year)
    year = int(groups["year"]) if groups.get("year") else None
    first, last = decade if decade else (year, year)
    assert first is not None and last is not None
    if groups.get("onwards"):
        return first, None
    if groups.get("earlier"):
        return None, last
    if groups.get("before"):
        inclusive = groups["before"] in ("until", "up to")
        return None, last if inclusive and decade is None else first - (0 if inclusive else 1)
    if groups.get("after"):
        inclusive = groups["after"] in ("since", "from at least")
        return (first if inclusive else last + 1), None
    return first, last


def find_eras(text: str, newest_year: int) -> list[EraMatch]:
    """Era spans of ``text`` (already folded to lower case, same length as the prompt), left to
    right, without overlaps; where two overlap the one found by an earlier pattern wins."""
    taken: list[EraMatch] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < m.end and m.start < match.end() for m in taken):
                continue
            gte, lte = _read(match, newest_year)
            taken.append(EraMatch(match.start(), match.end(), gte, lte))
    return sorted(taken, key=lambda m: m.start)
