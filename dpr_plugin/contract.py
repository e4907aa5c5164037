"""The model contract: model names, tensor names, dtypes and dims, in one place.

Export writes ONNX files with exactly these names and shapes, the committed Triton configs
declare them (a test parses the configs against this module), and both inference backends
(Triton client, in-process runtime) build requests from it. Nothing else spells a tensor name.
Dims exclude the batch axis, which is always dynamic (``max_batch_size`` > 0 in Triton).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HISTORY_LENGTH = 200
"""L: items of history the backbone reads; left-padded with 0, most recent item last."""
PROMPT_TOKENS = 32
"""T: most prompt tokens ([CLS] ... [SEP] then 0 padding); longer prompts are truncated."""
PROMPT_BUCKETS = (8, 16, PROMPT_TOKENS)
"""Widths the service pads a prompt to (the smallest that holds it): the encoder's cost grows
with the width, and real prompts are short. The token axis of the encoder is dynamic."""
PROMPT_DIM = 384
"""P: sentence-encoder embedding width (all-MiniLM-L6-v2)."""
EMBEDDING_DIM = 64
"""D: user/item vector width of the backbone (the vector index's dimension)."""
NUM_EXPERTS = 4
"""K: experts of the steering head (2 positive then 2 negative)."""
VARIABLE = -1
"""A dim that depends on the dataset (the number of tags)."""


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor of a model's signature (batch axis excluded)."""

    name: str
    dtype: str  # numpy dtype name
    dims: tuple[int, ...]

    @property
    def triton_type(self) -> str:
        """Data type as written in config.pbtxt."""
        return {"int64": "TYPE_INT64", "float32": "TYPE_FP32"}[self.dtype]

    @property
    def numpy_dtype(self) -> np.dtype:
        """Data type as numpy spells it."""
        return np.dtype(self.dtype)


@dataclass(frozen=True)
class ModelSpec:
    """A served model: its name (= folder in triton_models/) and signature."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec:
        """The input called ``name``."""
        return next(t for t in self.inputs if t.name == name)

    def output(self, name: str) -> TensorSpec:
        """The output called ``name``."""
        return next(t for t in self.outputs if t.name == name)


HISTORY_IDS = TensorSpec("HISTORY_IDS", "int64", (HISTORY_LENGTH,))
HISTORY_LEN = TensorSpec("HISTORY_LEN", "int64", (1,))
USER_EMBEDDING = TensorSpec("USER_EMBEDDING", "float32", (EMBEDDING_DIM,))
PROMPT_IDS = TensorSpec("PROMPT_IDS", "int64", (VARIABLE,))
PROMPT_MASK = TensorSpec("PROMPT_MASK", "int64", (VARIABLE,))
PROMPT_EMBEDDING = TensorSpec("PROMPT_EMBEDDING", "float32", (PROMPT_DIM,))
PROMPT_STATES = TensorSpec("PROMPT_STATES", "float32", (VARIABLE, PROMPT_DIM))
"""The encoder's last hidden state per token (zero on padding); the polarity reader's input."""
STRENGTH = TensorSpec("STRENGTH", "float32", (1,))
STEERED_EMBEDDING = TensorSpec("STEERED_EMBEDDING", "float32", (EMBEDDING_DIM,))
EXPERT_WEIGHTS = TensorSpec("EXPERT_WEIGHTS", "float32", (NUM_EXPERTS,))
TAG_SCORES = TensorSpec("TAG_SCORES", "float32", (VARIABLE,))
NEGATIVE_PROB = TensorSpec("NEGATIVE_PROB", "float32", (1,))

SEQ_BACKBONE = ModelSpec("seq_backbone", (HISTORY_IDS, HISTORY_LEN), (USER_EMBEDDING,))
PROMPT_ENCODER = ModelSpec(
    "prompt_encoder", (PROMPT_IDS, PROMPT_MASK), (PROMPT_EMBEDDING, PROMPT_STATES)
)
STEERING_HEAD = ModelSpec(
    "steering_head",
    (USER_EMBEDDING, PROMPT_EMBEDDING, PROMPT_STATES, PROMPT_MASK, STRENGTH),
    (STEERED_EMBEDDING, EXPERT_WEIGHTS, TAG_SCORES, NEGATIVE_PROB),
)
DPR_STEER = ModelSpec(
    "dpr_steer",
    (HISTORY_IDS, HISTORY_LEN, PROMPT_IDS, PROMPT_MASK, STRENGTH),
    (USER_EMBEDDING, STEERED_EMBEDDING, EXPERT_WEIGHTS, TAG_SCORES, NEGATIVE_PROB),
)
"""The ensemble of the whole method: history and prompt tokens in, steered vector out."""
DPR_STEER_ENCODED = ModelSpec(
    "dpr_steer_encoded",
    (HISTORY_IDS, HISTORY_LEN, PROMPT_EMBEDDING, PROMPT_STATES, PROMPT_MASK, STRENGTH),
    (USER_EMBEDDING, STEERED_EMBEDDING, EXPERT_WEIGHTS, TAG_SCORES, NEGATIVE_PROB),
)
"""The ensemble the service calls for a prompted request: backbone and head over prompt
encodings it already has. The service's clauses become canonical prompts ("more comedies"),
a small fixed set whose encodings it keeps, so a request with several clauses is one batch
through backbone and head with no encoder pass."""

ONNX_MODELS = (SEQ_BACKBONE, PROMPT_ENCODER, STEERING_HEAD)

ENSEMBLE_STEPS: tuple[tuple[str, dict[str, str], dict[str, str]], ...] = (
    # (model, {model input: ensemble tensor}, {model output: ensemble tensor}). The ensemble's
    # own inputs and outputs are ports (UPPER_SNAKE); wires only inside it are lower_snake.
    (
        SEQ_BACKBONE.name,
        {"HISTORY_IDS": "HISTORY_IDS", "HISTORY_LEN": "HISTORY_LEN"},
        {"USER_EMBEDDING": "USER_EMBEDDING"},
    ),
    (
        PROMPT_ENCODER.name,
        {"PROMPT_IDS": "PROMPT_IDS", "PROMPT_MASK": "PROMPT_MASK"},
        {"PROMPT_EMBEDDING": "prompt_embedding", "PROMPT_STATES": "prompt_states"},
    ),
    (
        STEERING_HEAD.name,
        {
            "USER_EMBEDDING": "USER_EMBEDDING",
            "PROMPT_EMBEDDING": "prompt_embedding",
            "PROMPT_STATES": "prompt_states",
            "PROMPT_MASK": "PROMPT_MASK",
            "STRENGTH": "STRENGTH",
        },
        {
            "STEERED_EMBEDDING": "STEERED_EMBEDDING",
            "EXPERT_WEIGHTS": "EXPERT_WEIGHTS",
            "TAG_SCORES": "TAG_SCORES",
            "NEGATIVE_PROB": "NEGATIVE_PROB",
        },
    ),
)
"""Wiring of ``dpr_steer``, in execution order."""

ENCODED_STEPS: tuple[tuple[str, dict[str, str], dict[str, str]], ...] = (
    ENSEMBLE_STEPS[0],
    (
        STEERING_HEAD.name,
        {name: name for name in ENSEMBLE_STEPS[2][1]},
        ENSEMBLE_STEPS[2][2],
    ),
)
"""Wiring of ``dpr_steer_encoded``: the backbone, then the head on the given encodings."""

ENSEMBLES = ((DPR_STEER, ENSEMBLE_STEPS), (DPR_STEER_ENCODED, ENCODED_STEPS))
ALL_MODELS = (*ONNX_MODELS, DPR_STEER, DPR_STEER_ENCODED)

MAX_BATCH_SIZE = 32
"""Largest batch Triton's dynamic batcher forms (see triton_models/README.md for the choice)."""
