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
from dataclasses import dataclass

import numpy as np

from dpr_plugin.contract import (
    DPR_STEER_ENCODED,
    EXPERT_WEIGHTS,
    HISTORY_IDS,
    HISTORY_LEN,
    HISTORY_LENGTH,
    NEGATIVE_PROB,
    PROMPT_EMBEDDING,
    PROMPT_MASK,
    PROMPT_STATES,
    SEQ_BACKBONE,
    STEERED_EMBEDDING,
    STEERING_HEAD,
    STRENGTH,
    USER_EMBEDDING,
)
from dpr_plugin.errors import (
    BackendUnavailableError,
    DeadlineExceededError,
    InferenceError,
    InferenceTimeoutError,
    UserNotFoundError,
)
from dpr_plugin.intent.clauses import Intent, TagTarget
from dpr_plugin.serving.history.base import HistoryStore
from dpr_plugin.serving.index.base import ItemIndex, SearchFilter
from dpr_plugin.serving.inference.base import InferenceBackend
from dpr_plugin.serving.inference.breaker import CircuitBreaker
from dpr_plugin.serving.intent_plan import Plan, make_plan, steered_vector, understanding
from dpr_plugin.serving.lru import LruCache
from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.model_bundle import ModelBundle
from dpr_plugin.serving.prompt_encodings import PromptEncodings
from dpr_plugin.serving.rate_limited_log import RateLimitedLog
from dpr_plugin.serving.steer_query import (
    RANK_DEPTH,
    ScoredItem,
    ServedPath,
    SteerQuery,
    SteerResult,
    Understanding,
)

log = logging.getLogger("dpr.pipeline")

INTENT_CACHE_ENTRIES = 4096
"""Prompts whose reading is kept (a reading does not depend on the user)."""


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
        soft_ranges: Apply a prompt's ranges as a move toward the items in range instead of
            a filter.
        user_vectors: Backbone vectors kept by the exact history they came from (0: none);
            a call whose history is unchanged since one of them reuses it and runs the
            steering head alone.
    """

    steering_budget_s: float = 0.25
    search_reserve_s: float = 0.02
    fallback_log_interval_s: float = 10.0
    max_fallbacks_in_flight: int = 2
    breaker_failures: int = 3
    soft_ranges: bool = False
    user_vectors: int = 10_000


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
        self.in_flight = 0
        self._fallback_log = RateLimitedLog(log, self.settings.fallback_log_interval_s)
        self._fallback_slots: asyncio.Semaphore | None = None
        self._intents: LruCache[str, Intent] = LruCache(INTENT_CACHE_ENTRIES)
        self._encodings = PromptEncodings(bundle.tokenizer)
        self._users: LruCache[bytes, np.ndarray] | None = (
            LruCache(self.settings.user_vectors) if self.settings.user_vectors else None
        )
        self.breaker = CircuitBreaker(
            backend,
            self.settings.breaker_failures,
            on_change=lambda is_open: self.metrics.circuit_open.set(int(is_open)),
        )

    async def steer(self, query: SteerQuery, deadline: float | None = None) -> SteerResult:
        """Answers one request; ``deadline`` is a ``time.monotonic()`` instant or ``None``.
        ``in_flight`` counts the calls being answered (a release switch waits for them).

        Raises:
            UserNotFoundError: Unknown user and no prompt.
            IndexQueryError: A filter names a field that is not indexed.
            IndexUnavailableError, HistoryUnavailableError: A store is down.
            BackendUnavailableError: No backend could compute even the unsteered vector.
            DeadlineExceededError: The deadline passed.
        """
        self.in_flight += 1
        try:
            return await self._steer(query, deadline)
        finally:
            self.in_flight -= 1

    async def _steer(self, query: SteerQuery, deadline: float | None) -> SteerResult:
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
        seen = [lookup[item] for item in raw_history if item in lookup]
        # a cold item (indexed from its tags after training) is not in the model's table
        known = [i for i in seen if i <= self.bundle.model_items]
        tensors = _history_tensors(known)
        history_key = tensors[HISTORY_IDS.name].tobytes()
        cached = self._users.get(history_key) if self._users is not None else None
        if cached is not None:
            self.metrics.user_vectors_reused.inc()
        clock.lap("history")

        understood = Understanding()
        fallback_reason = ""
        # an open circuit: the primary backend failed repeatedly, its probe has not seen it
        # ready again; go straight to the in-process fallback instead of waiting out a budget
        skip_primary = self.fallback is not None and self.breaker.is_open
        plan: Plan | None = None
        intent = Intent()
        if query.prompt and not skip_primary:
            try:
                intent = await self._read(query.prompt, clock)
                plan = make_plan(intent, self.bundle, query, self.settings.soft_ranges)
                if plan.steers:
                    path = ServedPath.COLD_START if not known else ServedPath.STEERED
                    user, served, head = await self._steered(plan, tensors, clock, cached)
                    self.breaker.record_success()
                    understood = understanding(intent, plan, True, *head)
                else:  # nothing read, or only filters: the backbone's own vector
                    path = ServedPath.UNSTEERED
                    user, fallback_reason = await self._unsteered(tensors, clock, cached=cached)
                    served = user
                    understood = understanding(intent, plan, True)
            except (InferenceError, BackendUnavailableError) as exc:
                self.breaker.record_failure()
                fallback_reason = _reason_code(exc)
                cause = "timeout" if isinstance(exc, InferenceTimeoutError) else type(exc).__name__
                self.metrics.fallbacks.labels(cause).inc()
                self._fallback_log.warning("steering failed (%s); serving unsteered", exc)
                path = ServedPath.FALLBACK_UNSTEERED
                # one budget per request: after a failed steered call the backbone runs
                # in-process, not on the same (maybe hung) server again
                user, note = await self._unsteered(tensors, clock, self.fallback is None, cached)
                served = user
                fallback_reason = "; ".join(filter(None, (fallback_reason, note)))
                intent, plan, understood = self._rules_only(query, intent, plan)
        elif query.prompt:
            self.metrics.fallbacks.labels("circuit_open").inc()
            path = ServedPath.FALLBACK_UNSTEERED
            user, note = await self._unsteered(tensors, clock, False, cached)
            served = user
            fallback_reason = "; ".join(filter(None, (STEERING_UNAVAILABLE, note)))
            intent, plan, understood = self._rules_only(query, intent, plan)
        else:
            path = ServedPath.UNSTEERED
            user, fallback_reason = await self._unsteered(tensors, clock, not skip_primary, cached)
            served = user
        clock.lap("infer")
        if self._users is not None and cached is None:
            kept = np.array(user, np.float32)
            kept.flags.writeable = False
            self._users.put(history_key, kept)

        where = self._filter(query, seen, plan)
        items = await self._search(query, served, user, where, clock)
        clock.lap("search")
        clock.timings["total"] = (time.perf_counter() - clock.start) * 1000.0
        self.metrics.observe_stages(clock.timings)
        self.metrics.requests.labels(path.value).inc()
        for applied in understood.clauses:
            target = applied.clause.target
            if isinstance(target, TagTarget):
                polarity = "negative" if applied.clause.negative else "positive"
                for tag in target.names:
                    self.metrics.understood_tags.labels(tag, polarity).inc()
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
            index_generation=getattr(getattr(self.index, "last_info", None), "generation", ""),
        )

    def _rules_only(
        self, query: SteerQuery, intent: Intent, plan: Plan | None
    ) -> tuple[Intent, Plan, Understanding]:
        """When the steering path is down: the intent as far as the rules read it (no
        zero-shot without the encoder), its filters kept, its steering not applied."""
        if plan is None:
            reader = self.bundle.intent_reader
            intent = self._intents.get(query.prompt) or reader.finish(
                reader.draft(query.prompt), None
            )
            plan = make_plan(intent, self.bundle, query, self.settings.soft_ranges)
        return intent, plan, understanding(intent, plan, False)

    async def _read(self, prompt: str, clock: _Clock) -> Intent:
        """The prompt's intent (cached per prompt text: it does not depend on the user). Clauses
        the rules cannot place go through the encoder, in one batch, for the zero-shot reader."""
        cached = self._intents.get(prompt)
        if cached is not None:
            return cached
        reader = self.bundle.intent_reader
        draft = reader.draft(prompt)
        clock.lap("read")
        embeddings = None
        if draft.pending and reader.zero_shot is not None:
            encoded = await self._encodings.encode(
                draft.pending_texts, self.backend, self._budget(clock)
            )
            embeddings = encoded.embedding
            clock.lap("zero_shot")
        intent = reader.finish(draft, embeddings)
        self._intents.put(prompt, intent)
        return intent

    def _budget(self, clock: _Clock) -> float | None:
        budget = clock.left(self.settings.steering_budget_s)
        return None if budget is None else max(budget - self.settings.search_reserve_s, 0.001)

    async def _steered(
        self,
        plan: Plan,
        tensors: dict[str, np.ndarray],
        clock: _Clock,
        cached: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, tuple[float, ...]]]:
        """The user vector, the served vector, and the head's negative probability and expert
        weights on the first row. All of the plan's rows go to the head as one batch, with the
        encodings of their canonical prompts (kept by the service after their first use): to
        the head alone when the user vector is ``cached``, else through the backbone too."""
        if not plan.rows:  # item references only: the backbone's vector is enough
            if cached is not None:
                user = cached
            else:
                out = await self.backend.infer(
                    SEQ_BACKBONE.name, tensors, timeout_s=self._budget(clock)
                )
                user = out[USER_EMBEDDING.name][0]
            return user, steered_vector(plan, self.bundle, user, None), (0.0, ())
        encoded = await self._encodings.encode(
            [row.text for row in plan.rows], self.backend, self._budget(clock)
        )
        rows = len(plan.rows)
        clock.lap("encode")
        prompts = {
            PROMPT_EMBEDDING.name: encoded.embedding,
            PROMPT_STATES.name: encoded.states,
            PROMPT_MASK.name: encoded.mask,
            STRENGTH.name: np.ones((rows, 1), np.float32),
        }
        if cached is not None:
            user = cached
            inputs = {USER_EMBEDDING.name: np.repeat(cached[None, :], rows, axis=0)} | prompts
            model = STEERING_HEAD.name
        else:
            inputs = {k: np.repeat(v, rows, axis=0) for k, v in tensors.items()} | prompts
            model = DPR_STEER_ENCODED.name
        out = await self.backend.infer(model, inputs, timeout_s=self._budget(clock))
        if cached is None:
            user = out[USER_EMBEDDING.name][0]
        served = steered_vector(plan, self.bundle, user, out[STEERED_EMBEDDING.name])
        head = (
            float(out[NEGATIVE_PROB.name][0, 0]),
            tuple(float(w) for w in out[EXPERT_WEIGHTS.name][0]),
        )
        return user, served, head

    async def _unsteered(
        self,
        tensors: dict[str, np.ndarray],
        clock: _Clock,
        try_primary: bool = True,
        cached: np.ndarray | None = None,
    ) -> tuple[np.ndarray, str]:
        """The backbone's user vector: ``cached`` if given, else the primary backend (within
        the steering budget, so a hung server cannot hold the request) unless told to skip
        it, else the fallback; and a note when the fallback served it."""
        if cached is not None:
            return cached, ""
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

    def _filter(self, query: SteerQuery, seen: list[int], plan: Plan | None) -> SearchFilter:
        """The request's filters plus the intent's (ranges, unwanted tags in HARD / HYBRID
        mode, unwanted and referenced items)."""
        lookup = self.bundle.internal_ids
        excluded = {lookup[item] for item in query.exclude_item_ids if item in lookup}
        if query.exclude_seen:
            excluded.update(seen)
        must, must_not = list(query.must), list(query.must_not)
        if plan is not None:
            must.extend(plan.must)
            must_not.extend(plan.must_not)
            excluded.update(plan.exclude)
        return SearchFilter(
            must=tuple(must), must_not=tuple(must_not), exclude_ids=frozenset(excluded)
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
