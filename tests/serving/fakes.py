"""In-memory fakes of the pipeline's three collaborators (inference backend, item index,
history store) and of an export's bundle, so the pipeline is tested without a trained model.

The catalogue is six items in two dimensions; the backbone's user vector and each prompt's
steering direction are fixed by hand, so every expected ranking can be worked out on paper.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dpr_plugin.contract import (
    DPR_STEER_ENCODED,
    EXPERT_WEIGHTS,
    HISTORY_LEN,
    NEGATIVE_PROB,
    NUM_EXPERTS,
    PROMPT_EMBEDDING,
    PROMPT_ENCODER,
    PROMPT_IDS,
    PROMPT_STATES,
    SEQ_BACKBONE,
    STEERED_EMBEDDING,
    STEERING_HEAD,
    STRENGTH,
    TAG_SCORES,
    USER_EMBEDDING,
)
from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.errors import (
    BackendUnavailableError,
    HistoryUnavailableError,
    InferenceTimeoutError,
)
from dpr_plugin.intent.reader import IntentReader
from dpr_plugin.intent.vocabulary import TagTerms, Vocabulary
from dpr_plugin.serving.index.base import Hit, IndexInfo, Match, Range, SearchFilter
from dpr_plugin.serving.model_bundle import ModelBundle

TAGS = ("Comedy", "Drama", "Horror")
ITEMS: dict[str, tuple[tuple[float, float], tuple[str, ...]]] = {
    "c1": ((1.0, 0.0), ("Comedy",)),
    "c2": ((0.9, 0.2), ("Comedy",)),
    "d1": ((0.0, 1.0), ("Drama",)),
    "d2": ((0.2, 0.9), ("Drama",)),
    "cd": ((0.6, 0.6), ("Comedy", "Drama")),
    "h1": ((-1.0, 0.1), ("Horror",)),
}
"""Platform id → (vector, tags); internal ids follow this order (c1 = 1 ... h1 = 6)."""
USER = np.array([0.1, 1.0], np.float32)
"""Every known user's backbone vector: a drama fan (d1, d2, cd, c2, c1, h1)."""


@dataclass(frozen=True)
class Reading:
    """What the fake head reads from one prompt: tag probabilities, P(negative), direction."""

    tag_scores: tuple[float, ...]
    negative: float
    delta: tuple[float, float]


READINGS = {
    "more comedies": Reading((0.95, 0.0, 0.0), 0.02, (2.0, -1.0)),
    "no dramas": Reading((0.0, 0.9, 0.0), 0.97, (1.0, -2.0)),
    "no horror": Reading((0.0, 0.0, 0.9), 0.97, (0.5, 0.5)),
}
"""The head's reading of each canonical prompt the pipeline sends (a clause's "more X" /
"no X")."""


class FakeTokenizer:
    """One id per distinct prompt ([CLS] id [SEP]); ``text_of`` reads it back."""

    def __init__(self) -> None:
        self._texts: list[str] = []

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        if text not in self._texts:
            self._texts.append(text)
        ids = np.array([[101, 1000 + self._texts.index(text), 102]], np.int64)
        return ids, np.ones_like(ids)

    def text_of(self, ids: np.ndarray, row: int = 0) -> str:
        return self._texts[int(ids[row, 1]) - 1000]


def fake_bundle(default: DefaultStrength | None = None) -> ModelBundle:
    """A bundle over the six-item catalogue with the fake tokenizer."""
    ids = tuple(ITEMS)
    surfaces = {"Comedy": "comedies", "Drama": "dramas", "Horror": "horror"}
    vocabulary = Vocabulary(
        "fake",
        tuple(
            TagTerms(tag, surfaces[tag], tag.lower(), (tag.lower(), surfaces[tag]), ())
            for tag in TAGS
        ),
    )
    return ModelBundle(
        tokenizer=FakeTokenizer(),  # type: ignore[arg-type]
        tags=TAGS,
        item_ids=ids,
        internal_ids={item: i + 1 for i, item in enumerate(ids)},
        model_version="fake-1",
        default_strength=default or DefaultStrength(),
        reader=IntentReader(vocabulary),
    )


class FakeBackend:
    """Answers ``seq_backbone``, ``prompt_encoder`` and ``dpr_steer_encoded`` from USER and
    READINGS. Its "encoding" of a prompt is the prompt's FakeTokenizer id in the first column
    of the embedding, so the head reads the prompt back from it.

    Args:
        tokenizer: The bundle's tokenizer (to read the prompt back from its ids).
        down: Every call raises BackendUnavailableError (a dead Triton).
        backbone_delay_s: ``seq_backbone`` takes this long (a CPU-bound in-process run);
            ``most_running`` records how many ran at once.

    Set ``hung`` to make every call and readiness check wait forever (a stopped server).
        steer_delay_s: ``dpr_steer_encoded`` takes this long (a hung or overloaded server); past the
            caller's timeout it raises InferenceTimeoutError, as both real backends do.
    """

    def __init__(
        self,
        tokenizer: FakeTokenizer,
        down: bool = False,
        steer_delay_s: float = 0.0,
        backbone_delay_s: float = 0.0,
    ) -> None:
        self.tokenizer = tokenizer
        self.down = down
        self.steer_batches: list[list[str]] = []
        """The canonical prompts of each steering call, one list per call."""
        self.steer_delay_s = steer_delay_s
        self.backbone_delay_s = backbone_delay_s
        self.hung = False
        self.calls: list[str] = []
        self.running = 0
        self.most_running = 0

    async def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], timeout_s: float | None = None
    ) -> dict[str, np.ndarray]:
        self.calls.append(model)
        if self.hung:  # answers nothing, refuses nothing (kill -STOP)
            try:
                await asyncio.wait_for(asyncio.sleep(3600), timeout_s)
            except TimeoutError:
                raise InferenceTimeoutError(model, f"no answer within {timeout_s}s") from None
        if self.down:
            raise BackendUnavailableError(
                f"{model}: ipv4:127.0.0.1:52861: Failed to connect to remote host"
            )
        if model == PROMPT_ENCODER.name:
            ids = inputs[PROMPT_IDS.name]
            embedding = np.zeros((ids.shape[0], 4), np.float32)
            embedding[:, 0] = ids[:, 1]
            states = np.zeros((*ids.shape, 4), np.float32)
            return {PROMPT_EMBEDDING.name: embedding, PROMPT_STATES.name: states}
        if model != STEERING_HEAD.name:  # the head alone takes a user vector, not a history
            assert int(inputs[HISTORY_LEN.name][0, 0]) >= 0
        if model == SEQ_BACKBONE.name:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            try:
                await asyncio.sleep(self.backbone_delay_s)
            finally:
                self.running -= 1
            return {USER_EMBEDDING.name: USER[None, :].copy()}
        assert model in (DPR_STEER_ENCODED.name, STEERING_HEAD.name), model
        if self.steer_delay_s:
            try:
                await asyncio.wait_for(asyncio.sleep(self.steer_delay_s), timeout_s)
            except TimeoutError:
                raise InferenceTimeoutError(model, f"no answer within {timeout_s}s") from None
        ids = inputs[PROMPT_EMBEDDING.name][:, :2].astype(np.int64)
        ids[:, 1] = ids[:, 0]
        rows = ids.shape[0]
        texts = [self.tokenizer.text_of(ids, row) for row in range(rows)]
        readings = [READINGS[text] for text in texts]
        strengths = inputs[STRENGTH.name][:, 0]
        steered = np.stack(
            [
                USER + np.float32(s) * np.array(r.delta, np.float32)
                for s, r in zip(strengths, readings, strict=True)
            ]
        )
        self.steer_batches.append(texts)
        user = {USER_EMBEDDING.name: np.repeat(USER[None, :], rows, axis=0)}
        return (user if model == DPR_STEER_ENCODED.name else {}) | {
            STEERED_EMBEDDING.name: steered,
            TAG_SCORES.name: np.array([r.tag_scores for r in readings], np.float32),
            NEGATIVE_PROB.name: np.array([[r.negative] for r in readings], np.float32),
            EXPERT_WEIGHTS.name: np.full((rows, NUM_EXPERTS), 1 / NUM_EXPERTS, np.float32),
        }

    async def is_ready(self) -> bool:
        if self.hung:
            await asyncio.sleep(3600)
        return not self.down

    async def close(self) -> None:
        pass


def _holds(payload: Mapping[str, object], cond: Match | Range) -> bool:
    value = payload.get(cond.field)
    values = value if isinstance(value, list) else [value]
    if isinstance(cond, Match):
        return any(v in cond.values for v in values)
    return all(
        isinstance(v, int | float)
        and (cond.gte is None or v >= cond.gte)
        and (cond.lte is None or v <= cond.lte)
        for v in values
    )


class FakeIndex:
    """Exact dot-product search over ITEMS with the SearchFilter semantics of the real ones."""

    def __init__(self) -> None:
        self.points = [
            (i, np.array(vector, np.float32), {"item_id": item, "title": item, "tags": list(tags)})
            for i, (item, (vector, tags)) in enumerate(ITEMS.items(), start=1)
        ]
        self.queries: list[SearchFilter] = []

    async def search(
        self,
        vectors: np.ndarray,
        limit: int,
        where: SearchFilter,
        payload_fields: Sequence[str] = (),
        with_vectors: bool = False,
        timeout_s: float | None = None,
    ) -> list[list[Hit]]:
        self.queries.append(where)
        answers = []
        for query in vectors:
            hits = [
                Hit(i, float(query @ vector), dict(payload), vector if with_vectors else None)
                for i, vector, payload in self.points
                if i not in where.exclude_ids
                and all(_holds(payload, c) for c in where.must)
                and not any(_holds(payload, c) for c in where.must_not)
            ]
            answers.append(sorted(hits, key=lambda hit: -hit.score)[:limit])
        return answers

    async def info(self) -> IndexInfo:
        return IndexInfo(len(self.points), 2, "fake", {"item_id": "keyword", "tags": "keyword"})

    async def close(self) -> None:
        pass


class FakeHistory:
    """Histories in a dict; ``max_length`` as the real stores trim; ``delay_s`` makes every
    read that slow (a store under a held lock); ``cpu_s`` makes every read hold its event loop
    that long (the CPU a real request spends on its loop)."""

    def __init__(
        self,
        histories: Mapping[str, list[str]],
        max_length: int = 200,
        delay_s: float = 0.0,
        down: bool = False,
        cpu_s: float = 0.0,
    ) -> None:
        self.histories = {user: list(items) for user, items in histories.items()}
        self.max_length = max_length
        self.delay_s = delay_s
        self.down = down
        self.cpu_s = cpu_s

    async def get(self, user_id: str) -> list[str] | None:
        busy_until = time.perf_counter() + self.cpu_s
        while time.perf_counter() < busy_until:
            pass
        await asyncio.sleep(self.delay_s)
        if self.down:
            raise HistoryUnavailableError(
                "history store /srv/secret/history.sqlite: database is locked"
            )
        items = self.histories.get(user_id)
        return None if items is None else items[-self.max_length :]

    async def append(self, user_id: str, item_ids: Sequence[str], idempotency_key: str = "") -> int:
        self.histories.setdefault(user_id, []).extend(item_ids)
        return len(self.histories[user_id][-self.max_length :])

    async def append_many(self, histories: Mapping[str, Sequence[str]]) -> int:
        for user, items in histories.items():
            await self.append(user, items)
        return len(histories)

    async def close(self) -> None:
        pass
