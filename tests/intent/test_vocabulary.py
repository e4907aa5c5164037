from __future__ import annotations

from pathlib import Path

import pytest

from dpr_plugin.errors import ConfigError
from dpr_plugin.intent.vocabulary import (
    Vocabulary,
    read_vocabulary_file,
    resolve_vocabulary,
)

ML1M_TAGS = ("Action", "Children's", "Comedy", "Horror")
MIND_TAGS = ("autos", "news", "sports")


def test_auto_picks_the_bundled_vocabulary_that_describes_the_tags() -> None:
    movielens = resolve_vocabulary("auto", ML1M_TAGS)
    assert movielens.name == "movielens" and movielens.tags == ML1M_TAGS
    assert "kids" in movielens.term("Children's").synonyms  # via its alias
    assert resolve_vocabulary("auto", MIND_TAGS).name == "mind"
    assert resolve_vocabulary("auto", ("alpha", "beta")).name == "tag-names"


def test_a_tag_the_file_does_not_describe_gets_its_own_name() -> None:
    vocabulary = resolve_vocabulary("movielens", ("Comedy", "Space-Opera"))
    assert vocabulary.term("Space-Opera").synonyms == ("space-opera", "space opera")


def test_a_platform_file_is_read_and_round_trips_through_the_export_json(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text(
        'name = "shop"\nitem_noun = ["product", "products"]\n'
        '[tags.outdoor]\nsurface = "outdoor gear"\ndescription = "camping and hiking gear"\n'
        'synonyms = ["camping", "hiking", "tent"]\nphrases = ["for a weekend in the woods"]\n'
    )
    vocabulary = read_vocabulary_file(path, ("outdoor", "kitchen"))
    assert vocabulary.item_nouns == ("product", "products")
    assert vocabulary.term("outdoor").surface == "outdoor gear"
    again = Vocabulary.from_json(vocabulary.to_json(), "test")
    assert again == vocabulary
    assert ("outdoor", "for a weekend in the woods") in again.zero_shot_rows()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[tags.outdoor]\nsurface = 3\n", r"tags\.outdoor\.surface: expected a non-empty string"),
        (
            '[tags.outdoor]\nsurface = "x"\ndescription = "y"\nsynonyms = "tent"\n',
            r"tags\.outdoor\.synonyms: expected a list",
        ),
        ("name = 1\n", r"expected a \[tags\.<name>\] table per tag"),
        ("[tags\n", "invalid TOML"),
    ],
)
def test_a_bad_vocabulary_file_is_refused_naming_file_and_field(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=rf"^vocabulary: {path}.*{message}"):
        read_vocabulary_file(path, ("outdoor",))
