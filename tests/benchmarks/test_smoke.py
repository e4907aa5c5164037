"""Every benchmark's ``--smoke`` run, in this process: its whole code path on tiny synthetic
data, writing a result file with the keys the committed ones have.

The runs share one results root, so the inputs ``benchmarks.lib.smoke`` builds (data,
untrained checkpoints) are built once; the two service benchmarks take the session's exported
repository (``tests/conftest.py::exported``) instead of exporting their own.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the benchmarks need the training extra (torch)")

from benchmarks.common import RESULTS

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
PROVENANCE = {"command", "git_sha"}

# benchmark -> (extra flags, result file under the results root, keys the result must have)
SMOKES: dict[str, tuple[list[str], str, set[str]]] = {
    "backbone_ml1m": ([], "backbone_ml1m/backbone_ml1m.json", {"dataset", "sasrec", "gru4rec"}),
    "tie_order": ([], "tie_order/tie_order_ml1m.json", {"statistics", "sasrec"}),
    "steering_ml1m": (
        [],
        "steering_ml1m/steering_ml1m.json",
        {"sasrec", "gru4rec", "paper", "interval_method", "per_tag_png"},
    ),
    "steering_strength": (
        [],
        "steering_strength/steering_strength_ml1m.json",
        {"sasrec", "gru4rec", "strengths", "curves_png"},
    ),
    "steering_protocols": (
        [],
        "steering_protocols/steering_protocols_ml1m.json",
        {"sasrec", "gru4rec", "paper", "depths", "strength"},
    ),
    "steering_seeds": ([], "steering_seeds/steering_seeds_ml1m.json", {"sasrec", "gru4rec"}),
    "positive_protocol_probe": (
        [],
        "positive_protocol_probe/positive_protocol_probe.json",
        {"backbone", "cases", "mean_candidates", "methods"},
    ),
    "prompt_reading": (
        [],
        "prompt_reading/prompt_reading.json",
        {"steering", "tags", "polarity_accuracy", "templates"},
    ),
    "steering_variants": (
        [],
        "steering_variants/steering_variants_valid.json",
        {"stage", "backbone", "variants"},
    ),
    "tag_embeddings_bundled": (
        [],
        "tag_embeddings_bundled/tag_embeddings_bundled.json",
        {"plain", "tag_embeddings", "recipe"},
    ),
    "index_scale": ([], "index_scale/index_scale.json", {"3000", "targets"}),
    "large_catalogue": (
        [],
        "large_catalogue/large_catalogue.json",
        {"full_per_step", "sampled_per_step", "sampled_1e6_items"},
    ),
    "cold_items": (
        [],
        "cold_items/cold_items.json",
        {"protocol", "reference", "heldout", "not_indexed", "steering", "summary"},
    ),
}
# Served from an exported repository: they start ``dpr serve`` / a tritonserver.
SERVICE_SMOKES: dict[str, tuple[list[str], str, set[str]]] = {
    "serving": ([], "serving/serving.json", {"steer_new_prompt", "targets", "in_process_parts_ms"}),
    "triton_perf": (
        ["--triton-venv", os.environ.get("DPR_TRITON_VENV", ".venv-triton")],
        "triton_perf/triton_perf.json",
        {"dpr_steer", "seq_backbone", "prompt_encoder", "steering_head", "prompt_encoder_cached"},
    ),
    "prompt_understanding": (
        [],
        "prompt_understanding/prompt_understanding.json",
        {"categories", "understood_accuracy", "latency_ms", "per_prompt", "targets"},
    ),
    "serving_scale": ([], "serving_scale/serving_scale.json", {"export", "3000", "targets"}),
    "faults": (
        ["--hung-seconds", "4", "--burst", "200"],
        "faults/faults.json",
        {"burst", "hung_triton", "sigterm_drain", "parent_killed", "targets"},
    ),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results root every smoke run of this module writes under."""
    return tmp_path_factory.mktemp("smoke")


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """A benchmark sets torch's thread count for its run (``--threads``); the tests after it
    keep the suite's."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def smoke(name: str, root: Path, extra: list[str], result: str, keys: set[str]) -> dict:
    """Runs ``benchmarks.<name>.main --smoke`` in this process; the result it wrote."""
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.main(["--smoke", "--results-dir", str(root), *extra]) == 0
    body = json.loads((root / result).read_text())
    assert keys | PROVENANCE <= set(body), sorted(keys | PROVENANCE - set(body))
    assert f"benchmarks.{name} --smoke" in body["command"]
    return body


def test_every_benchmark_has_a_smoke_test() -> None:
    with_main = {p.stem for p in BENCHMARKS.glob("*.py") if "\ndef main(" in p.read_text()}
    assert with_main == set(SMOKES) | set(SERVICE_SMOKES)


@pytest.mark.parametrize("name", list(SMOKES))
def test_smoke(name: str, root: Path) -> None:
    body = smoke(name, root, *SMOKES[name])
    if name == "backbone_ml1m":
        body = smoke(name, root, ["--rescore"], *SMOKES[name][1:])
        assert "test_ndcg@10_seen_excluded" in body["sasrec"]
    elif name == "steering_ml1m":
        assert (root / "steering_ml1m" / "steering_ml1m_per_tag.png").stat().st_size > 0
        assert "targets" in body["sasrec"]
    elif name == "steering_strength":
        assert (root / "steering_strength" / "steering_strength_ml1m_curves.png").is_file()
        assert {"default_strength", "curves", "targets_at_default"} <= set(body["gru4rec"])
    elif name == "steering_seeds":
        # It reads the committed seed files, so it reproduces the committed result.
        committed = json.loads(
            (RESULTS / "steering_seeds" / "steering_seeds_ml1m.json").read_text()
        )
        assert {k: v for k, v in body.items() if k not in PROVENANCE} == {
            k: v for k, v in committed.items() if k not in PROVENANCE
        }
    elif name == "steering_variants":
        assert list(body["variants"]) == ["default", "within_tag_1"]
    elif name == "tie_order":
        assert "by_test_target" in body["sasrec"]
    elif name == "index_scale":  # a graph with ef above the point count answers exactly
        assert body["3000"]["ann"]["none"]["recall@10"] > 0.9


@pytest.mark.parametrize("exported", ["sasrec"], indirect=True)
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n == "faults" else n for n in SERVICE_SMOKES],
)
def test_smoke_of_a_service(name: str, root: Path, exported: tuple) -> None:
    extra, result, keys = SERVICE_SMOKES[name]
    body = smoke(name, root, [*extra, "--repository", str(exported[3])], result, keys)
    if name == "serving":
        assert body["errors_all_runtimes"] == 0
        assert body["requests_all_runtimes"] > 0
    elif name == "prompt_understanding":
        assert body["categories"]["nonsense"]["unsteered_rate"] == 1.0
        assert body["latency_ms"]["new_prompt_p50_c1"] > 0
    elif name == "serving_scale":
        assert body["3000"]["items"] == 3000 and body["3000"]["index"] == "exact"
        assert body["3000"]["c1"]["errors"] == body["3000"]["c8"]["errors"] == 0
    elif name == "faults":  # what does not depend on the machine's speed
        assert body["parent_killed"]["orphaned_processes"] == 0
        assert body["sigterm_drain"]["failed_in_flight"] == 0
        assert body["burst"]["answered_or_shed_within_deadline"]
    else:
        assert body["dpr_steer"]["c1"]["errors"] == 0


def test_a_smoke_run_never_writes_into_the_committed_results() -> None:
    from benchmarks import steering_seeds

    with pytest.raises(SystemExit, match="never writes into"):
        steering_seeds.main(["--smoke", "--results-dir", str(RESULTS / "steering_seeds")])
