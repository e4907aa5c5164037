"""A real tritonserver (the nvidia-pytriton wheel's binary) serves the exported repository."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dpr_plugin.contract import ALL_MODELS, DPR_STEER, SEQ_BACKBONE
from dpr_plugin.errors import InferenceError, TritonStartError
from dpr_plugin.export.parity import ATOL, RTOL, backbone_cases
from dpr_plugin.serving.inference.local_runtime import LocalRuntime
from dpr_plugin.serving.inference.triton_client import TritonBackend
from dpr_plugin.triton_local.server import LocalTritonServer, TritonSettings
from tests.repository import pytorch_reference

SETTINGS = TritonSettings(venv=Path(os.environ.get("DPR_TRITON_VENV", ".venv-triton")))


@pytest.fixture(scope="module")
def served(exported):
    """(exported tuple, running server) — one server per exported backbone."""
    server = LocalTritonServer(exported[3], SETTINGS).start()
    yield exported, server
    server.stop()
    assert server.leftover_shm() == []


def _request(num_items: int) -> dict[str, np.ndarray]:
    ids, lengths = backbone_cases(num_items)[1]
    prompt_ids = np.zeros((3, 32), np.int64)  # [CLS] more comedies [SEP] / no horror / a
    prompt_ids[:, :4] = [[101, 2062, 22092, 102], [101, 2053, 5469, 102], [101, 1037, 102, 0]]
    return {
        "HISTORY_IDS": ids,
        "HISTORY_LEN": lengths,
        "PROMPT_IDS": prompt_ids,
        "PROMPT_MASK": (prompt_ids > 0).astype(np.int64),
        "STRENGTH": np.array([[1.0], [2.0], [0.0]], np.float32),
    }


async def _with_client(url: str, work):
    client = TritonBackend(url)
    try:
        return await work(client)
    finally:
        await client.close()


def test_triton_loads_every_model_ready(served) -> None:
    _, server = served
    import tritonclient.grpc as grpcclient

    index = grpcclient.InferenceServerClient(server.grpc_url).get_model_repository_index()
    states = {m.name: m.state for m in index.models}
    assert states == {m.name: "READY" for m in ALL_MODELS}


def test_triton_ensemble_matches_in_process_runtime_and_pytorch(served) -> None:
    exported, server = served
    request = _request(40)
    served_out = asyncio.run(
        _with_client(server.grpc_url, lambda c: c.infer(DPR_STEER.name, request))
    )
    local_out = LocalRuntime(exported[3]).infer_sync(DPR_STEER.name, request)
    assert set(served_out) == set(local_out)
    for name, value in local_out.items():
        np.testing.assert_allclose(served_out[name], value, atol=ATOL, rtol=RTOL, err_msg=name)
    for name, value in pytorch_reference(exported[1], exported[2], request).items():
        np.testing.assert_allclose(served_out[name], value, atol=ATOL, rtol=RTOL, err_msg=name)
    np.testing.assert_array_equal(
        served_out["STEERED_EMBEDDING"][2], served_out["USER_EMBEDDING"][2]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r.update(HISTORY_IDS=r["HISTORY_IDS"][:, :10]),
            r"seq_backbone\.HISTORY_IDS: .*unexpected shape for input 'HISTORY_IDS'",
        ),
        (
            lambda r: r.update(HISTORY_IDS=r["HISTORY_IDS"].astype(np.int32)),
            r"seq_backbone\.HISTORY_IDS: .*data-type is 'INT32'",
        ),
    ],
)
def test_triton_names_model_and_tensor_when_request_malformed(served, change, message) -> None:
    _, server = served
    request = {k: v for k, v in _request(40).items() if k in ("HISTORY_IDS", "HISTORY_LEN")}
    change(request)
    with pytest.raises(InferenceError, match=message):
        asyncio.run(_with_client(server.grpc_url, lambda c: c.infer(SEQ_BACKBONE.name, request)))


def test_triton_start_fails_fast_with_log_when_model_broken(tmp_path: Path, exported) -> None:
    repository = tmp_path / "broken"
    shutil.copytree(exported[3], repository)
    (repository / "seq_backbone" / "1" / "model.onnx").write_bytes(b"not an onnx file")
    server = LocalTritonServer(repository, SETTINGS)
    with pytest.raises(TritonStartError, match=r"exited with code \d+:[\s\S]*seq_backbone"):
        server.start()
    assert server.leftover_shm() == []
