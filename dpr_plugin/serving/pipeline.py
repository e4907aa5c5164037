"""The steering pipeline: history → tokenize → infer → search → respond.

It knows nothing of gRPC. Degradation is explicit: when the steering path fails or runs over
its budget, the unsteered list is served and the result says so; when the primary inference
backend (Triton) is down altogether, the unsteered user vector comes from the fallback backend
(the in-process runtime over the same export) so the service keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from dpr_plugin.contract import (
    DPR_STEER,
    EXPERT_WEIGHTS,
    HISTORY_IDS,
    HISTORY_LEN,
    HISTORY_LENGTH,
    NEGATIVE_PROB,
    PROMPT_IDS,
    PROMPT_MASK,
    SEQ_BACKBONE,
    STEERED_EMBEDDING,
    STRENGTH,
    TAG_SCORES,
    USER_EMBEDDING,
)
from dpr_plugin.errors import (
    BackendUnavailableError,
    DeadlineExceededError,
    InferenceError,
    InferenceTimeoutError,
    UserNotFoundError,
)
from dpr_plugin.serving.history.base import HistoryStore
from dpr_plugin.serving.index.base import ItemIndex, Match, SearchFilter
from dpr_plugin.serving.inference.base import InferenceBackend
from dpr_plugin.serving.inference.breaker import CircuitBreaker
from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.model_bundle import ModelBundle
from dpr_plugin.serving.rate_limited_log import RateLimitedLog
from dpr_plugin.serving.steer_query import (
    RANK_DEPTH,
    NegativeMode,
    Polarity,
    ScoredItem,
    ServedPath,
    SteerQuery,
    SteerResult,
    Understanding,
)

log = logging.getLogger("dpr.pipeline")

TAG_THRESHOLD = 0.5
"""A tag counts as named by the prompt when its TAG_SCORES probability reaches this."""


STEERING_TIMEOUT = "steering_timeout"
"""``fallback_reason``: the steered call ran over its budget."""
STEERING_UNAVAILABLE = "steering_unavailable"
"""``fallback_reason``: the inference backend could not be reached."""
STEERING_ERROR = "steering_error"
"""``fallback_reason``: the inference backend rejected or failed the steered call."""
BACKBONE_IN_PROCESS = "backbone_in_process"
"""``fallback_reason`` (after ``; ``): the unsteered vector came from the in-process runtime."""


def _reason_code(exc: Exception) -> str:
    """A stable code for the answer; the details (addresses, paths) go to the log only."""
    if isinstance(exc, InferenceTimeoutError):
        return STEERING_TIMEOUT
    return STEERING_UNAVAILABLE if isinstance(exc, BackendUnavailableError) else STEERING_ERROR


@dataclass(frozen=True)
class PipelineSettings:
    """Time budgets of the pipeline.

    Attributes:
        steering_budget_s: Most time the steering inference may take before the unsteered
            list is served instead.
        search_reserve_s: Time kept for the search (and the fallback) out of the deadline.
        fallback_log_interval_s: At most one fallback WARNING per this many seconds, with the
            count of those left out (a dead Triton under load fell back 1,413 times in 5 s;
            every one is counted in ``dpr_steer_fallbacks_total``).
        max_fallbacks_in_flight: Most in-process backbone runs at once; a call beyond it
            waits for a slot within its time, else is BackendUnavailableError (an overloaded
            Triton must not turn every request into a concurrent CPU-bound run: 538 of them
            ran during one burst).
        breaker_failures: Consecutive failures of the primary backend that open its circuit
            breaker (``inference/breaker.py``), when there is a fallback to serve from.
    """

    steering_budget_s: float = 0.25
    search_reserve_s: float = 0.02
    fallback_log_interval_s: float = 10.0
    max_fallbacks_in_flight: int = 2
    breaker_failures: int = 3


class _Clock:
    """Stage timings of one request, and the time left before its deadline."""

    def __init__(self, deadline: float | None) -> None:
        self.start = time.perf_counter()
        self.deadline = deadline
        self.timings: dict[str, float] = {}
        self._mark = self.start

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self._mark) * 1000.0
        self._mark = now

    def left(self, cap: float | None = None) -> float | None:
        """Seconds to the deadline (capped); raises DeadlineExceededError when none are left."""
        if self.deadline is None:
            return cap
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceededError("deadline exceeded")
        return left if cap is None else min(left, cap)


def _history_tensors(internal_ids: list[int]) -> dict[str, np.ndarray]:
    ids = internal_ids[-HISTORY_LENGTH:]
    history = np.zeros((1, HISTORY_LENGTH), np.int64)
    if ids:
        history[0, -len(ids) :] = ids
    return {HISTORY_IDS.name: history, HISTORY_LEN.name: np.array([[len(ids)]], np.int64)}


class SteeringPipeline:
    """Answers SteerQuery objects; one instance serves all requests concurrently."""

    def __init__(
        self,
        bundle: ModelBundle,
        backend: InferenceBackend,
        index: ItemIndex,
        history: HistoryStore,
        metrics: ServiceMetrics | None = None,
        fallback: InferenceBackend | None = None,
        settings: PipelineSettings | None = None,
    ) -> None:
        self.bundle = bundle
        self.backend = backend
        self.fallback = fallback
        self.index = index
        self.history = history
        self.metrics = metrics or ServiceMetrics()
        self.settings = settings or PipelineSettings()
        self._fallback_log = RateLimitedLog(log, self.settings.fallback_log_interval_s)
        self._fallback_slots: asyncio.Semaphore | None = None
        self.breaker = CircuitBreaker(
            backend,
            self.settings.breaker_failures,
            on_change=lambda is_open: self.metrics.circuit_open.set(int(is_open)),
        )

    async def steer(self, query: SteerQuery, deadline: float | None = None) -> SteerResult:
        """Answers one request; ``deadline`` is a ``time.monotonic()`` instant or ``None``.

        Raises:
            UserNotFoundError: Unknown user and no prompt.
            IndexQueryError: A filter names a field that is not indexed.
            IndexUnavailableError, HistoryUnavailableError: A store is down.
            BackendUnavailableError: No backend could compute even the unsteered vector.
            DeadlineExceededError: The deadline passed.
        """
        clock = _Clock(deadline)
        raw_history = query.history
        if raw_history is None:
            stored = await self.history.get(query.user_id)
            raw_history = None if stored is None else tuple(stored)
        if raw_history is None and not query.prompt:
            raise UserNotFoundError(
                f"user_id: no history for user {query.user_id!r} and no prompt to steer with"
            )
        raw_history = raw_history or ()
        lookup = self.bundle.internal_ids
        known = [lookup[item] for item in raw_history if item in lookup]
        tensors = _history_tensors(known)
        clock.lap("history")

        understood = Understanding()
        fallback_reason = ""
        # an open circuit: the primary backend failed repeatedly, its probe has not seen it
        # ready again; go straight to the in-process fallback instead of waiting out a budget
        skip_primary = self.fallback is not None and self.breaker.is_open
        if query.prompt and not skip_primary:
            path = ServedPath.COLD_START if not known else ServedPath.STEERED
            try:
                user, served, understood = await self._steered(query, tensors, clock)
                self.breaker.record_success()
            except (InferenceError, BackendUnavailableError) as exc:
                self.breaker.record_failure()
                fallback_reason = _reason_code(exc)
                cause = "timeout" if isinstance(exc, InferenceTimeoutError) else type(exc).__name__
                self.metrics.fallbacks.labels(cause).inc()
                self._fallback_log.warning("steering failed (%s); serving unsteered", exc)
                path = ServedPath.FALLBACK_UNSTEERED
                # one budget per request: after a failed steered call the backbone runs
                # in-process, not on the same (maybe hung) server again
                user, note = await self._unsteered(tensors, clock, self.fallback is None)
                served = user
                fallback_reason = "; ".join(filter(None, (fallback_reason, note)))
        elif query.prompt:
            self.metrics.fallbacks.labels("circuit_open").inc()
            path = ServedPath.FALLBACK_UNSTEERED
            user, note = await self._unsteered(tensors, clock, try_primary=False)
            served = user
            fallback_reason = f"{STEERING_UNAVAILABLE}; {note}"
        else:
            path = ServedPath.UNSTEERED
            user, fallback_reason = await self._unsteered(tensors, clock, not skip_primary)
            served = user
        clock.lap("infer")

        where, understood = self._filter(query, known, understood)
        if understood.hard_filtered_tags and query.negative_mode is NegativeMode.HARD:
            served = user
            understood = replace(understood, strength=0.0)
            if path is ServedPath.STEERED:  # filtered, not steered: say so
                path = ServedPath.UNSTEERED
        items = await self._search(query, served, user, where, clock)
        clock.lap("search")
        clock.timings["total"] = (time.perf_counter() - clock.start) * 1000.0
        self.metrics.observe_stages(clock.timings)
        self.metrics.requests.labels(path.value).inc()
        for tag, _ in understood.tags:
            self.metrics.understood_tags.labels(tag, understood.polarity.value).inc()
        return SteerResult(
            request_id=query.request_id,
            items=items,
            understood=understood,
            served_path=path,
            model_version=self.bundle.model_version,
            history_length=min(len(known), HISTORY_LENGTH),
            unknown_history_items=len(raw_history) - len(known),
            fallback_reason=fallback_reason,
            timings_ms=clock.timings,
        )

    async def _steered(
        self, query: SteerQuery, tensors: dict[str, np.ndarray], clock: _Clock
    ) -> tuple[np.ndarray, np.ndarray, Understanding]:
        ids, mask = self.bundle.tokenizer.encode(query.prompt)
        clock.lap("tokenize")
        inputs = {
            **tensors,
            PROMPT_IDS.name: ids,
            PROMPT_MASK.name: mask,
            # No strength asked for: run at 1 and move to the default once the polarity is known.
            STRENGTH.name: np.array(
                [[1.0 if query.strength is None else query.strength]], np.float32
            ),
        }
        budget = clock.left(self.settings.steering_budget_s)
        if budget is not None:
            budget = max(budget - self.settings.search_reserve_s, 0.001)
        out = await self.backend.infer(DPR_STEER.name, inputs, timeout_s=budget)
        tag_scores = out[TAG_SCORES.name][0]
        negative = float(out[NEGATIVE_PROB.name][0, 0])
        named = sorted(
            (
                (tag, float(s))
                for tag, s in zip(self.bundle.tags, tag_scores, strict=True)
                if s >= TAG_THRESHOLD
            ),
            key=lambda pair: -pair[1],
        )
        polarity = Polarity.NONE
        if named:
            polarity = Polarity.NEGATIVE if negative >= 0.5 else Polarity.POSITIVE
        user, steered = out[USER_EMBEDDING.name][0], out[STEERED_EMBEDDING.name][0]
        strength = query.strength
        if strength is None:
            strength = self.bundle.default_strength.for_prompt(
                negative=polarity is Polarity.NEGATIVE,
                hybrid=query.negative_mode is NegativeMode.HYBRID,
            )
            # steered = user + 1 * delta, so the default's vector is user + strength * delta
            steered = user + np.float32(strength) * (steered - user)
        understood = Understanding(
            polarity=polarity,
            negative_probability=negative,
            tags=tuple(named),
            expert_weights=tuple(float(w) for w in out[EXPERT_WEIGHTS.name][0]),
            strength=strength,
        )
        return user, steered, understood

    async def _unsteered(
        self, tensors: dict[str, np.ndarray], clock: _Clock, try_primary: bool = True
    ) -> tuple[np.ndarray, str]:
        """The backbone's user vector: the primary backend (within the steering budget, so a
        hung server cannot hold the request) unless told to skip it, else the fallback; and a
        note when the fallback served it."""
        first: Exception | None = None
        if try_primary:
            budget = clock.left(self.settings.steering_budget_s)
            try:
                out = await self.backend.infer(SEQ_BACKBONE.name, tensors, timeout_s=budget)
                self.breaker.record_success()
                return out[USER_EMBEDDING.name][0], ""
            except (InferenceError, BackendUnavailableError) as exc:
                self.breaker.record_failure()
                if self.fallback is None:
                    raise BackendUnavailableError(f"inference backend: {exc}") from exc
                first = exc
                self._fallback_log.warning("backbone served in-process (%s)", exc)
        if self.fallback is None:
            raise BackendUnavailableError("inference backend: no fallback to serve from")
        return await self._in_process(tensors, clock, first), BACKBONE_IN_PROCESS

    async def _in_process(
        self, tensors: dict[str, np.ndarray], clock: _Clock, cause: Exception | None
    ) -> np.ndarray:
        """The user vector from the fallback, at most ``max_fallbacks_in_flight`` runs at once:
        a call waits for a slot (within its time) rather than adding a CPU-bound run."""
        assert self.fallback is not None
        if self._fallback_slots is None:  # made in the running loop
            self._fallback_slots = asyncio.Semaphore(self.settings.max_fallbacks_in_flight)
        try:
            # within the caller's deadline; without one, at most a steering budget
            wait = clock.left() if clock.deadline is not None else self.settings.steering_budget_s
            await asyncio.wait_for(self._fallback_slots.acquire(), wait)
        except TimeoutError:
            self.metrics.fallbacks.labels("fallback_busy").inc()
            raise BackendUnavailableError(
                f"inference backend: {cause}; in-process fallback busy"
            ) from cause
        self.metrics.fallbacks.labels("backbone_in_process").inc()
        try:
            out = await self.fallback.infer(SEQ_BACKBONE.name, tensors, timeout_s=clock.left())
        except (InferenceError, BackendUnavailableError) as second:
            raise BackendUnavailableError(
                f"inference backend: {cause}; in-process fallback: {second}"
            ) from second
        finally:
            self._fallback_slots.release()
        return out[USER_EMBEDDING.name][0]

    async def close(self) -> None:
        """Stops the circuit breaker's probe."""
        await self.breaker.close()

    def _filter(
        self, query: SteerQuery, known: list[int], understood: Understanding
    ) -> tuple[SearchFilter, Understanding]:
        must_not = list(query.must_not)
        if (
            query.negative_mode is not NegativeMode.SOFT
            and understood.polarity is Polarity.NEGATIVE
        ):
            hard = tuple(tag for tag, _ in understood.tags)
            must_not.append(Match("tags", hard))
            understood = replace(understood, hard_filtered_tags=hard)
        lookup = self.bundle.internal_ids
        excluded = {lookup[item] for item in query.exclude_item_ids if item in lookup}
        if query.exclude_seen:
            excluded.update(known)
        return (
            SearchFilter(
                must=query.must, must_not=tuple(must_not), exclude_ids=frozenset(excluded)
            ),
            understood,
        )

    async def _search(
        self,
        query: SteerQuery,
        served: np.ndarray,
        user: np.ndarray,
        where: SearchFilter,
        clock: _Clock,
    ) -> list[ScoredItem]:
        """The served vector's top_k; when it differs from the unsteered one, also the unsteered
        list's first RANK_DEPTH under the same filter, for rank changes."""
        moved = not np.array_equal(served, user)
        (top,) = await self.index.search(
            served[None, :].astype(np.float32),
            query.top_k,
            where,
            payload_fields=query.payload_fields,
            with_vectors=moved,
            timeout_s=clock.left(),
        )
        if moved:
            (reference,) = await self.index.search(
                user[None, :].astype(np.float32), RANK_DEPTH, where, timeout_s=clock.left()
            )
        else:
            reference = top
        unsteered_rank = {hit.item_id: rank for rank, hit in enumerate(reference, start=1)}
        items = []
        for hit in top:
            plain = hit.score
            if moved:
                assert hit.vector is not None  # asked for with_vectors
                plain = float(np.dot(user, hit.vector))
            items.append(
                ScoredItem(
                    item_id=self.bundle.item_ids[hit.item_id - 1],
                    score=hit.score,
                    unsteered_score=plain,
                    unsteered_rank=unsteered_rank.get(hit.item_id, 0),
                    payload=hit.payload,
                )
            )
        return items
