from __future__ import annotations

from dpr_plugin.intent.titles import TitleIndex, title_key

TITLES = [
    "Toy Story (1995)",
    "Godfather, The (1972)",
    "Godfather: Part II, The (1974)",
    "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    "Matrix, The (1999)",
    "Hamlet (1948)",
    "Hamlet (1996)",
]


def test_title_keys_drop_case_articles_year_and_alternative_titles() -> None:
    assert title_key("Godfather, The (1972)") == ("godfather",)
    assert title_key("the Godfather") == ("godfather",)
    assert title_key("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)") == ("amelie",)


def test_exact_lookup_is_case_and_article_insensitive() -> None:
    index = TitleIndex(TITLES, ids=[f"m{i}" for i in range(len(TITLES))])
    match = index.exact(["the", "godfather"])
    assert match is not None and match.title == "Godfather, The (1972)"
    assert match.item_id == 2 and match.platform_id == "m1" and match.exact
    assert index.exact(["godfather", "part", "ii"]).title == "Godfather: Part II, The (1974)"
    assert index.exact(["toy"]) is None


def test_the_prior_breaks_ties_between_items_with_one_title() -> None:
    prior = [0, 0, 0, 0, 0, 1.0, 5.0]
    assert TitleIndex(TITLES, prior).exact(["hamlet"]).title == "Hamlet (1996)"
    assert TitleIndex(TITLES).exact(["hamlet"]).title == "Hamlet (1948)"  # first listed


def test_fuzzy_lookup_takes_a_typo_but_not_a_different_title() -> None:
    index = TitleIndex(TITLES)
    match = index.fuzzy(["toy", "stroy"])
    assert match is not None and match.title == "Toy Story (1995)" and not match.exact
    assert index.fuzzy(["toy", "soldiers"]) is None


def test_a_name_that_begins_titles_takes_the_most_popular_one() -> None:
    titles = [
        "Lord of the Rings, The (1978)",
        "Lord of the Rings: The Fellowship of the Ring, The (2001)",
        "Star Wars: Episode IV - A New Hope (1977)",
        "Star Wars: Episode I - The Phantom Menace (1999)",
    ]
    index = TitleIndex(titles, prior=[10, 200, 250, 90])
    rings = index.named(["the", "lord", "of", "the", "rings"])
    assert rings.title.endswith("(2001)") and not rings.exact
    assert index.named(["star", "wars"]).title.startswith("Star Wars: Episode IV")
    assert index.named(["star", "trek"]) is None
    sequels = TitleIndex(["Toy Story (1995)", "Toy Story 2 (1999)"], prior=[100, 250])
    assert sequels.named(["toy", "story"]).title == "Toy Story (1995)"  # not 3x more popular
