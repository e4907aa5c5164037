"""A Python-based Triton backend named ``onnxruntime``: runs ``<model>/<version>/model.onnx``
with the pip ``onnxruntime`` inside Triton's python-backend stub.

It stands in for Triton's C++ onnxruntime backend where only the python backend exists (the
``nvidia-pytriton`` wheel), so model configs stay exactly as the NGC container needs them.
Requests the dynamic batcher groups are run as one onnxruntime call; every failure becomes a
per-request error that names the model and the tensors. Loaded by Triton, not by our package.
"""

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


def _parameter(config, key, default):
    entry = config.get("parameters", {}).get(key)
    return entry.get("string_value", default) if isinstance(entry, dict) else default


class TritonPythonModel:
    """One onnxruntime session per model instance."""

    def initialize(self, args):
        self.config = json.loads(args["model_config"])
        self.name = args["model_name"]
        filename = self.config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        if not os.path.isfile(path):
            raise pb_utils.TritonModelException(f"model '{self.name}': {path} not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(_parameter(self.config, "intra_op_thread_count", "1"))
        options.inter_op_num_threads = int(_parameter(self.config, "inter_op_thread_count", "1"))
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.batched = int(self.config.get("max_batch_size", 0)) > 0
        self.inputs = [
            (t["name"], pb_utils.triton_string_to_numpy(t["data_type"]))
            for t in self.config["input"]
        ]
        self.outputs = [
            (t["name"], pb_utils.triton_string_to_numpy(t["data_type"]))
            for t in self.config["output"]
        ]
        onnx_inputs = {i.name for i in self.session.get_inputs()}
        onnx_outputs = {o.name for o in self.session.get_outputs()}
        for name, _ in self.inputs:
            if name not in onnx_inputs:
                raise pb_utils.TritonModelException(
                    f"model '{self.name}': config input '{name}' not in the ONNX file"
                )
        for name, _ in self.outputs:
            if name not in onnx_outputs:
                raise pb_utils.TritonModelException(
                    f"model '{self.name}': config output '{name}' not in the ONNX file"
                )
        self.output_names = [name for name, _ in self.outputs]

    def _feeds(self, request):
        feeds = {}
        for name, dtype in self.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"model '{self.name}': missing input tensor '{name}'")
            array = tensor.as_numpy()
            if array.dtype != dtype:
                raise ValueError(
                    f"model '{self.name}': input tensor '{name}' has dtype {array.dtype}, "
                    f"expected {np.dtype(dtype)}"
                )
            feeds[name] = array
        return feeds

    def _response(self, values, start=None, stop=None):
        tensors = [
            pb_utils.Tensor(name, np.ascontiguousarray(value[start:stop].astype(dtype, copy=False)))
            for (name, dtype), value in zip(self.outputs, values, strict=True)
        ]
        return pb_utils.InferenceResponse(output_tensors=tensors)

    def _error(self, message, code):
        return pb_utils.InferenceResponse(
            output_tensors=[], error=pb_utils.TritonError(message, code)
        )

    def execute(self, requests):
        responses = [None] * len(requests)
        ready = []
        for index, request in enumerate(requests):
            try:
                ready.append((index, self._feeds(request)))
            except ValueError as exc:
                responses[index] = self._error(str(exc), pb_utils.TritonError.INVALID_ARG)
        if self.batched and len(ready) > 1:
            try:
                joined = {
                    name: np.concatenate([feeds[name] for _, feeds in ready])
                    for name, _ in self.inputs
                }
                values = self.session.run(self.output_names, joined)
            except Exception:  # one bad request must not fail the others: run them one by one
                values = None
            if values is not None:
                offset = 0
                for index, feeds in ready:
                    size = feeds[self.inputs[0][0]].shape[0]
                    responses[index] = self._response(values, offset, offset + size)
                    offset += size
                return responses
        for index, feeds in ready:
            try:
                responses[index] = self._response(self.session.run(self.output_names, feeds))
            except Exception as exc:
                shapes = ", ".join(f"'{n}' {list(a.shape)} {a.dtype}" for n, a in feeds.items())
                code = (
                    pb_utils.TritonError.INVALID_ARG
                    if "INVALID_ARGUMENT" in str(exc)
                    else pb_utils.TritonError.INTERNAL
                )
                responses[index] = self._error(
                    f"model '{self.name}': onnxruntime failed for inputs {shapes}: {exc}", code
                )
        return responses

    def finalize(self):
        self.session = None
