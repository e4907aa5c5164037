"""Amounts over a catalogue's declared numeric fields: read only when the field is named or a
currency is given, both bounds and spans, and as clauses beside the tags in a shop's prompt."""

from __future__ import annotations

import pytest

from dpr_plugin.intent.amounts import AmountReader, field_words
from dpr_plugin.intent.clauses import Source
from dpr_plugin.intent.reader import IntentReader
from dpr_plugin.intent.vocabulary import Vocabulary, default_terms
from tests.intent.test_reader import read

FIELDS = ("price", "pages", "rating")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("cameras under $30", [("under $30", "price", None, 30)]),
        ("something less than 30 euros", [("less than 30 euros", "price", None, 30)]),
        ("between 20 and 40 dollars", [("between 20 and 40 dollars", "price", 20, 40)]),
        ("from 10 to 25 bucks", [("from 10 to 25 bucks", "price", 10, 25)]),
        ("$20-$40 headphones", [("$20-$40", "price", 20, 40)]),
        ("cheaper than £15", [("cheaper than £15", "price", None, 15)]),
        ("more expensive than 200", [("more expensive than 200", "price", 200, None)]),
        ("price between 10 and 20", [("price between 10 and 20", "price", 10, 20)]),
        ("priced at most 12.50", [("priced at most 12.50", "price", None, 12.5)]),
        ("over $1,000", [("over $1,000", "price", 1000, None)]),
        ("rating of at least 4", [("rating of at least 4", "rating", 4, None)]),
        ("under 300 pages", [("under 300 pages", "pages", None, 300)]),
        ("under 50", []),  # says not what it measures
        ("under 2000", []),
        ("top 10 toys", []),
    ],
)
def test_amounts_are_read_when_they_say_what_they_measure(text: str, found: list) -> None:
    amounts = AmountReader(field_words(FIELDS)).find(text)
    assert [(text[a.start : a.end], a.field, a.gte, a.lte) for a in amounts] == found


def test_only_declared_fields_are_read() -> None:
    assert AmountReader(field_words(("pages",))).find("under $30") == []
    assert field_words(("unit_price",)) == {"unit_price": ("unit price", "unit prices")}


def test_a_shop_prompt_reads_as_tag_and_range_clauses_with_their_polarity() -> None:
    vocabulary = Vocabulary("tag-names", tuple(default_terms(t) for t in ("cameras", "toys")))
    reader = IntentReader(vocabulary, amounts=AmountReader(field_words(("price",))))
    assert read(reader, "cameras under $30") == ["+cameras", "+price ..30"]
    assert read(reader, "toys, but nothing over 50 dollars") == ["+toys", "-price 50.."]
    (clause,) = reader.read("price between 10 and 20").clauses
    assert clause.source is Source.AMOUNT and clause.text == "price between 10 and 20"
