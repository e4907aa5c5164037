"""``dpr index``, ``dpr load-histories``, ``dpr steer`` and ``dpr serve`` settings errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dpr_plugin.cli import main
from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore
from dpr_plugin.serving.index.edge import EdgeItemIndex
from tests.service_thread import ServiceThread


def test_index_then_rebuild_switches_generation(
    service_repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        assert main(["index", "--repository", str(service_repository),
                     "--index-dir", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("9066 items, dim 64") == 2
    info = asyncio.run(EdgeItemIndex(tmp_path).info())
    assert info.points == 9066 and info.generation in out.splitlines()[-2]


def test_load_histories_writes_every_bundled_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(tmp_path / "h.sqlite")
    assert main(["load-histories", "--dataset", "bundled", "--history-url", url,
                 "--history-length", "20"]) == 0  # fmt: skip
    assert "user histories from ml-latest-small" in capsys.readouterr().out

    async def read() -> list[str] | None:
        store = SqliteHistoryStore(Path(url), 20)
        try:
            return await store.get("1")
        finally:
            await store.close()

    history = asyncio.run(read())
    assert history is not None and len(history) == 20


def test_steer_prints_a_side_by_side_table(
    service: ServiceThread, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["steer", "--target", service.target, "--user", "1", "--top-k", "5",
                 "--prompt", "", "--prompt", "more comedies"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "'(no prompt)': unsteered" in out and "'more comedies': steered" in out
    assert len([line for line in out.splitlines() if line[:3].strip().isdigit()]) == 5


def test_steer_passes_a_strength_and_prints_the_clauses(
    service: ServiceThread, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["steer", "--target", service.target, "--user", "1", "--top-k", "3",
                 "--prompt", "more comedies", "--strength", "0.5"])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0] == "'more comedies': steered"
    assert out[1].startswith("  + Comedy 1.00 [lexicon] steered at 0.50  <- 'comedies'")
    code = main(["steer", "--target", service.target, "--user", "1", "--top-k", "3",
                 "--prompt", "more comedies", "--strength", "0"])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0] == "'more comedies': unsteered"  # read, not applied: said so
    assert "not_applied" in out[1]
    code = main(["steer", "--target", service.target, "--user", "1", "--top-k", "3",
                 "--prompt", "zzzz qqq"])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[:2] == ["'zzzz qqq': unsteered", "  not understood: 'zzzz qqq'"]


def test_steer_reports_a_status_error_in_one_line(
    service: ServiceThread, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["steer", "--target", service.target, "--user", "unknown-user"]) == 2
    assert "dpr steer: error: NOT_FOUND: user_id:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "70000"], "port: must be in 0..65535"),
        (["--history-length", "0"], "history_length: must be >= 1"),
        (["--port", "abc"], "--port: invalid literal"),
        (["--in-process", "true", "--triton-url", "x:1"], "in_process: cannot be combined"),
    ],
)
def test_serve_rejects_bad_settings_naming_them(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *flags]) == 2
    assert message in capsys.readouterr().err


def test_serve_without_an_index_says_what_to_run(
    service_repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--repository", str(service_repository), "--in-process", "true",
                 "--index-dir", str(tmp_path / "none"), "--port", "0", "--metrics-port", "-1",
                 "--history-url", str(tmp_path / "h.sqlite")])  # fmt: skip
    assert code == 2
    assert "run `dpr index`" in capsys.readouterr().err
