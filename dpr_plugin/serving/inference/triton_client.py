"""Inference through a Triton server over gRPC (``tritonclient.grpc.aio``).

Inputs are built from the model configs the server reports (so dtypes and names come from the
same contract the configs were rendered from); Triton's errors become ours, naming the model
and, when Triton names one, the tensor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from dpr_plugin.errors import BackendUnavailableError, InferenceError, InferenceTimeoutError

_UNAVAILABLE = (
    "StatusCode.UNAVAILABLE",
    "failed to connect",
    "Connection refused",
    "Socket closed",
)
_TENSOR = re.compile(r"(?:input|output|tensor)\s+'([A-Za-z0-9_]+)'")


def _to_error(model: str, exc: InferenceServerException) -> Exception:
    text = exc.message() if callable(exc.message) else str(exc)
    status = str(exc.status() or "")
    if "DEADLINE_EXCEEDED" in status or "Deadline Exceeded" in text:
        return InferenceTimeoutError(model, "no answer before the deadline")
    if any(marker in status or marker in text for marker in _UNAVAILABLE):
        return BackendUnavailableError(f"triton: {model}: {text}")
    found = _TENSOR.search(text)
    return InferenceError(
        model, f"triton rejected the request: {text}", found.group(1) if found else None
    )


class TritonBackend:
    """The InferenceBackend of a running Triton server.

    Args:
        url: ``host:port`` of Triton's gRPC endpoint.
        outputs: Model name → output names to request (all outputs when absent).
    """

    def __init__(self, url: str, outputs: Mapping[str, list[str]] | None = None) -> None:
        self.url = url
        self._client = grpcclient.InferenceServerClient(url=url)
        self._outputs = dict(outputs or {})

    async def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], timeout_s: float | None = None
    ) -> dict[str, np.ndarray]:
        """Runs ``model`` on Triton; see InferenceBackend.infer."""
        request = []
        for name, array in inputs.items():
            tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(np.ascontiguousarray(array))
            request.append(tensor)
        wanted = self._outputs.get(model)
        outputs = [grpcclient.InferRequestedOutput(n) for n in wanted] if wanted else None
        try:
            result = await self._client.infer(
                model, request, outputs=outputs, client_timeout=timeout_s
            )
        except InferenceServerException as exc:
            raise _to_error(model, exc) from None
        response = result.get_response()
        return {out.name: result.as_numpy(out.name) for out in response.outputs}

    async def is_ready(self) -> bool:
        """True when the server answers and is ready."""
        try:
            return bool(await self._client.is_server_ready(client_timeout=2.0))
        except InferenceServerException:
            return False

    async def statistics(self, model: str = "") -> dict[str, object]:
        """Triton's per-model inference statistics (queue, compute times, cache hits) as JSON."""
        try:
            return await self._client.get_inference_statistics(model_name=model, as_json=True)
        except InferenceServerException as exc:
            raise _to_error(model or "server", exc) from None

    async def close(self) -> None:
        """Closes the gRPC channel."""
        await self._client.close()
