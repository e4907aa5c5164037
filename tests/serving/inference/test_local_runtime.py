"""The in-process runtime runs the exported repository like Triton would."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from dpr_plugin.contract import DPR_STEER, PROMPT_ENCODER, SEQ_BACKBONE, STEERING_HEAD
from dpr_plugin.errors import InferenceError
from dpr_plugin.export.parity import ATOL, RTOL, backbone_cases
from dpr_plugin.models.prompt_encoder import PromptEncoder
from dpr_plugin.serving.inference.local_runtime import LocalRuntime
from tests.repository import pytorch_reference


def _request(num_items: int, prompts: list[str]) -> dict[str, np.ndarray]:
    ids, lengths = backbone_cases(num_items)[1]  # batch of 3: full, empty, random length
    encoder_ids, mask = PromptEncoder().tokenizer.encode_batch(prompts)
    strength = np.array([[1.0], [0.5], [0.0]], dtype=np.float32)
    return {
        "HISTORY_IDS": ids,
        "HISTORY_LEN": lengths,
        "PROMPT_IDS": encoder_ids,
        "PROMPT_MASK": mask,
        "STRENGTH": strength,
    }


def test_runtime_ensemble_matches_pytorch_pipeline(exported) -> None:
    _, backbone_dir, steering_dir, repository, _ = exported
    request = _request(40, ["more comedies", "no horror", "ok"])
    out = LocalRuntime(repository).infer_sync(DPR_STEER.name, request)
    for name, value in pytorch_reference(backbone_dir, steering_dir, request).items():
        np.testing.assert_allclose(out[name], value, atol=ATOL, rtol=RTOL, err_msg=name)
    # strength 0 (third row) leaves the user vector as it is
    np.testing.assert_array_equal(out["STEERED_EMBEDDING"][2], out["USER_EMBEDDING"][2])


def test_runtime_ensemble_equals_its_steps_run_one_by_one(exported) -> None:
    _, _, _, repository, _ = exported
    runtime = LocalRuntime(repository)
    request = _request(40, ["more dramas", "skip horror", "x"])
    whole = runtime.infer_sync(DPR_STEER.name, request)
    user = runtime.infer_sync(
        SEQ_BACKBONE.name, {k: request[k] for k in ("HISTORY_IDS", "HISTORY_LEN")}
    )
    prompt = runtime.infer_sync(
        PROMPT_ENCODER.name, {k: request[k] for k in ("PROMPT_IDS", "PROMPT_MASK")}
    )
    head = runtime.infer_sync(
        STEERING_HEAD.name,
        {
            "USER_EMBEDDING": user["USER_EMBEDDING"],
            "PROMPT_EMBEDDING": prompt["PROMPT_EMBEDDING"],
            "PROMPT_STATES": prompt["PROMPT_STATES"],
            "PROMPT_MASK": request["PROMPT_MASK"],
            "STRENGTH": request["STRENGTH"],
        },
    )
    for name, value in head.items():
        np.testing.assert_array_equal(whole[name], value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r.update(HISTORY_IDS=r["HISTORY_IDS"].astype(np.int32)),
            r"dpr_steer\.HISTORY_IDS: dtype int32 does not match int64",
        ),
        (
            lambda r: r.update(HISTORY_IDS=r["HISTORY_IDS"][:, :5]),
            r"dpr_steer\.HISTORY_IDS: shape \[3, 5\] does not match \[-1, 200\]",
        ),
        (
            lambda r: r.update(PROMPT_IDS=r["PROMPT_IDS"][0]),
            r"dpr_steer\.PROMPT_IDS: shape \[32\] does not match \[-1, -1\]",
        ),
        (lambda r: r.pop("STRENGTH"), r"dpr_steer\.STRENGTH: missing input"),
        (lambda r: r.update(EXTRA=np.zeros((3, 1), np.float32)), r"dpr_steer\.EXTRA: unexpected"),
    ],
)
def test_runtime_names_model_and_tensor_when_request_malformed(exported, change, message) -> None:
    _, _, _, repository, _ = exported
    request = _request(40, ["a", "b", "c"])
    change(request)
    with pytest.raises(InferenceError, match=message):
        LocalRuntime(repository).infer_sync(DPR_STEER.name, request)


def test_runtime_rejects_unknown_model_by_name(exported) -> None:
    with pytest.raises(InferenceError, match=r"nope: unknown model"):
        asyncio.run(LocalRuntime(exported[3]).infer("nope", {}))


def test_runtime_response_cache_returns_same_embedding_when_prompt_repeats(exported) -> None:
    runtime = LocalRuntime(exported[3])
    request = _request(40, ["more comedies", "more comedies", "more comedies"])
    feed = {k: request[k] for k in ("PROMPT_IDS", "PROMPT_MASK")}
    first = runtime.infer_sync(PROMPT_ENCODER.name, feed)
    assert len(runtime._caches[PROMPT_ENCODER.name]) == 1
    np.testing.assert_array_equal(
        runtime.infer_sync(PROMPT_ENCODER.name, feed)["PROMPT_EMBEDDING"], first["PROMPT_EMBEDDING"]
    )
    assert len(runtime._caches[PROMPT_ENCODER.name]) == 1
