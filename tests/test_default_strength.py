"""Default strengths: which one a prompt gets, their checks, and how an export carries them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dpr_plugin.default_strength import DefaultStrength
from dpr_plugin.errors import ConfigError
from dpr_plugin.serving.model_bundle import ModelBundle
from tests.repository import TEST_DEFAULTS


def test_each_way_of_applying_a_prompt_gets_its_own_default() -> None:
    default = DefaultStrength(positive=1.5, negative=0.75, negative_hybrid=0.25, source="x")
    assert default.for_prompt(negative=False, hybrid=False) == 1.5
    assert default.for_prompt(negative=False, hybrid=True) == 1.5  # hybrid only bans tags
    assert default.for_prompt(negative=True, hybrid=False) == 0.75
    assert default.for_prompt(negative=True, hybrid=True) == 0.25
    assert DefaultStrength.from_json(default.to_json(), "here") == default
    assert DefaultStrength() == DefaultStrength(1.0, 1.0, 1.0, "as trained")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"positive": -0.5}, "default_strength.positive"),
        ({"negative": 4.5}, "default_strength.negative"),
        ({"negative_hybrid": float("nan")}, "default_strength.negative_hybrid"),
        ({"positive": "1"}, "default_strength.positive"),
        ({"positive": True}, "default_strength.positive"),
        ({"source": 3}, "default_strength.source"),
        ({"postive": 1.0}, "unknown fields"),
    ],
)
def test_bad_defaults_name_the_file_and_field(body: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^manifest\.json: .*{field}"):
        DefaultStrength.from_json(body, "manifest.json")


def test_a_non_object_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^m: default_strength must be an object"):
        DefaultStrength.from_json([1.0], "m")


def test_export_carries_the_checkpoints_defaults_into_the_bundle(exported) -> None:
    _, _, _, repository, manifest = exported
    assert manifest.default_strength == DefaultStrength(**TEST_DEFAULTS)
    bundle = ModelBundle.load(repository)
    assert bundle.default_strength == DefaultStrength(**TEST_DEFAULTS)


def _copy_of(repository: Path, root: Path, manifest: dict) -> Path:
    for part in ("seq_backbone/1/items.json", "prompt_encoder/1/tokenizer.json"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repository / part, root / part)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_bundle_without_defaults_serves_as_trained_and_keeps_its_version(
    exported, tmp_path: Path
) -> None:
    _, _, _, repository, _ = exported
    older = json.loads((repository / "manifest.json").read_text())
    older.pop("default_strength")
    bundle = ModelBundle.load(_copy_of(repository, tmp_path, older))
    assert bundle.default_strength == DefaultStrength()
    assert bundle.model_version != ModelBundle.load(repository).model_version


def test_bundle_with_bad_defaults_names_the_manifest_and_field(exported, tmp_path: Path) -> None:
    _, _, _, repository, _ = exported
    body = json.loads((repository / "manifest.json").read_text())
    body["default_strength"]["negative"] = 9.0
    with pytest.raises(
        ConfigError, match=r"^repository: .*manifest\.json: default_strength\.negative"
    ):
        ModelBundle.load(_copy_of(repository, tmp_path, body))
