"""Properties every backbone must have: shapes, padding invariance, causality, scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpr_plugin.errors import ConfigError
from dpr_plugin.models.backbone import BACKBONES, BackboneConfig, build_backbone

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
        ("init_std", {"init_std": -0.1}),
        ("output_table", {"output_table": "shared"}),
    ],
)
def test_backbone_config_names_field_when_invalid(field: str, kwargs: dict[str, object]) -> None:
    args = {"kind": "sasrec", "num_items": 5, **kwargs}
    with pytest.raises(ConfigError, match=field):
        BackboneConfig(**args)  # type: ignore[arg-type]


def test_backbone_config_rejects_unknown_keys_by_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown field.*layers"):
        BackboneConfig.from_dict({"kind": "sasrec", "num_items": 3, "layers": 2})


@pytest.mark.parametrize("kind", BACKBONES)
def test_backbone_init_std_draws_every_weight_small_and_keeps_padding_zero(kind: str) -> None:
    torch.manual_seed(0)
    config = BackboneConfig(kind=kind, num_items=300, hidden_dim=32, max_len=12, init_std=0.02)
    model = build_backbone(config)
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    weights = torch.cat([p.detach().flatten() for p in matrices])
    assert abs(float(weights.std()) - 0.02) < 0.002
    assert torch.all(model.item_vectors()[0] == 0)
    for name, param in model.named_parameters():
        if param.dim() == 1 and "norm" not in name:
            assert torch.all(param == 0), name
    default = build_backbone(BackboneConfig(kind=kind, num_items=300, hidden_dim=32, max_len=12))
    assert float(default.item_vectors()[1:].detach().std()) > 0.1  # N(0, 1/D) when init_std = 0


@pytest.mark.parametrize("kind", BACKBONES)
def test_output_table_scores_against_the_table_it_names(kind: str) -> None:
    history = torch.randint(1, 31, (4, 12))
    tied = _model(kind)
    assert tied.item_vectors() is tied.item_embedding.weight
    assert not any(name.startswith("output_embedding") for name in tied.state_dict())
    torch.manual_seed(0)
    config = BackboneConfig(
        kind=kind, num_items=30, hidden_dim=16, max_len=12, output_table="separate"
    )
    separate = build_backbone(config).eval()
    assert separate.item_vectors() is separate.output_embedding.weight
    assert torch.all(separate.item_vectors()[0] == 0)
    user = separate.user_vector(history)
    torch.testing.assert_close(separate.score_all(user), user @ separate.item_vectors()[1:].T)
    inputs = separate.item_embedding.weight[1:]
    assert not torch.allclose(separate.score_all(user), user @ inputs.T)
    # the history is still read from the input table: changing the output one leaves the user
    with torch.no_grad():
        separate.output_embedding.weight.mul_(2.0)
    torch.testing.assert_close(separate.user_vector(history), user, atol=ATOL, rtol=0)


@pytest.mark.parametrize("kind", BACKBONES)
def test_subtract_input_takes_a_learned_multiple_of_each_read_item(kind: str) -> None:
    history = torch.tensor([[0, 0, 0, 5, 9, 2, 7, 3, 1, 4, 6, 8], [0] * 10 + [3, 3]])
    plain = _model(kind)
    assert not any("input_weight" in name for name in plain.state_dict())
    torch.manual_seed(0)
    config = BackboneConfig(kind=kind, num_items=30, hidden_dim=16, max_len=12, subtract_input=True)
    model = build_backbone(config).eval()
    assert float(model.input_weight.detach()) == 0.0  # starts as the plain model
    torch.testing.assert_close(model(history), plain(history), atol=ATOL, rtol=0)
    with torch.no_grad():
        model.input_weight.fill_(0.5)
    expected = plain(history) - 0.5 * plain.item_embedding(history)
    torch.testing.assert_close(model(history), expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(model(history)[:, :3], plain(history)[:, :3], atol=ATOL, rtol=0)


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
