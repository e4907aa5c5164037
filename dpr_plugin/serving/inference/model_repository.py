"""Reads a Triton model repository: every ``config.pbtxt`` parsed with Triton's own schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from dpr_plugin.errors import ConfigError

_NUMPY = {"TYPE_INT64": np.dtype("int64"), "TYPE_FP32": np.dtype("float32")}


@dataclass(frozen=True)
class TensorConfig:
    """An input or output as a config.pbtxt declares it (batch axis excluded)."""

    name: str
    dtype: np.dtype
    dims: tuple[int, ...]


@dataclass(frozen=True)
class ModelConfig:
    """The parts of a model config this package uses."""

    name: str
    backend: str
    platform: str
    max_batch_size: int
    inputs: tuple[TensorConfig, ...]
    outputs: tuple[TensorConfig, ...]
    steps: tuple[tuple[str, dict[str, str], dict[str, str]], ...]
    response_cache: bool
    directory: Path

    @property
    def is_ensemble(self) -> bool:
        """True for ``platform: "ensemble"``."""
        return self.platform == "ensemble"

    def onnx_path(self, version: int = 1) -> Path:
        """Where the model's ONNX file lives."""
        return self.directory / str(version) / "model.onnx"


def _tensor(proto: model_config_pb2.ModelInput | model_config_pb2.ModelOutput) -> TensorConfig:
    type_name = model_config_pb2.DataType.Name(proto.data_type)
    if type_name not in _NUMPY:
        raise ConfigError(f"tensor {proto.name}: data type {type_name} is not supported")
    return TensorConfig(proto.name, _NUMPY[type_name], tuple(int(d) for d in proto.dims))


def parse_config(path: Path) -> ModelConfig:
    """Parses one config.pbtxt; a syntax error is a ConfigError naming the file."""
    try:
        proto = text_format.Parse(Path(path).read_text(), model_config_pb2.ModelConfig())
    except text_format.ParseError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    steps = tuple(
        (s.model_name, dict(s.input_map), dict(s.output_map))
        for s in proto.ensemble_scheduling.step
    )
    return ModelConfig(
        name=proto.name or Path(path).parent.name,
        backend=proto.backend,
        platform=proto.platform,
        max_batch_size=proto.max_batch_size,
        inputs=tuple(_tensor(t) for t in proto.input),
        outputs=tuple(_tensor(t) for t in proto.output),
        steps=steps,
        response_cache=proto.response_cache.enable,
        directory=Path(path).parent,
    )


def load_repository(repository: Path) -> dict[str, ModelConfig]:
    """Every model of a repository by name (folders holding a config.pbtxt)."""
    repository = Path(repository)
    if not repository.is_dir():
        raise ConfigError(f"model repository {repository} is not a directory")
    configs = {}
    for config_path in sorted(repository.glob("*/config.pbtxt")):
        config = parse_config(config_path)
        if config.name != config_path.parent.name:
            raise ConfigError(f"{config_path}: name {config.name!r} != folder name")
        configs[config.name] = config
    return configs
