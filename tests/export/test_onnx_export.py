"""Export writes the contract's models, proves parity, and fails loudly when parity breaks."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from dpr_plugin.contract import ONNX_MODELS, SEQ_BACKBONE
from dpr_plugin.errors import ParityError
from dpr_plugin.export.parity import backbone_cases, check_parity
from dpr_plugin.export.wrappers import BackboneSignature
from dpr_plugin.training.checkpoint import load_backbone
from tests.conftest import make_sequential_dataset
from tests.repository import contract_backbone


def test_export_writes_named_tensors_with_dynamic_batch(exported) -> None:
    _, _, _, repository, _ = exported
    for spec in ONNX_MODELS:
        model = onnx.load(str(repository / spec.name / "1" / "model.onnx"))
        assert [i.name for i in model.graph.input] == [t.name for t in spec.inputs]
        assert [o.name for o in model.graph.output] == [t.name for t in spec.outputs]
        for value in (*model.graph.input, *model.graph.output):
            assert value.type.tensor_type.shape.dim[0].dim_param == "batch", value.name
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta["model_version"] == "1" and len(meta["source_sha256"]) in (64, 9)


def test_export_parity_holds_for_every_model(exported) -> None:
    _, _, _, repository, manifest = exported
    diffs = manifest.parity_max_abs_diff
    assert set(diffs) == {"seq_backbone", "prompt_encoder", "steering_head"}
    # The moving head really moves vectors, so its parity is not the trivial identity.
    assert all(v < 1e-4 for model in diffs.values() for v in model.values())
    on_disk = json.loads((repository / "manifest.json").read_text())
    assert on_disk["tags"] == make_sequential_dataset().tag_names


def test_export_writes_item_table_beside_backbone(exported) -> None:
    _, backbone_dir, _, repository, _ = exported
    model, catalogue, _ = load_backbone(backbone_dir)
    table = np.load(repository / "seq_backbone" / "1" / "items.npy")
    assert table.shape == (len(catalogue.item_ids), 64)
    np.testing.assert_array_equal(table, model.item_vectors().detach().numpy()[1:])


def test_tag_embedding_backbone_exports_with_parity_and_indexes_the_composed_table(
    tmp_path,
) -> None:
    from dpr_plugin.export.run import run_export
    from dpr_plugin.export.triton_config import write as write_configs
    from tests.repository import moving_head

    dataset = make_sequential_dataset()
    backbone_dir = contract_backbone(
        dataset,
        "sasrec",
        tmp_path / "backbone",
        tag_embeddings=True,
    )
    repository = tmp_path / "triton_models"
    write_configs(repository)
    manifest = run_export(backbone_dir, moving_head(dataset, tmp_path / "steering"), repository)
    assert all(v < 1e-4 for model in manifest.parity_max_abs_diff.values() for v in model.values())
    model, _, _ = load_backbone(backbone_dir)
    assert model.config.tag_embeddings
    table = np.load(repository / "seq_backbone" / "1" / "items.npy")
    np.testing.assert_array_equal(table, model.item_vectors().detach().numpy()[1:])
    inputs = model.item_embedding.weight.detach().numpy()[1:]
    # the index holds the composed table (own row + tag part), not the bare rows
    assert not np.allclose(table, inputs)


def test_parity_check_names_model_and_tensor_when_outputs_differ(exported, tmp_path) -> None:
    kind, _, _, repository, _ = exported
    other_dir = contract_backbone(make_sequential_dataset(), kind, tmp_path / "other", seed=7)
    other, _, _ = load_backbone(other_dir)
    with pytest.raises(ParityError, match=r"seq_backbone\.USER_EMBEDDING: max \|torch - onnx\|"):
        check_parity(
            BackboneSignature(other),
            str(repository / "seq_backbone" / "1" / "model.onnx"),
            SEQ_BACKBONE,
            backbone_cases(other.config.num_items),
        )
