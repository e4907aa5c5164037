"""The intent reader on the bundled MovieLens vocabulary: clauses, negation scope, eras,
titles, disjunctions and nonsense (rules only; the zero-shot reader has its own test)."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.intent.clauses import ItemTarget, RangeTarget, Source, TagTarget
from dpr_plugin.intent.reader import IntentReader
from dpr_plugin.intent.titles import TitleIndex
from dpr_plugin.intent.vocabulary import resolve_vocabulary
from dpr_plugin.intent.zero_shot import ZeroShotTable

TAGS = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip
TITLES = ["Toy Story (1995)", "Godfather, The (1972)", "Alien (1979)", "Grease (1978)"]


@pytest.fixture(scope="module")
def reader() -> IntentReader:
    return IntentReader(resolve_vocabulary("movielens", TAGS), TitleIndex(TITLES), 2016)


def read(reader: IntentReader, prompt: str) -> list[str]:
    """Clauses as "+Tag", "-Tag", "+A|B" (any of), "+year 1980..1989", "-item Title"."""
    out = []
    for clause in reader.read(prompt).clauses:
        sign = "-" if clause.negative else "+"
        target = clause.target
        if isinstance(target, TagTarget):
            out.append(sign + "|".join(target.names))
        elif isinstance(target, RangeTarget):
            low = "" if target.gte is None else f"{target.gte:g}"
            high = "" if target.lte is None else f"{target.lte:g}"
            out.append(f"{sign}{target.field} {low}..{high}")
        else:
            assert isinstance(target, ItemTarget)
            out.append(f"{sign}item {target.title}")
    return out


@pytest.mark.parametrize(
    ("prompt", "clauses"),
    [
        ("more comedies", ["+Comedy"]),
        ("no horror tonight please", ["-Horror"]),
        ("I'm in the mood for a good scare", ["+Horror"]),
        ("not in the mood for anything lovey-dovey", ["-Romance"]),
        ("I don't want to see any spaceships", ["-Sci-Fi"]),
        ("keep the gore away", ["-Horror"]),
        ("westerns? not today", ["-Western"]),
        ("dramas are boring", ["-Drama"]),
        ("I'd love some horror", ["+Horror"]),  # "love" after a subject is a verb
        ("I'm done with westerns", ["-Western"]),
        ("gore-free please", ["-Horror"]),
        ("a rom-com", ["+Comedy", "+Romance"]),  # a synonym of two tags names both
    ],
)
def test_one_clause_with_its_polarity(reader: IntentReader, prompt: str, clauses) -> None:
    assert read(reader, prompt) == clauses


@pytest.mark.parametrize(
    ("prompt", "clauses"),
    [
        ("funny, but not a cartoon", ["+Comedy", "-Animation"]),
        ("thrillers without the horror", ["+Thriller", "-Horror"]),
        ("no horror, give me comedies instead", ["-Horror", "+Comedy"]),
        ("skip the dramas and show me some action", ["-Drama", "+Action"]),
        ("something for the kids that isn't animated", ["+Children", "-Animation"]),
        ("fantasy films, except the animated ones", ["+Fantasy", "-Animation"]),
        ("comedies instead of dramas", ["+Comedy", "-Drama"]),
        ("anything but westerns", ["-Western"]),
    ],
)
def test_negation_scope_ends_at_contrast_and_starts_at_its_cue(
    reader: IntentReader, prompt: str, clauses
) -> None:
    assert read(reader, prompt) == clauses


@pytest.mark.parametrize(
    ("prompt", "clauses"),
    [
        ("funny and romantic", ["+Comedy", "+Romance"]),
        ("sci-fi action", ["+Sci-Fi", "+Action"]),
        ("no horror or gore", ["-Horror"]),  # both name Horror: one clause
        ("nothing animated or childish", ["-Animation", "-Children"]),
        ("neither musicals nor westerns", ["-Musical", "-Western"]),
        ("a western or a war film", ["+Western|War"]),
        ("either a documentary or a drama", ["+Documentary|Drama"]),
    ],
)
def test_lists_conjunctions_and_disjunctions(reader: IntentReader, prompt: str, clauses) -> None:
    assert read(reader, prompt) == clauses


@pytest.mark.parametrize(
    ("prompt", "clauses"),
    [
        ("80s action movies", ["+year 1980..1989", "+Action"]),
        ("an old classic", ["+year ..1979"]),
        ("recent horror", ["+year 2011..", "+Horror"]),
        ("nothing older than 2000", ["+year 2000.."]),  # an unwanted one-sided range, flipped
        ("not from the 80s", ["-year 1980..1989"]),
        ("musicals from the fifties or sixties", ["+Musical", "+year 1950..1969"]),
        ("movies from the 60s and 70s", ["+year 1960..1979"]),  # both cannot hold: either
        ("cartoons for my 5 year old", ["+Animation"]),  # an age, not an era
    ],
)
def test_eras_become_ranges(reader: IntentReader, prompt: str, clauses) -> None:
    assert read(reader, prompt) == clauses


@pytest.mark.parametrize(
    ("prompt", "clauses"),
    [
        ("more like Toy Story", ["+item Toy Story (1995)"]),
        ("something similar to the godfather", ["+item Godfather, The (1972)"]),
        ("nothing like Alien", ["-item Alien (1979)"]),  # a title, not the Sci-Fi synonym
        ("like grease but no musicals", ["+item Grease (1978)", "-Musical"]),
        ("more like toy stroy", ["+item Toy Story (1995)"]),  # fuzzy
        ('anything similar to "The Godfather"', ["+item Godfather, The (1972)"]),
        ("I'd like comedies", ["+Comedy"]),  # "like" as a verb
        ("more like comedies", ["+Comedy"]),  # a tag, not a title
    ],
)
def test_item_references_by_title(reader: IntentReader, prompt: str, clauses) -> None:
    assert read(reader, prompt) == clauses


@pytest.mark.parametrize("prompt", ["the", "ok", "?!", "🎬🍿", "please", "something 42"])
def test_a_prompt_without_content_has_no_clause_and_nothing_pending(
    reader: IntentReader, prompt: str
) -> None:
    draft = reader.draft(prompt)
    assert draft.clauses == () and draft.pending == ()


def test_spans_point_into_the_original_prompt(reader: IntentReader) -> None:
    prompt = "Funny, but NOT a Cartoon"
    clauses = reader.read(prompt).clauses
    assert [prompt[c.start : c.end] for c in clauses] == ["Funny", "Cartoon"]
    assert all(c.source is Source.LEXICON for c in clauses)


def test_unplaced_words_go_to_the_zero_shot_reader(reader: IntentReader) -> None:
    draft = reader.draft("asdkjh qwe, nothing with guns")
    assert draft.pending_texts == ["asdkjh qwe", "guns"]
    assert [p.negative for p in draft.pending] == [False, True]
    # without embeddings the pending parts are reported unread
    intent = reader.finish(draft, None)
    assert intent.clauses == () and intent.unread == ("asdkjh qwe", "guns")


def test_the_zero_shot_reader_places_a_clause_above_threshold_and_margin() -> None:
    vocabulary = resolve_vocabulary("movielens", ("Comedy", "Horror"))
    rows = vocabulary.zero_shot_rows()
    # texts of Comedy along axis 0, of Horror along axis 1
    table = np.array([[1.0, 0, 0] if tag == "Comedy" else [0, 1.0, 0] for tag, _ in rows])
    reader = IntentReader(vocabulary, zero_shot=ZeroShotTable([t for t, _ in rows], table))
    intent = reader.read("a jolly evening", lambda texts: np.array([[0.9, 0.1, 0.1]]))
    (clause,) = intent.clauses
    assert clause.source is Source.ZERO_SHOT and clause.target.names == ("Comedy",)
    assert reader.read("qwerty", lambda texts: np.array([[0.7, 0.7, 0]])).clauses == ()  # tie
    assert reader.read("zzz", lambda texts: np.array([[0.3, 0.2, 1.0]])).clauses == ()  # far
