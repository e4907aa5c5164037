"""The inference interface both backends implement (Triton client, in-process runtime).

A backend runs a served model by name on named numpy arrays and returns named arrays;
the service never knows which backend it talks to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from dpr_plugin.errors import InferenceError
from dpr_plugin.serving.inference.model_repository import ModelConfig


class InferenceBackend(Protocol):
    """Runs served models by name."""

    async def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], timeout_s: float | None = None
    ) -> dict[str, np.ndarray]:
        """Runs ``model`` on a batch; raises InferenceError (naming model/tensor) on rejection,
        InferenceTimeoutError past ``timeout_s``, BackendUnavailableError if the backend is down."""
        ...

    async def is_ready(self) -> bool:
        """True when every model is loaded and serving."""
        ...

    async def close(self) -> None:
        """Releases connections or sessions."""
        ...


def check_inputs(config: ModelConfig, inputs: Mapping[str, np.ndarray]) -> int:
    """Validates names, dtypes and shapes against a model config; returns the batch size.

    Raises:
        InferenceError: naming the model and the offending tensor.
    """
    expected = {t.name: t for t in config.inputs}
    for name in inputs:
        if name not in expected:
            raise InferenceError(
                config.name, f"unexpected input (expects {sorted(expected)})", name
            )
    batch = None
    for name, spec in expected.items():
        if name not in inputs:
            raise InferenceError(config.name, "missing input", name)
        array = inputs[name]
        if array.dtype != spec.dtype:
            raise InferenceError(
                config.name, f"dtype {array.dtype} does not match {spec.dtype}", name
            )
        want = (-1, *spec.dims)
        if array.ndim != len(want) or any(
            w != -1 and w != g for w, g in zip(want, array.shape, strict=False)
        ):
            raise InferenceError(
                config.name, f"shape {list(array.shape)} does not match {list(want)}", name
            )
        if batch is None:
            batch = array.shape[0]
        elif array.shape[0] != batch:
            raise InferenceError(config.name, f"batch {array.shape[0]} != {batch} of others", name)
    if batch is None or batch < 1:
        raise InferenceError(config.name, "empty batch")
    if config.max_batch_size and batch > config.max_batch_size:
        raise InferenceError(config.name, f"batch {batch} > max_batch_size {config.max_batch_size}")
    return batch
