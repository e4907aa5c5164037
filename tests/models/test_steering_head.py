"""Identity properties of the steering head that serving relies on."""

from __future__ import annotations

import pytest
import torch

from dpr_plugin.errors import ConfigError
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead


def _head(seed: int = 0) -> SteeringHead:
    torch.manual_seed(seed)
    head = SteeringHead(SteeringConfig(hidden_dim=16, prompt_dim=12, num_tags=5))
    for expert in head.experts:  # leave the zero init so the experts really move the vector
        torch.nn.init.normal_(expert.net[-1].weight)
    return head.eval()


def test_steering_head_returns_user_exactly_when_strength_zero() -> None:
    head = _head()
    user, prompt = torch.randn(4, 16), torch.randn(4, 12)
    out = head(user, prompt, torch.zeros(4, 1))
    assert torch.equal(out.steered, user)
    assert not torch.equal(head(user, prompt, torch.ones(4, 1)).steered, user)


def test_steering_head_is_identity_when_untrained() -> None:
    torch.manual_seed(0)
    head = SteeringHead(SteeringConfig(hidden_dim=16, prompt_dim=12, num_tags=5)).eval()
    user = torch.randn(3, 16)
    assert torch.equal(head(user, torch.randn(3, 12), torch.ones(3, 1)).steered, user)


def test_steering_head_expert_weights_split_by_polarity() -> None:
    head = _head()
    out = head(torch.randn(6, 16), torch.randn(6, 12), torch.ones(6, 1))
    k = head.config.positive_experts
    torch.testing.assert_close(out.expert_weights.sum(-1), torch.ones(6))
    torch.testing.assert_close(out.expert_weights[:, k:].sum(-1), out.negative_prob)
    assert out.tag_logits.shape == (6, 5)


def test_steering_config_names_field_when_invalid() -> None:
    with pytest.raises(ConfigError, match="positive_experts"):
        SteeringConfig(hidden_dim=8, positive_experts=0)
