"""Model releases: ``dpr release add / activate / rollback`` on real exports, and a service
started with ``--releases`` switching to release B and back to A while Steer calls flow, with
no error and every answer from one release's models and that release's index."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import grpc
import pytest

from dpr_plugin.cli import main
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.manifest import Manifest
from dpr_plugin.serving.releases import ReleaseStore
from tests.grpc_api.conftest import service_settings
from tests.service_thread import ServiceThread

USERS = [str(u) for u in range(1, 41)]
PROMPTS = ["", "more comedies", "no dramas", "80s action"]


def _recalibrated(export: Path, out: Path) -> Path:
    """A second export of the same models with other default strengths: another release
    (another model version) without training again."""
    shutil.copytree(export, out)
    manifest = Manifest.load(out)
    strength = dataclasses.replace(manifest.default_strength, source="recalibrated for a test")
    moved = dataclasses.replace(manifest, default_strength=strength)
    moved.write(out)
    assert moved.model_version != manifest.model_version
    return out


def _release(root: Path, *args: str) -> int:
    return main(["release", *args, "--releases", str(root)])


@pytest.fixture(scope="module")
def releases(service_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("releases")
    b = _recalibrated(service_repository, tmp_path_factory.mktemp("export_b") / "b")
    assert _release(root, "add", "--export", str(service_repository)) == 0
    assert _release(root, "add", "--export", str(b)) == 0
    assert _release(root, "activate", "1") == 0
    return root


def test_add_numbers_releases_and_records_the_model_in_each_index(releases: Path) -> None:
    store = ReleaseStore(releases)
    assert store.numbers() == ["1", "2"]
    one, two = store.release("1"), store.release("2")
    assert one.model_version != two.model_version
    assert store.pointer() == {"current": "1"}
    for release in (one, two):
        (meta,) = (release.index_dir / "generations").glob("*/meta.json")
        assert f'"model_version": "{release.model_version}"' in meta.read_text()


def test_activate_refuses_a_release_whose_index_was_built_from_another_model(
    releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "r"
    shutil.copytree(releases, root)
    shutil.rmtree(root / "2" / "index")
    shutil.copytree(root / "1" / "index", root / "2" / "index")  # release 1's items
    assert _release(root, "activate", "2") == 2
    err = capsys.readouterr().err
    assert "was built from model" in err and ReleaseStore(root).release("1").model_version in err
    assert ReleaseStore(root).pointer() == {"current": "1"}  # unchanged
    assert _release(root, "rollback") == 2
    assert "no previous release" in capsys.readouterr().err


def _load(stub, stop: threading.Event, seen: list, errors: list) -> None:
    k = 0
    while not stop.is_set():
        user, prompt = USERS[k % len(USERS)], PROMPTS[k % len(PROMPTS)]
        k += 1
        try:
            answer = stub.Steer(pb.SteerRequest(user_id=user, prompt=prompt, top_k=5), timeout=5)
            seen.append((answer.model_version, answer.index_generation, len(answer.items)))
        except grpc.RpcError as exc:
            errors.append(f"{exc.code().name}: {exc.details()}")


@pytest.mark.slow
def test_release_b_then_rollback_to_a_under_load_without_an_error(
    releases: Path, bundled_histories: tuple[Path, dict], tmp_path: Path
) -> None:
    root = tmp_path / "r"
    shutil.copytree(releases, root)
    history = tmp_path / "history.sqlite"
    shutil.copy(bundled_histories[0], history)
    store = ReleaseStore(root)
    generation = {
        store.release(n).model_version: next((root / n / "index" / "generations").iterdir()).name
        for n in ("1", "2")
    }
    settings = service_settings(
        Path("unused"), Path("unused"), history, releases=str(root), release_poll_s=0.1
    )
    service = ServiceThread(settings)
    stop, seen, errors = threading.Event(), [], []
    clients = [
        threading.Thread(target=_load, args=(service.stub, stop, seen, errors)) for _ in range(4)
    ]
    try:
        for client in clients:
            client.start()
        phases = []
        for command in (["activate", "2"], ["rollback"]):
            time.sleep(2.0)
            before = len(seen)
            assert _release(root, *command) == 0
            deadline = time.monotonic() + 30
            want = store.current().model_version
            while not seen[before:] or seen[-1][0] != want:
                assert time.monotonic() < deadline, f"no switch to {want}"
                time.sleep(0.05)
            phases.append(want)
        time.sleep(1.0)
    finally:
        stop.set()
        for client in clients:
            client.join(10)
        metrics = service.server.metrics
        switched = metrics.release_switches.labels("switched")._value.get()
        service.close()
    a, b = store.release("1").model_version, store.release("2").model_version
    assert errors == []
    assert phases == [b, a] and switched == 2
    assert {version for version, _, _ in seen} == {a, b}
    for version, index_generation, items in seen:
        assert index_generation == generation[version]  # its own release's index
        assert items == 5
    print(f"{len(seen)} answers, 0 errors, switched to {b} and back to {a}")
