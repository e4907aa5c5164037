"""Identity properties of the steering head that serving relies on."""

from __future__ import annotations

import pytest
import torch

from dpr_plugin.errors import ConfigError
from dpr_plugin.models.prompt_features import PromptFeatures
from dpr_plugin.models.steering_head import PolarityReader, SteeringConfig, SteeringHead


def _head(seed: int = 0) -> SteeringHead:
    torch.manual_seed(seed)
    head = SteeringHead(SteeringConfig(hidden_dim=16, prompt_dim=12, num_tags=5))
    for expert in head.experts:  # leave the zero init so the experts really move the vector
        torch.nn.init.normal_(expert.net[-1].weight)
    return head.eval()


def _prompts(batch: int, width: int = 5) -> PromptFeatures:
    mask = (torch.arange(width)[None, :] < torch.randint(1, width + 1, (batch, 1))).long()
    return PromptFeatures(torch.randn(batch, 12), torch.randn(batch, width, 12), mask)


def test_steering_head_returns_user_exactly_when_strength_zero() -> None:
    head = _head()
    user, prompt = torch.randn(4, 16), _prompts(4)
    out = head(user, prompt, torch.zeros(4, 1))
    assert torch.equal(out.steered, user)
    assert not torch.equal(head(user, prompt, torch.ones(4, 1)).steered, user)


def test_steering_head_is_identity_when_untrained() -> None:
    torch.manual_seed(0)
    head = SteeringHead(SteeringConfig(hidden_dim=16, prompt_dim=12, num_tags=5)).eval()
    user = torch.randn(3, 16)
    assert torch.equal(head(user, _prompts(3), torch.ones(3, 1)).steered, user)


def test_steering_head_expert_weights_split_by_polarity() -> None:
    head = _head()
    out = head(torch.randn(6, 16), _prompts(6), torch.ones(6, 1))
    k = head.config.positive_experts
    torch.testing.assert_close(out.expert_weights.sum(-1), torch.ones(6))
    torch.testing.assert_close(out.expert_weights[:, k:].sum(-1), out.negative_prob)
    assert out.tag_logits.shape == (6, 5)


def test_steering_config_names_field_when_invalid() -> None:
    with pytest.raises(ConfigError, match="positive_experts"):
        SteeringConfig(hidden_dim=8, positive_experts=0)


def test_polarity_reader_ignores_padding_when_prompt_is_padded_wider() -> None:
    torch.manual_seed(0)
    reader = PolarityReader(12, 8)
    states, mask = torch.randn(3, 4, 12), torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    states = states * mask.unsqueeze(-1)
    wide_states = torch.cat([states, torch.randn(3, 4, 12)], dim=1)  # junk beyond the mask
    wide_mask = torch.cat([mask, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(reader(states, mask), reader(wide_states, wide_mask))


def test_prompt_features_concat_pads_token_axis_with_zeros() -> None:
    joined = PromptFeatures.concat([_prompts(2, width=3), _prompts(1, width=6)])
    assert joined.states.shape == (3, 6, 12)
    assert joined.mask[:2, 3:].sum() == 0
    assert joined.states[:2, 3:].abs().sum() == 0
    assert len(joined.take(torch.tensor([2, 0]))) == 2
