from __future__ import annotations

import pytest

from dpr_plugin.intent.eras import find_eras
from dpr_plugin.intent.text import flat


def _eras(text: str, newest: int = 2016) -> list[tuple[str, int | None, int | None]]:
    return [(text[m.start : m.end], m.gte, m.lte) for m in find_eras(flat(text), newest)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("movies from the eighties", [("the eighties", 1980, 1989)]),
        ("something from the '90s", [("the '90s", 1990, 1999)]),
        ("late 1990s", [("late 1990s", 1996, 1999)]),
        ("early 80s", [("early 80s", 1980, 1983)]),
        ("films made before 1970", [("before 1970", None, 1969)]),
        ("anything after 2010", [("after 2010", 2011, None)]),
        ("since the 90s", [("since the 90s", 1990, None)]),
        ("before the 80s", [("before the 80s", None, 1979)]),
        ("between 1985 and 1995", [("between 1985 and 1995", 1985, 1995)]),
        ("1980-1990", [("1980-1990", 1980, 1990)]),
        ("a 1995 film", [("1995", 1995, 1995)]),
        ("something recent", [("recent", 2011, None)]),
        ("new releases", [("new releases", 2011, None)]),
        ("thrillers from the last few years", [("last few years", 2011, None)]),
        ("an old classic", [("old", None, 1979), ("classic", None, 1979)]),
        ("black and white", [("black and white", None, 1979)]),
        ("the 20s", [("the 20s", 1920, 1929)]),  # 2020s are past the catalogue's newest year
        ("the 10s", [("the 10s", 2010, 2019)]),
        ("more comedies", []),
        ("give me 3 westerns", []),
        ("more comedies, take 1802", []),  # a bare number is no year
        ("from 1995", [("from 1995", 1995, 1995)]),
        ("2001 movies", [("2001", 2001, 2001)]),
    ],
)
def test_eras_read_decades_comparisons_spans_and_relative_words(text, expected) -> None:
    assert _eras(text) == expected


def test_recent_is_relative_to_the_catalogues_newest_year() -> None:
    assert _eras("something recent", newest=2000) == [("recent", 1995, None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 1990 onwards", [("1990 onwards", 1990, None)]),
        ("2000+ films", [("2000+", 2000, None)]),
        ("the 80s and later", [("the 80s and later", 1980, None)]),
        ("1975 or earlier", [("1975 or earlier", None, 1975)]),
    ],
)
def test_open_ended_years(text, expected) -> None:
    assert _eras(text) == expected
