"""Runs the ``tritonserver`` binary of the ``nvidia-pytriton`` wheel on this machine.

The wheel ships Triton 2.51 with only the python backend. Our model configs keep
``backend: "onnxruntime"`` (for the NGC container), so a small Python-based backend *named*
``onnxruntime`` (``backends/onnxruntime/model.py``) runs the same ONNX files here.
"""
