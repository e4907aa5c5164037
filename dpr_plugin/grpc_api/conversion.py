"""Pipeline results → proto messages."""

from __future__ import annotations

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.intent.clauses import ItemTarget, RangeTarget, TagTarget
from dpr_plugin.serving.model_bundle import EXPERT_NAMES
from dpr_plugin.serving.steer_query import (
    Application,
    AppliedClause,
    Polarity,
    ServedPath,
    SteerResult,
)

_PATHS = {
    ServedPath.STEERED: pb.SERVED_PATH_STEERED,
    ServedPath.UNSTEERED: pb.SERVED_PATH_UNSTEERED,
    ServedPath.FALLBACK_UNSTEERED: pb.SERVED_PATH_FALLBACK_UNSTEERED,
    ServedPath.COLD_START: pb.SERVED_PATH_COLD_START,
}
_APPLICATIONS = {
    Application.STEERED: pb.APPLICATION_STEERED,
    Application.FILTERED: pb.APPLICATION_FILTERED,
    Application.STEERED_AND_FILTERED: pb.APPLICATION_STEERED_AND_FILTERED,
    Application.NOT_APPLIED: pb.APPLICATION_NOT_APPLIED,
}
_POLARITIES = {
    Polarity.NONE: pb.POLARITY_NONE,
    Polarity.POSITIVE: pb.POLARITY_POSITIVE,
    Polarity.NEGATIVE: pb.POLARITY_NEGATIVE,
}


def steer_response(result: SteerResult) -> pb.SteerResponse:
    """The SteerResponse of a pipeline result."""
    response = pb.SteerResponse(
        request_id=result.request_id,
        served_path=_PATHS[result.served_path],
        fallback_reason=result.fallback_reason,
        model_version=result.model_version,
        index_generation=result.index_generation,
        history_length=result.history_length,
        unknown_history_items=result.unknown_history_items,
    )
    for rank, item in enumerate(result.items, start=1):
        scored = response.items.add(
            item_id=item.item_id,
            score=item.score,
            unsteered_score=item.unsteered_score,
            unsteered_rank=item.unsteered_rank,
        )
        change = item.rank_change(rank)
        if change is not None:
            scored.rank_change = change
        scored.payload.update(item.payload)
    understood = result.understood
    response.understood.polarity = _POLARITIES[understood.polarity]
    response.understood.negative_probability = understood.negative_probability
    for tag, score in understood.tags:
        response.understood.tags.add(tag=tag, score=score)
    if understood.expert_weights:
        response.understood.expert_weights.extend(understood.expert_weights)
        response.understood.expert_names.extend(EXPERT_NAMES)
    response.understood.hard_filtered_tags.extend(understood.hard_filtered_tags)
    response.understood.strength = understood.strength
    for applied in understood.clauses:
        _add_clause(response.understood, applied)
    response.understood.unread.extend(understood.unread)
    return response


def _add_clause(understood: pb.Understanding, applied: AppliedClause) -> None:
    clause = applied.clause
    message = understood.clauses.add(
        text=clause.text,
        start=clause.start,
        end=clause.end,
        polarity=pb.POLARITY_NEGATIVE if clause.negative else pb.POLARITY_POSITIVE,
        strength=applied.strength,
        applied=_APPLICATIONS[applied.application],
        source=clause.source.value,
    )
    target = clause.target
    if isinstance(target, TagTarget):
        for tag, score in target.tags:
            message.tags.add(tag=tag, score=score)
        message.any_of = target.any_of
    elif isinstance(target, RangeTarget):
        message.range_field = target.field
        if target.gte is not None:
            message.range.gte = target.gte
        if target.lte is not None:
            message.range.lte = target.lte
        message.range.SetInParent()
    elif isinstance(target, ItemTarget):
        message.item_id = target.platform_id
        message.item_title = target.title
