"""Request validation: a proto SteerRequest → a SteerQuery, or a FieldError naming the
field. Every rule of the public contract (protos/dpr/v1/steering.proto) is checked here."""

from __future__ import annotations

import math
import unicodedata
import uuid
from collections.abc import Collection, Mapping, Sequence

from dpr_plugin.default_strength import MAX_STRENGTH
from dpr_plugin.errors import FieldError
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.serving.history.base import MAX_ITEM_ID_CHARS, MAX_USER_ID_CHARS
from dpr_plugin.serving.index.base import BASE_FIELDS, Condition, Match, Range
from dpr_plugin.serving.steer_query import (
    DEFAULT_PAYLOAD_FIELDS,
    MAX_PROMPT_CHARS,
    MAX_TOP_K,
    NegativeMode,
    SteerQuery,
)

MAX_LIST = 1000
"""Most entries of any repeated field (history, exclusions, values of one condition)."""
MAX_CONDITIONS = 32
_NEGATIVE_MODES = {
    pb.NEGATIVE_MODE_UNSPECIFIED: NegativeMode.AUTO,
    pb.NEGATIVE_MODE_AUTO: NegativeMode.AUTO,
    pb.NEGATIVE_MODE_SOFT: NegativeMode.SOFT,
    pb.NEGATIVE_MODE_HARD: NegativeMode.HARD,
    pb.NEGATIVE_MODE_HYBRID: NegativeMode.HYBRID,
}


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def check_id(
    name: str, value: str, required: bool = True, max_chars: int = MAX_USER_ID_CHARS
) -> str:
    """A user, item or request id: non-empty (if required), bounded, printable. User and
    request ids take up to MAX_USER_ID_CHARS, item ids MAX_ITEM_ID_CHARS: the history store's
    limits, so an id Steer accepts is one AppendInteractions accepts too."""
    if not value:
        if required:
            raise FieldError(name, "must not be empty")
        return value
    if len(value) > max_chars:
        raise FieldError(name, f"at most {max_chars} characters, got {len(value)}")
    if _has_control(value) or value != value.strip():
        raise FieldError(name, "must not contain control characters or edge whitespace")
    return value


def check_ids(name: str, values: Sequence[str]) -> tuple[str, ...]:
    """A bounded list of item ids, each checked by ``check_id``."""
    if len(values) > MAX_LIST:
        raise FieldError(name, f"at most {MAX_LIST} entries, got {len(values)}")
    return tuple(
        check_id(f"{name}[{i}]", v, max_chars=MAX_ITEM_ID_CHARS) for i, v in enumerate(values)
    )


def _check_tags(name: str, values: Sequence[str], known: Collection[str]) -> tuple[str, ...]:
    tags = check_ids(name, values)
    for i, tag in enumerate(tags):
        if tag not in known:
            raise FieldError(f"{name}[{i}]", f"unknown tag {tag!r} (known: {sorted(known)})")
    return tags


def _condition(name: str, cond: pb.FieldCondition, indexed: Mapping[str, str]) -> Condition:
    if cond.field not in indexed:
        raise FieldError(
            f"{name}.field",
            f"{cond.field!r} is not an indexed payload field (indexed: {sorted(indexed)})",
        )
    kind = cond.WhichOneof("condition")
    if kind is None:
        raise FieldError(name, "set one of any_of_strings, any_of_integers, range")
    if kind == "range":
        gte = cond.range.gte if cond.range.HasField("gte") else None
        lte = cond.range.lte if cond.range.HasField("lte") else None
        if gte is None and lte is None:
            raise FieldError(f"{name}.range", "set gte, lte or both")
        for bound, value in (("gte", gte), ("lte", lte)):
            if value is not None and not math.isfinite(value):
                raise FieldError(f"{name}.range.{bound}", "must be finite")
        if gte is not None and lte is not None and gte > lte:
            raise FieldError(f"{name}.range", f"gte {gte} > lte {lte}")
        if indexed[cond.field] == "keyword":
            raise FieldError(f"{name}.range", f"{cond.field!r} is not numeric")
        return Range(cond.field, gte, lte)
    values: tuple[str | int, ...]
    if kind == "any_of_strings":
        values = check_ids(f"{name}.any_of_strings.values", cond.any_of_strings.values)
        if indexed[cond.field] != "keyword":
            raise FieldError(f"{name}.any_of_strings", f"{cond.field!r} is not a keyword")
    else:
        values = tuple(cond.any_of_integers.values)
        if len(values) > MAX_LIST:
            raise FieldError(f"{name}.any_of_integers.values", f"at most {MAX_LIST} entries")
        if indexed[cond.field] != "integer":
            raise FieldError(f"{name}.any_of_integers", f"{cond.field!r} is not an integer")
    if not values:
        raise FieldError(f"{name}.{kind}.values", "must not be empty")
    return Match(cond.field, values)


def _conditions(
    name: str, conds: Sequence[pb.FieldCondition], indexed: Mapping[str, str]
) -> list[Condition]:
    if len(conds) > MAX_CONDITIONS:
        raise FieldError(name, f"at most {MAX_CONDITIONS} conditions, got {len(conds)}")
    return [_condition(f"{name}[{i}]", c, indexed) for i, c in enumerate(conds)]


def steer_query(
    request: pb.SteerRequest,
    known_tags: Collection[str],
    fields: Mapping[str, str] | None = None,
) -> SteerQuery:
    """Validates a SteerRequest; raises FieldError naming the first bad field.

    Args:
        request: The request.
        known_tags: The export's tags (``must_tags``, ``must_not_tags``).
        fields: The catalogue's declared fields and their kinds (``ModelBundle.fields``):
            conditions may name them (all but ``text`` ones) and ``item_id`` and ``tags``;
            ``payload_fields`` may name them and ``item_id``, ``title`` and ``tags``.
    """
    declared = dict(fields or {})
    indexed = {**BASE_FIELDS, **{k: v for k, v in declared.items() if v != "text"}}
    returnable = ("item_id", "title", "tags", *declared)
    request_id = check_id("request_id", request.request_id, required=False) or uuid.uuid4().hex
    user_id = check_id("user_id", request.user_id)
    prompt = request.prompt
    if len(prompt) > MAX_PROMPT_CHARS:
        raise FieldError("prompt", f"at most {MAX_PROMPT_CHARS} characters, got {len(prompt)}")
    if _has_control(prompt.replace("\n", " ").replace("\t", " ")):
        raise FieldError("prompt", "must not contain control characters")
    prompt = prompt.strip()
    top_k = request.top_k if request.HasField("top_k") else 10
    if not 1 <= top_k <= MAX_TOP_K:
        raise FieldError("top_k", f"must be in 1..{MAX_TOP_K}, got {top_k}")
    strength = request.strength if request.HasField("strength") else None
    if strength is not None and not (math.isfinite(strength) and 0.0 <= strength <= MAX_STRENGTH):
        raise FieldError("strength", f"must be in [0, {MAX_STRENGTH}], got {strength}")
    if request.negative_mode not in _NEGATIVE_MODES:
        raise FieldError("negative_mode", f"unknown value {request.negative_mode}")
    history = None
    if request.HasField("history"):
        history = check_ids("history.item_ids", request.history.item_ids)
    must: list[Condition] = [
        Match("tags", (tag,)) for tag in _check_tags("must_tags", request.must_tags, known_tags)
    ]
    must += _conditions("must", request.must, indexed)
    must_not = _conditions("must_not", request.must_not, indexed)
    banned = _check_tags("must_not_tags", request.must_not_tags, known_tags)
    if banned:
        must_not.append(Match("tags", banned))
    payload_fields = tuple(request.payload_fields) or DEFAULT_PAYLOAD_FIELDS
    for i, name in enumerate(payload_fields):
        if name not in returnable:
            raise FieldError(
                f"payload_fields[{i}]", f"unknown field {name!r} (known: {list(returnable)})"
            )
    return SteerQuery(
        request_id=request_id,
        user_id=user_id,
        prompt=prompt,
        top_k=top_k,
        history=history,
        must=tuple(must),
        must_not=tuple(must_not),
        exclude_item_ids=check_ids("exclude_item_ids", request.exclude_item_ids),
        exclude_seen=request.exclude_seen,
        strength=None if strength is None else float(strength),
        negative_mode=_NEGATIVE_MODES[request.negative_mode],
        payload_fields=payload_fields,
    )


def append_request(request: pb.AppendInteractionsRequest) -> tuple[str, tuple[str, ...], str]:
    """Validates an AppendInteractionsRequest; returns (user_id, item_ids, idempotency_key)."""
    user_id = check_id("user_id", request.user_id)
    items = check_ids("item_ids", request.item_ids)
    if not items:
        raise FieldError("item_ids", "must not be empty")
    key = check_id(
        "idempotency_key", request.idempotency_key, required=False, max_chars=MAX_ITEM_ID_CHARS
    )
    return user_id, items, key
