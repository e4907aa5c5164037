"""The ``dpr`` command line: train + evaluate on a small dataset, clean errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dpr_plugin.cli import main
from tests.data.test_movielens import MOVIES_DAT


def _ml1m_dir(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "movies.dat").write_text(MOVIES_DAT, encoding="latin-1")
    lines = []
    for user in range(1, 21):
        for step, movie in enumerate((1, 2, 3, 1, 2, 3)):
            lines.append(f"{user}::{movie}::4::{100 * user + step}")
    (tmp_path / "ratings.dat").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_cli_train_then_evaluate_writes_checkpoint_and_curve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _ml1m_dir(tmp_path / "data")
    out = tmp_path / "ckpt"
    code = main(
        [
            "train",
            "--dataset",
            f"ml-1m:{data}",
            "--backbone",
            "gru4rec",
            "--out",
            str(out),
            "--hidden-dim",
            "8",
            "--max-len",
            "5",
            "--max-epochs",
            "2",
            "--batch-size",
            "8",
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 2
    assert (out / "curve.png").stat().st_size > 0
    assert json.loads((out / "config.json").read_text())["backbone"]["hidden_dim"] == 8
    assert main(["evaluate", "--checkpoint", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"valid", "test", "popularity_test"}
    assert report["test"] == pytest.approx(summary["test"])
    assert main(["evaluate", "--checkpoint", str(out), "--exclude-seen"]) == 0
    unseen = json.loads(capsys.readouterr().out)
    assert unseen["test"] == pytest.approx(summary["test_exclude_seen"])


def test_cli_reports_bad_flag_value_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--dataset", "bundled", "--out", str(tmp_path), "--max-epochs", "many"])
    assert code == 2
    assert "--max-epochs: invalid literal" in capsys.readouterr().err


def test_cli_reports_data_error_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _ml1m_dir(tmp_path / "data")
    with (data / "ratings.dat").open("a") as handle:
        handle.write("1::2::oops\n")
    code = main(["train", "--dataset", f"ml-1m:{data}", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "ratings.dat:121: expected 4 cells, found 3" in capsys.readouterr().err


def test_cli_takes_setting_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DPR_TRAIN_MAX_EPOCHS", "1")
    data = _ml1m_dir(tmp_path / "data")
    code = main(
        [
            "train",
            "--dataset",
            f"ml-1m:{data}",
            "--backbone",
            "gru4rec",
            "--out",
            str(tmp_path / "c"),
            "--hidden-dim",
            "8",
            "--max-len",
            "5",
            "--quiet",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 1


def test_cli_evaluate_asks_for_dataset_when_checkpoint_records_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import make_sequential_dataset
    from tests.repository import contract_backbone

    checkpoint = contract_backbone(make_sequential_dataset(), "gru4rec", tmp_path / "ckpt")
    assert main(["evaluate", "--checkpoint", str(checkpoint)]) == 2
    assert "--dataset: the checkpoint records no dataset" in capsys.readouterr().err
    assert (
        main(["train-steering", "--backbone", str(checkpoint), "--out", str(tmp_path / "s")]) == 2
    )
    assert "--dataset: the checkpoint records no dataset" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_train_and_train_steering_are_seeded_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs of the same command give the same weights, initial ones included (the models
    used to be built before the trainer seeded torch, so each run started elsewhere)."""
    import torch

    # heavy users only (k-core): the same code path on a fifth of the data
    common = ["--dataset", "bundled", "--min-user", "300", "--hidden-dim", "8", "--max-len", "20"]
    common += ["--quiet"]

    def weights(directory: Path) -> dict[str, torch.Tensor]:
        return torch.load(directory / "weights.pt")

    runs = []
    for run in range(2):
        torch.manual_seed(100 + run)  # whatever state the process is in
        backbone = tmp_path / f"backbone{run}"
        head = tmp_path / f"head{run}"
        args = ["train", "--backbone", "sasrec", "--out", str(backbone), "--max-epochs", "1"]
        assert main([*args, *common]) == 0
        args = ["train-steering", "--backbone", str(backbone), "--out", str(head)]
        assert (
            main([*args, "--max-samples", "64", "--epochs", "1", "--align-steps", "20", "--quiet"])
            == 0
        )
        capsys.readouterr()
        runs.append((weights(backbone), weights(head)))
    for first, second in zip(*runs, strict=True):
        assert first.keys() == second.keys()
        for name in first:
            torch.testing.assert_close(first[name], second[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [(None, None, True), ("false", None, False), (None, "false", False), ("true", None, True)],
)
def test_cli_train_embeds_tags_by_default(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str | None,
    env: str | None,
    expected: bool,
) -> None:
    """``dpr train`` turns tag embeddings on for a dataset with tags unless told otherwise,
    by flag or by environment variable."""
    if env is not None:
        monkeypatch.setenv("DPR_MODEL_TAG_EMBEDDINGS", env)
    data = _ml1m_dir(tmp_path / "data")
    args = ["train", "--dataset", f"ml-1m:{data}", "--backbone", "gru4rec", "--quiet"]
    args += ["--out", str(tmp_path / "c"), "--hidden-dim", "8", "--max-len", "5"]
    args += ["--max-epochs", "1", *(["--tag-embeddings", flag] if flag else [])]
    assert main(args) == 0
    capsys.readouterr()
    config = json.loads((tmp_path / "c" / "config.json").read_text())["backbone"]
    assert config["tag_embeddings"] is expected
    assert config["num_tags"] > 0


def test_cli_train_help_states_the_tag_embeddings_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "true when the dataset has tags" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["index", "load-histories", "serve"])
def test_service_commands_read_the_same_serve_settings_when_set_by_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str
) -> None:
    """``DPR_SERVE_*`` moves index, load-histories and serve alike (index and load-histories
    used to copy the defaults by hand, so the variable moved serve alone)."""
    from dpr_plugin.cli import build_parser
    from dpr_plugin.serving.settings import ServeSettings
    from dpr_plugin.settings import build

    monkeypatch.setenv("DPR_SERVE_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("DPR_SERVE_HISTORY_URL", str(tmp_path / "h.sqlite"))
    extra = ["--dataset", "bundled"] if command == "load-histories" else []
    settings = build(ServeSettings, build_parser().parse_args([command, *extra]), "serve")
    assert settings.index_dir == tmp_path / "index"
    assert settings.history_url == str(tmp_path / "h.sqlite")


def test_serve_takes_the_local_triton_settings_by_flag_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dpr_plugin.cli import build_parser
    from dpr_plugin.settings import build
    from dpr_plugin.triton_local.server import TritonSettings

    monkeypatch.setenv("DPR_TRITON_STARTUP_TIMEOUT_S", "42")
    args = build_parser().parse_args(["serve", "--cache-bytes", "1024"])
    settings = build(TritonSettings, args, "triton")
    assert (settings.cache_bytes, settings.startup_timeout_s) == (1024, 42.0)
