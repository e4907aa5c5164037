"""The pipeline on fakes of its collaborators: paths, fallbacks, deadlines, the negative
modes and the default strengths, with rankings worked out by hand (see tests/serving/fakes.py:
unsteered, the user ranks d1 d2 cd c2 c1 h1)."""

from __future__ import annotations

import asyncio
import time

import pytest

from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.errors import BackendUnavailableError, DeadlineExceededError, UserNotFoundError
from dpr_plugin.serving.index.base import Match
from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.pipeline import PipelineSettings, SteeringPipeline
from dpr_plugin.serving.steer_query import (
    Application,
    NegativeMode,
    Polarity,
    ServedPath,
    SteerQuery,
    SteerResult,
)
from tests.serving.fakes import FakeBackend, FakeHistory, FakeIndex, fake_bundle

DEFAULTS = DefaultStrength(positive=1.5, negative=2.0, negative_hybrid=0.5, source="test")
UNSTEERED = ["d1", "d2", "cd", "c2", "c1", "h1"]


def _pipeline(
    down: bool = False,
    steer_delay_s: float = 0.0,
    fallback: bool = True,
    budget_s: float = 0.25,
    user_vectors: int = 100,
) -> SteeringPipeline:
    bundle = fake_bundle(DEFAULTS)
    tokenizer = bundle.tokenizer
    return SteeringPipeline(
        bundle,
        FakeBackend(tokenizer, down=down, steer_delay_s=steer_delay_s),  # type: ignore[arg-type]
        FakeIndex(),
        FakeHistory({"u1": ["d1"], "u2": []}),
        ServiceMetrics(),
        FakeBackend(tokenizer) if fallback else None,  # type: ignore[arg-type]
        PipelineSettings(steering_budget_s=budget_s, user_vectors=user_vectors),
    )


def _steer(pipeline: SteeringPipeline, deadline: float | None = None, **query: object):
    values = {"request_id": "r", "user_id": "u1", "top_k": 6, **query}
    return asyncio.run(pipeline.steer(SteerQuery(**values), deadline))  # type: ignore[arg-type]


def _ids(result: SteerResult) -> list[str]:
    return [item.item_id for item in result.items]


def test_pipeline_serves_the_backbone_list_when_the_prompt_is_empty() -> None:
    result = _steer(_pipeline())
    assert result.served_path is ServedPath.UNSTEERED
    assert _ids(result) == UNSTEERED
    assert [item.score for item in result.items] == [i.unsteered_score for i in result.items]
    assert result.understood.strength == 0.0 and result.model_version == "fake-1"


def test_pipeline_applies_the_positive_default_strength_when_none_is_asked() -> None:
    result = _steer(_pipeline(), prompt="more comedies")
    assert result.served_path is ServedPath.STEERED
    assert result.understood.polarity is Polarity.POSITIVE
    assert [tag for tag, _ in result.understood.tags] == ["Comedy"]
    assert result.understood.strength == 1.5  # DEFAULTS.positive
    # user + 1.5 * (2, -1) = (3.1, -0.5): c1 3.1, c2 2.69, cd 1.56, d2 0.17, d1 -0.5, h1 -3.15
    assert _ids(result) == ["c1", "c2", "cd", "d2", "d1", "h1"]
    assert result.items[0].score == pytest.approx(3.1)
    assert result.items[0].unsteered_score == pytest.approx(0.1)
    assert result.items[0].unsteered_rank == 5 and result.items[0].rank_change(1) == 4


def test_pipeline_uses_the_asked_strength_and_zero_keeps_the_backbone_list() -> None:
    result = _steer(_pipeline(), prompt="more comedies", strength=0.0)
    assert result.served_path is ServedPath.UNSTEERED  # read, but nothing moved
    assert result.understood.strength == 0.0
    (clause,) = result.understood.clauses
    assert clause.application is Application.NOT_APPLIED
    assert _ids(result) == UNSTEERED


def test_pipeline_combines_a_wish_and_an_unwanted_tag_in_one_batch() -> None:
    pipeline = _pipeline()
    result = _steer(pipeline, prompt="comedies, but no dramas", negative_mode=NegativeMode.SOFT)
    assert pipeline.backend.steer_batches == [["more comedies", "no dramas"]]
    assert [(c.clause.negative, c.strength) for c in result.understood.clauses] == [
        (False, 1.5),
        (True, 2.0),
    ]
    assert result.understood.polarity is Polarity.POSITIVE
    # user + 1.5 * (2, -1) + 2 * (1, -2) = (5.1, -4.5): c1 5.1, c2 3.69, cd 0.36, ...
    assert _ids(result)[:3] == ["c1", "c2", "cd"]
    assert result.items[0].score == pytest.approx(5.1)


def test_pipeline_auto_mode_filters_an_unwanted_tag_beside_a_wish() -> None:
    result = _steer(_pipeline(), prompt="comedies, but no dramas")  # AUTO, the default
    applied = [(c.clause.negative, c.application) for c in result.understood.clauses]
    assert applied == [
        (False, Application.STEERED),
        (True, Application.STEERED_AND_FILTERED),  # HYBRID: filter + its default 0.5
    ]
    assert result.understood.hard_filtered_tags == ("Drama",)
    assert _ids(result) == ["c1", "c2", "h1"]
    # alone, an unwanted tag is only steered (SOFT)
    alone = _steer(_pipeline(), prompt="no dramas")
    assert alone.understood.hard_filtered_tags == ()


def test_pipeline_serves_a_prompt_it_cannot_read_unsteered() -> None:
    pipeline = _pipeline()
    result = _steer(pipeline, prompt="zzzz")
    assert result.served_path is ServedPath.UNSTEERED
    assert result.understood.polarity is Polarity.NONE and result.understood.clauses == ()
    assert _ids(result) == UNSTEERED
    assert pipeline.backend.steer_batches == []


def test_pipeline_steers_soft_negative_prompts_with_the_negative_default() -> None:
    result = _steer(_pipeline(), prompt="no dramas")
    assert result.understood.polarity is Polarity.NEGATIVE
    assert result.understood.strength == 2.0 and result.understood.hard_filtered_tags == ()
    # user + 2 * (1, -2) = (2.1, -3): c1 2.1, c2 1.29, cd -0.54, d2 -2.28, h1 -2.4, d1 -3
    assert _ids(result) == ["c1", "c2", "cd", "d2", "h1", "d1"]


def test_pipeline_hard_mode_filters_the_banned_tag_on_the_unsteered_vector() -> None:
    result = _steer(_pipeline(), prompt="no dramas", negative_mode=NegativeMode.HARD)
    assert result.served_path is ServedPath.UNSTEERED  # filtered, not steered
    assert result.understood.hard_filtered_tags == ("Drama",)
    assert result.understood.strength == 0.0
    assert _ids(result) == ["c2", "c1", "h1"]  # the backbone's order, dramas removed
    assert [item.score for item in result.items] == [i.unsteered_score for i in result.items]


def test_pipeline_hybrid_mode_steers_with_its_default_and_filters() -> None:
    result = _steer(_pipeline(), prompt="no dramas", negative_mode=NegativeMode.HYBRID)
    assert result.understood.hard_filtered_tags == ("Drama",)
    assert result.understood.strength == 0.5  # DEFAULTS.negative_hybrid
    # user + 0.5 * (1, -2) = (0.6, 0): c1 0.6, c2 0.54, h1 -0.6
    assert _ids(result) == ["c1", "c2", "h1"]


def test_pipeline_keeps_request_filters_and_excludes_seen_items() -> None:
    result = _steer(_pipeline(), must=(Match("tags", ("Drama",)),), exclude_seen=True)
    assert _ids(result) == ["d2", "cd"]  # d1 is user u1's history


def test_pipeline_serves_a_cold_start_for_an_unknown_user_with_a_prompt() -> None:
    result = _steer(_pipeline(), user_id="new", prompt="more comedies")
    assert result.served_path is ServedPath.COLD_START
    assert result.history_length == 0
    assert _ids(result)[:2] == ["c1", "c2"]


def test_pipeline_raises_user_not_found_when_unknown_and_unprompted() -> None:
    with pytest.raises(UserNotFoundError, match=r"^user_id: "):
        _steer(_pipeline(), user_id="new")


def test_pipeline_falls_back_in_process_when_the_backend_is_down() -> None:
    pipeline = _pipeline(down=True)
    result = _steer(pipeline, prompt="more comedies")
    assert result.served_path is ServedPath.FALLBACK_UNSTEERED
    assert _ids(result) == UNSTEERED
    assert result.fallback_reason == "steering_unavailable; backbone_in_process"
    fallbacks = pipeline.metrics.fallbacks
    assert fallbacks.labels("BackendUnavailableError")._value.get() == 1
    assert fallbacks.labels("backbone_in_process")._value.get() == 1
    (clause,) = result.understood.clauses
    assert clause.application is Application.NOT_APPLIED


def test_pipeline_keeps_an_unwanted_tag_filter_when_steering_is_down() -> None:
    result = _steer(_pipeline(down=True), prompt="no dramas", negative_mode=NegativeMode.HYBRID)
    assert result.served_path is ServedPath.FALLBACK_UNSTEERED
    assert _ids(result) == ["c2", "c1", "h1"]  # the backbone's order, dramas still removed
    (clause,) = result.understood.clauses
    assert clause.application is Application.FILTERED


def test_pipeline_raises_unavailable_when_no_backend_can_compute_the_user() -> None:
    with pytest.raises(BackendUnavailableError, match="inference backend"):
        _steer(_pipeline(down=True, fallback=False))


def test_pipeline_serves_unsteered_within_budget_when_steering_is_slow() -> None:
    pipeline = _pipeline(steer_delay_s=2.0, budget_s=0.05)
    started = time.perf_counter()
    result = _steer(pipeline, prompt="more comedies")
    elapsed = time.perf_counter() - started
    assert result.served_path is ServedPath.FALLBACK_UNSTEERED
    # one budget per request: the backbone ran in-process, not on the slow server again
    assert result.fallback_reason == "steering_timeout; backbone_in_process"
    assert _ids(result) == UNSTEERED
    assert pipeline.metrics.fallbacks.labels("timeout")._value.get() == 1
    assert elapsed < 0.5, f"{elapsed:.2f}s for a 0.05 s budget"


def test_pipeline_raises_deadline_exceeded_when_the_deadline_has_passed() -> None:
    with pytest.raises(DeadlineExceededError):
        _steer(_pipeline(), deadline=time.monotonic() - 1.0, prompt="more comedies")
    with pytest.raises(DeadlineExceededError):
        _steer(_pipeline(), deadline=time.monotonic() - 1.0)


def test_pipeline_reuses_the_user_vector_while_the_history_is_unchanged() -> None:
    pipeline = _pipeline()
    backend = pipeline.backend
    first = _steer(pipeline, prompt="more comedies")
    again = _steer(pipeline, prompt="more comedies")
    plain = _steer(pipeline)
    models = [m for m in backend.calls if m != "prompt_encoder"]  # type: ignore[attr-defined]
    assert models == ["dpr_steer_encoded", "steering_head"]
    assert _ids(again) == _ids(first) and again.served_path == ServedPath.STEERED
    assert _ids(plain) == UNSTEERED  # the kept vector is the backbone's
    assert pipeline.metrics.user_vectors_reused._value.get() == 2


def test_pipeline_runs_the_backbone_again_once_the_history_changes() -> None:
    pipeline = _pipeline()
    _steer(pipeline, prompt="more comedies")
    asyncio.run(pipeline.history.append("u1", ["d2"]))
    _steer(pipeline, prompt="more comedies")
    models = [m for m in pipeline.backend.calls if m != "prompt_encoder"]  # type: ignore[attr-defined]
    assert models == ["dpr_steer_encoded"] * 2


def test_pipeline_keeps_no_user_vectors_when_told_none() -> None:
    pipeline = _pipeline(user_vectors=0)
    _steer(pipeline, prompt="more comedies")
    _steer(pipeline)
    models = [m for m in pipeline.backend.calls if m != "prompt_encoder"]  # type: ignore[attr-defined]
    assert models == ["dpr_steer_encoded", "seq_backbone"]


def test_pipeline_serves_a_kept_user_vector_when_the_backend_goes_down() -> None:
    pipeline = _pipeline()
    _steer(pipeline, prompt="more comedies")  # keeps u1's vector
    pipeline.backend.down = True  # type: ignore[attr-defined]
    for _ in range(4):  # three failures open the circuit; the fourth call skips the backend
        result = _steer(pipeline, prompt="more comedies")
    assert result.served_path is ServedPath.FALLBACK_UNSTEERED
    assert _ids(result) == UNSTEERED
    assert result.fallback_reason == "steering_unavailable"  # no in-process run was needed
    assert pipeline.metrics.fallbacks.labels("backbone_in_process")._value.get() == 0
