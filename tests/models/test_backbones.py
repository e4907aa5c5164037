"""Properties every backbone must have: shapes, padding invariance, causality, scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpr_plugin.errors import ConfigError
from dpr_plugin.models.backbone import BACKBONES, BackboneConfig
from dpr_plugin.models.factory import build_backbone

# float32 reorderings of the same sums differ by ~1e-7 relative; 1e-5 leaves room.
ATOL = 1e-5


def _model(kind: str, max_len: int = 12) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_backbone(BackboneConfig(kind=kind, num_items=30, hidden_dim=16, max_len=max_len))
    return model.eval()


@pytest.mark.parametrize("kind", BACKBONES)
def test_backbone_user_vector_has_item_space_shape(kind: str) -> None:
    model = _model(kind)
    history = torch.randint(1, 31, (5, 12))
    assert model.user_vector(history).shape == (5, 16)
    assert model.score_all(model.user_vector(history)).shape == (5, 30)


@pytest.mark.parametrize("kind", BACKBONES)
def test_backbone_ignores_leading_padding_when_columns_cut(kind: str) -> None:
    model = _model(kind)
    history = torch.tensor(
        [[0, 0, 0, 0, 0, 0, 0, 5, 9, 2, 7, 3], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 4, 8]]
    )
    full = model.user_vector(history)
    cut = model.user_vector(history[:, 7:])
    torch.testing.assert_close(full, cut, atol=ATOL, rtol=0)


@pytest.mark.parametrize("kind", BACKBONES)
def test_backbone_state_ignores_future_items(kind: str) -> None:
    model = _model(kind)
    a = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]])
    b = a.clone()
    b[0, -1] = 29
    torch.testing.assert_close(model(a)[:, :-1], model(b)[:, :-1], atol=ATOL, rtol=0)
    assert not torch.allclose(model(a)[:, -1], model(b)[:, -1])


@pytest.mark.parametrize("kind", BACKBONES)
def test_backbone_output_is_finite_when_history_all_padding(kind: str) -> None:
    model = _model(kind)
    assert torch.isfinite(model.user_vector(torch.zeros(2, 12, dtype=torch.long))).all()


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("kind", {"kind": "bert4rec"}),
        ("hidden_dim", {"hidden_dim": 0}),
        ("dropout", {"dropout": 1.5}),
        ("num_heads", {"hidden_dim": 10, "num_heads": 3}),
    ],
)
def test_backbone_config_names_field_when_invalid(field: str, kwargs: dict[str, object]) -> None:
    args = {"kind": "sasrec", "num_items": 5, **kwargs}
    with pytest.raises(ConfigError, match=field):
        BackboneConfig(**args)  # type: ignore[arg-type]


def test_backbone_config_rejects_unknown_keys_by_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown field.*layers"):
        BackboneConfig.from_dict({"kind": "sasrec", "num_items": 3, "layers": 2})


@pytest.mark.parametrize(
    ("name", "default", "other"),
    [
        ("init_std", 0.0, 0.02),
        ("output_table", "tied", "separate"),
        ("subtract_input", False, True),
    ],
)
def test_backbone_config_loads_a_retired_option_only_at_its_old_default(
    name: str, default: object, other: object
) -> None:
    """Checkpoints written before an option was retired record it; at its default they load
    as before, at another value the error names the option instead of building a different
    model."""
    base = {"kind": "sasrec", "num_items": 3}
    assert BackboneConfig.from_dict({**base, name: default}) == BackboneConfig(**base)
    with pytest.raises(ConfigError, match=rf"{name} was retired"):
        BackboneConfig.from_dict({**base, name: other})


def _tag_matrix() -> np.ndarray:
    tags = np.zeros((31, 3), dtype=bool)  # 30 items + the padding row
    tags[1:11, 0] = True  # items 1-10: tag 0
    tags[11:21, 1] = True  # items 11-20: tag 1
    tags[5:8, 2] = True  # items 5-7: tags 0 and 2; items 21-30: no tag
    return tags


@pytest.mark.parametrize("kind", BACKBONES)
def test_tag_embeddings_add_the_mean_of_each_item_tags_vectors(kind: str) -> None:
    torch.manual_seed(0)
    config = BackboneConfig(
        kind=kind, num_items=30, hidden_dim=16, max_len=12, tag_embeddings=True, num_tags=3
    )
    model = build_backbone(config).eval()
    model.set_item_tags(_tag_matrix())
    own, tags = model.item_embedding.weight.detach(), model.tag_table.detach()
    table = model.item_vectors().detach()
    assert torch.all(table[0] == 0)  # padding stays the zero row
    torch.testing.assert_close(table[1] - own[1], tags[0])  # one tag: its vector
    torch.testing.assert_close(table[6] - own[6], (tags[0] + tags[2]) / 2)  # two: their mean
    torch.testing.assert_close(table[25], own[25])  # no tag: the item's own row
    # the history is read through the same composed table: moving a tag moves the user
    # (a random move: a constant one along every dimension would vanish in a LayerNorm)
    history = torch.tensor([[0] * 8 + [3, 12, 4, 9]])
    before = model.user_vector(history)
    with torch.no_grad():
        model.tag_table[2].add_(torch.randn(16))  # no history item carries tag 2
    torch.testing.assert_close(model.user_vector(history), before, atol=ATOL, rtol=0)
    with torch.no_grad():
        model.tag_table[0].add_(torch.randn(16))
    assert not torch.allclose(model.user_vector(history), before, atol=1e-3)


def test_tag_embeddings_are_checked_and_kept_by_the_checkpoint(tmp_path) -> None:
    from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
    from dpr_plugin.training.checkpoint import Catalogue, load_backbone, save_backbone

    with pytest.raises(ConfigError, match="num_tags"):
        BackboneConfig(kind="sasrec", num_items=30, tag_embeddings=True)
    with pytest.raises(ConfigError, match="tag_embeddings"):
        _model("sasrec").set_item_tags(_tag_matrix())
    config = BackboneConfig(
        kind="gru4rec", num_items=30, hidden_dim=16, max_len=12, tag_embeddings=True, num_tags=3
    )
    model = build_backbone(config)
    with pytest.raises(ConfigError, match=r"tag_matrix: expected shape \(31, 3\)"):
        model.set_item_tags(_tag_matrix()[:, :2])
    model.set_item_tags(_tag_matrix())
    items = {str(i): ItemMeta(title=f"Item {i}", tags=("a",)) for i in range(1, 31)}
    pairs = [("1", str(i)) for i in range(1, 31)]
    dataset = SequenceDataset.from_interactions("tiny", pairs, items, "tiny")
    loaded, _, _ = load_backbone(save_backbone(tmp_path / "ckpt", model, Catalogue.of(dataset), {}))
    assert loaded.config.tag_embeddings and loaded.config.num_tags == 3
    torch.testing.assert_close(loaded.item_vectors(), model.item_vectors())
