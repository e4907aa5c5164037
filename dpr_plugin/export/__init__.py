"""Export of trained checkpoints to ONNX files inside ``triton_models/``."""
