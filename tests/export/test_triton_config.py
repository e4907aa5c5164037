"""The committed Triton configs are exactly what the contract renders, and parse as Triton's."""

from __future__ import annotations

from pathlib import Path

from dpr_plugin.contract import ALL_MODELS, ENSEMBLES, PROMPT_ENCODER
from dpr_plugin.export.triton_config import stale
from dpr_plugin.serving.inference.model_repository import load_repository

REPOSITORY = Path(__file__).resolve().parents[2] / "triton_models"


def test_committed_configs_are_not_stale() -> None:
    assert stale(REPOSITORY) == []


def test_committed_configs_declare_the_contract() -> None:
    configs = load_repository(REPOSITORY)
    assert set(configs) == {m.name for m in ALL_MODELS}
    for spec in ALL_MODELS:
        config = configs[spec.name]
        for declared, wanted in ((config.inputs, spec.inputs), (config.outputs, spec.outputs)):
            assert [(t.name, t.dtype, t.dims) for t in declared] == [
                (t.name, t.numpy_dtype, t.dims) for t in wanted
            ]
    assert configs[PROMPT_ENCODER.name].response_cache
    for spec, steps in ENSEMBLES:
        assert configs[spec.name].is_ensemble and configs[spec.name].steps == steps
    ensembles = {spec for spec, _ in ENSEMBLES}
    assert all(configs[m.name].backend == "onnxruntime" for m in ALL_MODELS if m not in ensembles)
