"""Cold items' vectors from their tags: hand-computed on a tiny backbone, the backbone's own
formula, a checkpoint round trip and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpr_plugin.errors import ConfigError
from dpr_plugin.models.backbone import BackboneConfig
from dpr_plugin.models.cold_items import (
    DEFAULT_OWN_ROW,
    OWN_ROWS,
    ColdItemTables,
    cold_item_vector,
    cold_item_vectors,
    tag_order,
)
from dpr_plugin.models.factory import build_backbone

# the catalogue of the tiny model: internal ids 1..4; tag order A, B, C
ITEM_TAGS = [["A"], ["B", "A"], ["C"], ["B", "C"]]
OWN = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0], [1.0, 1.0, 1.0, 5.0]],
    dtype=np.float32,
)
TAG_TABLE = np.array(
    [[10.0, 0.0, 0.0, 0.0], [0.0, 20.0, 0.0, 0.0], [0.0, 0.0, 40.0, 8.0]], dtype=np.float32
)


def _tiny(kind: str = "sasrec", tag_embeddings: bool = True):
    torch.manual_seed(0)
    config = BackboneConfig(
        kind=kind,
        num_items=4,
        hidden_dim=4,
        max_len=5,
        num_heads=1,
        tag_embeddings=tag_embeddings,
        num_tags=3 if tag_embeddings else 0,
    )
    model = build_backbone(config)
    with torch.no_grad():
        model.item_embedding.weight[1:] = torch.from_numpy(OWN)
        if tag_embeddings:
            model.tag_table.copy_(torch.from_numpy(TAG_TABLE))
            matrix = np.zeros((5, 3), dtype=bool)
            for item, tags in enumerate(ITEM_TAGS, start=1):
                for tag in tags:
                    matrix[item, "ABC".index(tag)] = True
            model.set_item_tags(matrix)
    return model.eval()


@pytest.fixture
def tables() -> ColdItemTables:
    return ColdItemTables.of(_tiny(), ITEM_TAGS)


def test_tag_order_is_the_sorted_union_of_the_catalogue_tags() -> None:
    assert tag_order(ITEM_TAGS) == ["A", "B", "C"]
    assert tag_order([]) == []


def test_zero_own_row_is_the_mean_of_the_tag_vectors(tables: ColdItemTables) -> None:
    got = cold_item_vector(tables, ("A", "C"), "zero")
    np.testing.assert_allclose(got, [5.0, 0.0, 20.0, 4.0])  # (tA + tC) / 2 by hand
    assert got.dtype == np.float32


def test_mean_own_row_adds_the_mean_trained_row(tables: ColdItemTables) -> None:
    # mean own row: ([1,0,0,0] + [0,2,0,0] + [0,0,3,0] + [1,1,1,5]) / 4 = [0.5, 0.75, 1, 1.25]
    got = cold_item_vector(tables, ("C",), "mean")
    np.testing.assert_allclose(got, [0.5, 0.75, 41.0, 9.25])


def test_same_tags_own_row_takes_the_items_with_that_tag_set(tables: ColdItemTables) -> None:
    # only item 4 carries exactly {B, C}: own row [1,1,1,5], tags (tB + tC) / 2 = [0,10,20,4]
    np.testing.assert_allclose(
        cold_item_vector(tables, ("C", "B"), "same_tags"), [1.0, 11.0, 21.0, 9.0]
    )
    # no trained item carries {A, B, C}: falls back to the mean own row
    np.testing.assert_allclose(
        cold_item_vector(tables, ("A", "B", "C"), "same_tags"),
        cold_item_vector(tables, ("A", "B", "C"), "mean"),
    )


def test_interaction_mean_own_row_weights_rows_by_interactions() -> None:
    tables = ColdItemTables.of(_tiny(), ITEM_TAGS, [1, 0, 0, 3])
    # own row 0.25 * [1,0,0,0] + 0.75 * [1,1,1,5] = [1, 0.75, 0.75, 3.75]; + tA = [10,0,0,0]
    np.testing.assert_allclose(
        cold_item_vector(tables, ("A",), "interaction_mean"), [11.0, 0.75, 0.75, 3.75]
    )


def test_interaction_mean_without_counts_is_an_error(tables: ColdItemTables) -> None:
    with pytest.raises(ConfigError, match="interaction counts"):
        cold_item_vector(tables, ("A",), "interaction_mean")
    with pytest.raises(ConfigError, match="3 counts for 4 items"):
        ColdItemTables.of(_tiny(), ITEM_TAGS, [1, 2, 3])


def test_a_cold_copy_of_a_trained_item_scores_as_the_backbone_scores_it() -> None:
    model = _tiny()
    tables = ColdItemTables.of(model, ITEM_TAGS)
    with torch.no_grad():
        trained = model.item_vectors()[1:].numpy()
    # item 4 is the only one with tags {B, C}, so its "same_tags" own row is its own row
    np.testing.assert_allclose(
        cold_item_vector(tables, ITEM_TAGS[3], "same_tags"), trained[3], rtol=1e-6
    )
    # the zero-row vector of a trained item is its backbone vector minus its own row
    for item, tags in enumerate(ITEM_TAGS):
        np.testing.assert_allclose(
            cold_item_vector(tables, tags, "zero"), trained[item] - OWN[item], atol=1e-5
        )


def test_a_repeated_tag_counts_once_as_in_the_backbone(tables: ColdItemTables) -> None:
    np.testing.assert_allclose(
        cold_item_vector(tables, ("A", "A", "C"), "zero"),
        cold_item_vector(tables, ("A", "C"), "zero"),
    )


def test_batch_is_float32_rows_in_order(tables: ColdItemTables) -> None:
    items = [("A",), ("B", "C"), ("C",)]
    got = cold_item_vectors(tables, items, "zero", ["x", "y", "z"])
    assert got.shape == (3, 4) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], TAG_TABLE[0])
    np.testing.assert_allclose(got[1], (TAG_TABLE[1] + TAG_TABLE[2]) / 2)
    np.testing.assert_allclose(got[2], TAG_TABLE[2])
    assert cold_item_vectors(tables, [], "zero").shape == (0, 4)
    assert DEFAULT_OWN_ROW in OWN_ROWS
    np.testing.assert_allclose(
        cold_item_vectors(tables, items), cold_item_vectors(tables, items, DEFAULT_OWN_ROW)
    )


def test_unknown_tag_names_the_item_and_the_tag(tables: ColdItemTables) -> None:
    with pytest.raises(ConfigError, match=r"cold item 'movie-9'.*'Noir'"):
        cold_item_vectors(tables, [("A",), ("A", "Noir")], "zero", ["movie-8", "movie-9"])
    with pytest.raises(ConfigError, match=r"cold item '#1'.*'Noir'"):
        cold_item_vectors(tables, [("A",), ("Noir",)], "zero")


def test_item_without_tags_is_an_error(tables: ColdItemTables) -> None:
    with pytest.raises(ConfigError, match=r"cold item 'm1': has no tags"):
        cold_item_vectors(tables, [()], "mean", ["m1"])


def test_unknown_own_row_and_misaligned_ids_are_errors(tables: ColdItemTables) -> None:
    with pytest.raises(ConfigError, match="own_row"):
        cold_item_vectors(tables, [("A",)], "median")
    with pytest.raises(ConfigError, match="own_row"):
        cold_item_vector(tables, ("A",), "median")
    with pytest.raises(ConfigError, match="item_ids"):
        cold_item_vectors(tables, [("A",)], "zero", ["a", "b"])


@pytest.mark.parametrize("kind", ["sasrec", "gru4rec"])
def test_backbone_without_tag_embeddings_is_an_error(kind: str) -> None:
    with pytest.raises(ConfigError, match="tag embeddings"):
        ColdItemTables.of(_tiny(kind, tag_embeddings=False), ITEM_TAGS)


def test_catalogue_that_does_not_fit_the_backbone_is_an_error() -> None:
    model = _tiny()
    with pytest.raises(ConfigError, match="4"):
        ColdItemTables.of(model, ITEM_TAGS[:3])
    with pytest.raises(ConfigError, match="tag table has 3 rows"):
        ColdItemTables.of(model, [["A"], ["A"], ["B"], ["B"]])


def test_tables_are_copies_the_model_can_keep_training() -> None:
    model = _tiny()
    tables = ColdItemTables.of(model, ITEM_TAGS)
    with torch.no_grad():
        model.tag_table.zero_()
    np.testing.assert_allclose(tables.tag_table, TAG_TABLE)


def test_from_a_saved_checkpoint(tmp_path) -> None:
    from dpr_plugin.training.checkpoint import Catalogue, load_backbone, save_backbone

    model = _tiny()
    catalogue = Catalogue(
        ["i1", "i2", "i3", "i4"], ["t1", "t2", "t3", "t4"], [list(t) for t in ITEM_TAGS]
    )
    save_backbone(tmp_path / "ckpt", model, catalogue, {})
    loaded, loaded_catalogue, _ = load_backbone(tmp_path / "ckpt")
    tables = ColdItemTables.of(loaded, loaded_catalogue.tags)
    assert tables.tag_names == ["A", "B", "C"]
    np.testing.assert_allclose(
        cold_item_vectors(tables, [("B", "C")], "same_tags"),
        loaded.item_vectors()[4:5].detach().numpy(),
        rtol=1e-6,
    )
