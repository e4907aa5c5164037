"""From a prompt's intent to what the pipeline does with it.

* A tag clause steers through the steering head: the head is given the clause's canonical
  prompt ("more comedies", "no horror": the phrasing it was trained on), and the clauses
  combine as ``u + Σ αᵢ·Δᵢ`` where ``Δᵢ`` is the head's move of the user vector ``u`` for
  clause i at strength 1 and ``αᵢ`` the clause's strength (a disjunction averages its tags'
  moves). All clauses go to the head in one batch: one inference call per request.
* In ``HARD`` / ``HYBRID`` mode an unwanted tag is also a ``must_not`` filter (``HARD``: only
  the filter). ``AUTO`` (the default) is ``SOFT`` for a prompt of unwanted tags alone and
  ``HYBRID`` when the prompt also states a wish: steering away from Y while toward X cannot
  remove the items that are both ("animated but not for little kids" held in 0.01 of the lists
  under ``SOFT``; see docs/results.md).
* A range clause is a filter (``must``; an unwanted two-sided range is ``must_not``); with
  soft ranges it moves the vector toward the centroid of the items in range instead
  (``+ w·|u|·ĉ``, ``c`` = mean of the items in range minus the mean of all items).
* An item reference moves the vector toward the item (``+ w·|u|·ê``) or away from it, and an
  unwanted item is never returned, nor its ``AVOID_NEIGHBOURS`` nearest items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dpr_plugin.intent.clauses import Intent, ItemTarget, RangeTarget, TagTarget
from dpr_plugin.serving.index.base import Condition, Match, Range
from dpr_plugin.serving.model_bundle import ModelBundle
from dpr_plugin.serving.steer_query import (
    Application,
    AppliedClause,
    NegativeMode,
    Polarity,
    SteerQuery,
    Understanding,
)

REFERENCE_WEIGHT = 2.0
"""``more like X``: the vector moves by this times ``|u|`` toward X's direction."""
AVOID_WEIGHT = 1.0
"""``nothing like X``: the vector moves by this times ``|u|`` away from X's direction."""
RANGE_WEIGHT = 1.0
"""A soft range moves the vector by this times ``|u|`` toward the items in range."""
AVOID_NEIGHBOURS = 10
"""``nothing like X`` never returns X nor its this many nearest items (by dot product)."""


@dataclass(frozen=True)
class SteerRow:
    """One canonical prompt for the steering head."""

    tag: str
    negative: bool
    text: str


@dataclass
class Plan:
    """What to do for one request.

    Attributes:
        rows: Canonical prompts for the head, one batch.
        moves: Per clause, ``(row, weight)`` pairs: the clause adds ``weight · Δ(row)``.
        references: Per clause, ``(internal item id, signed weight)`` of the item's direction
            the clause adds (``(0, 0.0)``: none).
        directions: Per clause, a direction (unit vector) and its weight, for soft ranges.
        must, must_not, exclude: Filters the intent adds to the request's.
        applications, strengths: Per clause, how it is applied and at what strength.
    """

    rows: list[SteerRow] = field(default_factory=list)
    moves: list[list[tuple[int, float]]] = field(default_factory=list)
    references: list[tuple[int, float]] = field(default_factory=list)
    directions: list[tuple[np.ndarray, float] | None] = field(default_factory=list)
    must: list[Condition] = field(default_factory=list)
    must_not: list[Condition] = field(default_factory=list)
    exclude: set[int] = field(default_factory=set)
    applications: list[Application] = field(default_factory=list)
    strengths: list[float] = field(default_factory=list)

    @property
    def steers(self) -> bool:
        """True when some clause moves the vector."""
        return any(
            moves or weight for moves, (_, weight) in zip(self.moves, self.references, strict=True)
        )

    def row(self, tag: str, negative: bool, text: str) -> int:
        key = SteerRow(tag, negative, text)
        if key not in self.rows:
            self.rows.append(key)
        return self.rows.index(key)


def make_plan(
    intent: Intent, bundle: ModelBundle, query: SteerQuery, soft_ranges: bool = False
) -> Plan:
    """The steering rows, moves and filters of ``intent`` under the request's settings."""
    plan = Plan()
    mode = query.negative_mode
    if mode is NegativeMode.AUTO:
        wish = any(not clause.negative for clause in intent.clauses)
        mode = NegativeMode.HYBRID if wish else NegativeMode.SOFT
    hybrid = mode is NegativeMode.HYBRID
    for clause in intent.clauses:
        target = clause.target
        moves: list[tuple[int, float]] = []
        reference = 0.0
        item_id = 0
        direction = None
        filtered = False
        strength = 0.0
        if isinstance(target, TagTarget):
            strength = (
                query.strength
                if query.strength is not None
                else bundle.default_strength.for_prompt(negative=clause.negative, hybrid=hybrid)
            )
            if clause.negative and mode is not NegativeMode.SOFT:
                plan.must_not.append(Match("tags", target.names))
                filtered = True
                if mode is NegativeMode.HARD:
                    strength = 0.0
            if strength > 0:
                verb = "no" if clause.negative else "more"
                share = strength / len(target.names)
                for tag in target.names:
                    text = f"{verb} {bundle.surface(tag)}"
                    moves.append((plan.row(tag, clause.negative, text), share))
        elif isinstance(target, RangeTarget):
            toward = range_direction(bundle, target) if soft_ranges else None
            if toward is not None:
                sign = -1.0 if clause.negative else 1.0
                scale = 1.0 if query.strength is None else query.strength
                direction = (toward, sign * RANGE_WEIGHT * scale)
                strength = RANGE_WEIGHT * scale
            else:
                condition = Range(target.field, target.gte, target.lte)
                (plan.must_not if clause.negative else plan.must).append(condition)
                filtered = True
        elif isinstance(target, ItemTarget):
            scale = 1.0 if query.strength is None else query.strength
            reference = (-AVOID_WEIGHT if clause.negative else REFERENCE_WEIGHT) * scale
            strength = abs(reference)
            item_id = target.item_id
            plan.exclude.add(item_id)
            if clause.negative:
                plan.exclude.update(_nearest(bundle, target.item_id, AVOID_NEIGHBOURS))
                filtered = True
            if bundle.item_vectors is None:
                reference = 0.0
        plan.moves.append(moves)
        plan.references.append((item_id, reference))
        plan.directions.append(direction)
        steered = bool(moves) or reference != 0.0 or direction is not None
        plan.strengths.append(strength if steered else 0.0)
        plan.applications.append(
            Application.STEERED_AND_FILTERED
            if steered and filtered
            else Application.STEERED
            if steered
            else Application.FILTERED
            if filtered
            else Application.NOT_APPLIED
        )
    return plan


def _nearest(bundle: ModelBundle, item_id: int, count: int) -> list[int]:
    """Internal ids of the ``count`` items nearest to ``item_id`` by dot product (a pass over
    the whole item table, so kept per item)."""
    if bundle.item_vectors is None:
        return []
    return bundle.derived(
        ("nearest", item_id, count), lambda: _scan_nearest(bundle, item_id, count)
    )


def _scan_nearest(bundle: ModelBundle, item_id: int, count: int) -> list[int]:
    table = np.asarray(bundle.item_vectors)
    scores = table @ table[item_id - 1]
    scores[item_id - 1] = -np.inf
    count = min(count, len(scores) - 1)
    best = np.argpartition(-scores, count)[:count]
    return [int(i) + 1 for i in best]


def steered_vector(
    plan: Plan, bundle: ModelBundle, user: np.ndarray, steered_rows: np.ndarray | None
) -> np.ndarray:
    """``u + Σ weight·Δ(row) + Σ reference·|u|·ê``, float32."""
    vector = user.astype(np.float32).copy()
    norm = float(np.linalg.norm(user))
    for clause_moves in plan.moves:
        for row, weight in clause_moves:
            assert steered_rows is not None
            vector += np.float32(weight) * (steered_rows[row] - user)
    for item_id, weight in plan.references:
        if weight and bundle.item_vectors is not None:
            item = np.asarray(bundle.item_vectors[item_id - 1], np.float32)
            item_norm = max(float(np.linalg.norm(item)), 1e-12)
            vector += np.float32(weight * norm / item_norm) * item
    for direction in plan.directions:
        if direction is not None:
            unit, weight = direction
            vector += np.float32(weight * norm) * unit
    return vector


def range_direction(bundle: ModelBundle, target: RangeTarget) -> np.ndarray | None:
    """Unit vector from the mean of all items to the mean of the items in ``target``'s range
    (``None`` when the bundle has no item table or years, or no item is in range); a pass over
    the whole item table, so kept per range."""
    key = ("range", target.field, target.gte, target.lte)
    return bundle.derived(key, lambda: _scan_range(bundle, target))


def _scan_range(bundle: ModelBundle, target: RangeTarget) -> np.ndarray | None:
    if bundle.item_vectors is None or bundle.item_years is None or target.field != "year":
        return None
    years = bundle.item_years
    if len(years) != len(bundle.item_vectors):
        return None
    inside = np.isfinite(years)
    if target.gte is not None:
        inside &= years >= target.gte
    if target.lte is not None:
        inside &= years <= target.lte
    if not inside.any():
        return None
    table = np.asarray(bundle.item_vectors, np.float32)
    offset = table[inside].mean(axis=0) - table.mean(axis=0)
    length = float(np.linalg.norm(offset))
    return None if length == 0 else (offset / length).astype(np.float32)


def understanding(
    intent: Intent,
    plan: Plan,
    applied: bool,
    negative_probability: float = 0.0,
    expert_weights: tuple[float, ...] = (),
) -> Understanding:
    """The answer's account of the prompt. ``applied`` is False when the steering path
    failed: steering clauses are then NOT_APPLIED, filters still hold."""
    clauses = []
    for clause, application, strength in zip(
        intent.clauses, plan.applications, plan.strengths, strict=True
    ):
        if not applied and application is not Application.FILTERED:
            filtered = application is Application.STEERED_AND_FILTERED
            application = Application.FILTERED if filtered else Application.NOT_APPLIED
            strength = 0.0
        clauses.append(AppliedClause(clause, strength, application))
    live = [c for c in clauses if c.application is not Application.NOT_APPLIED]
    polarity = Polarity.NONE
    if live:
        polarity = Polarity.NEGATIVE if all(c.clause.negative for c in live) else Polarity.POSITIVE
    tags: dict[str, float] = {}
    hard: list[str] = []
    for c in clauses:
        if isinstance(c.clause.target, TagTarget):
            tags.update(c.clause.target.tags)
            if c.clause.negative and c.application in (
                Application.FILTERED,
                Application.STEERED_AND_FILTERED,
            ):
                hard.extend(c.clause.target.names)
    return Understanding(
        polarity=polarity,
        negative_probability=negative_probability,
        tags=tuple(tags.items()),
        expert_weights=expert_weights,
        hard_filtered_tags=tuple(dict.fromkeys(hard)),
        strength=max((c.strength for c in clauses), default=0.0),
        clauses=tuple(clauses),
        unread=intent.unread,
    )
