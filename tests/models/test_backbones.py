"""Properties every backbone must have: shapes, padding invariance, causality, scoring."""

from __future__ import annotations

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
