"""The in-process runtime: runs a Triton model repository with onnxruntime, no server.

It reads the same ``triton_models/`` folder Triton serves (ONNX files, and the ensemble wiring
from ``dpr_steer/config.pbtxt``), validates requests against the configs as Triton would, and
honours ``response_cache`` with an in-memory LRU. It is the embedded default where no Triton
URL is configured, and the baseline that shows what the server hop costs.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort

from dpr_plugin.errors import ConfigError, InferenceError, InferenceTimeoutError
from dpr_plugin.serving.inference.base import check_inputs
from dpr_plugin.serving.inference.model_repository import ModelConfig, load_repository

CACHE_ENTRIES = 1024
"""Responses kept per cached model. A prompt_encoder answer is its embedding (1.5 KiB) plus one
384-float row per token: ~14 KiB for an 8-token prompt, ~50 KiB at 32 tokens, so at most
~50 MiB; repeated prompts (UI chips, "more comedies") are few, so 1024 covers them."""


class LocalRuntime:
    """onnxruntime sessions for each ONNX model of a repository, plus ensemble execution."""

    def __init__(self, repository: Path, threads: int = 1) -> None:
        self.configs = load_repository(repository)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._caches: dict[str, OrderedDict[bytes, dict[str, np.ndarray]]] = {}
        self._cache_lock = threading.Lock()
        for name, config in self.configs.items():
            if config.is_ensemble:
                for step, _, _ in config.steps:
                    if step not in self.configs:
                        raise ConfigError(
                            f"{name}: ensemble step {step!r} is not in the repository"
                        )
                continue
            if config.backend != "onnxruntime":
                raise ConfigError(f"{name}: backend {config.backend!r} cannot run in-process")
            path = config.onnx_path()
            if not path.is_file():
                raise ConfigError(f"{name}: {path} not found (run the export first)")
            self._sessions[name] = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            if config.response_cache:
                self._caches[name] = OrderedDict()

    def _config(self, model: str) -> ModelConfig:
        if model not in self.configs:
            raise InferenceError(model, f"unknown model (serving {sorted(self.configs)})")
        return self.configs[model]

    def infer_sync(self, model: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs one request in the calling thread."""
        config = self._config(model)
        check_inputs(config, inputs)
        if config.is_ensemble:
            return self._run_ensemble(config, inputs)
        cache = self._caches.get(model)
        key = b""
        if cache is not None:
            digest = hashlib.blake2b(digest_size=16)
            for name in sorted(inputs):
                digest.update(name.encode())
                digest.update(str(inputs[name].shape).encode())
                digest.update(np.ascontiguousarray(inputs[name]).tobytes())
            key = digest.digest()
            with self._cache_lock:  # requests run on worker threads
                if key in cache:
                    cache.move_to_end(key)
                    return dict(cache[key])
        names = [t.name for t in config.outputs]
        try:
            values = self._sessions[model].run(names, dict(inputs))
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise InferenceError(model, f"onnxruntime failed: {exc}") from exc
        result = dict(zip(names, values, strict=True))
        if cache is not None:
            with self._cache_lock:
                cache[key] = result
                if len(cache) > CACHE_ENTRIES:
                    cache.popitem(last=False)
        return dict(result)

    def _run_ensemble(
        self, config: ModelConfig, inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        tensors = dict(inputs)
        for step, input_map, output_map in config.steps:
            feed = {model_input: tensors[wire] for model_input, wire in input_map.items()}
            out = self.infer_sync(step, feed)
            for model_output, wire in output_map.items():
                tensors[wire] = out[model_output]
        return {t.name: tensors[t.name] for t in config.outputs}

    async def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], timeout_s: float | None = None
    ) -> dict[str, np.ndarray]:
        """Runs one request on a worker thread (onnxruntime releases the GIL)."""
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self.infer_sync, model, inputs), timeout_s
            )
        except TimeoutError:
            raise InferenceTimeoutError(model, f"no answer within {timeout_s:.3f}s") from None

    async def is_ready(self) -> bool:
        """Always ready once constructed (sessions load eagerly)."""
        return True

    async def close(self) -> None:
        """Drops the sessions."""
        self._sessions.clear()
