"""End to end with a real tritonserver and the embedded Qdrant engine; Triton killed mid-test
→ the service answers with the flagged unsteered list (no error, no hang), and recovers
without a restart once Triton is back."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from tests.grpc_api.conftest import build_index, service_settings
from tests.service_thread import ServiceThread


@pytest.fixture(scope="module")
def triton_service(
    service_repository: Path,
    bundled_histories: tuple[Path, dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServiceThread, object]]:
    from dpr_plugin.triton_local.server import LocalTritonServer

    triton = LocalTritonServer(service_repository).start()
    history = tmp_path_factory.mktemp("triton-history") / "history.sqlite"
    shutil.copy(bundled_histories[0], history)
    settings = service_settings(
        service_repository,
        build_index(service_repository, tmp_path_factory.mktemp("triton-index")),
        history,
        in_process=False,
        triton_url=triton.grpc_url,
        steering_budget_ms=2000.0,
    )
    running = ServiceThread(settings)
    try:
        yield running, triton
    finally:
        running.close()
        triton.stop()


def steer(service: ServiceThread, **fields: object) -> pb.SteerResponse:
    return service.stub.Steer(pb.SteerRequest(**fields), timeout=30)


def test_triton_path_matches_the_in_process_service(
    triton_service: tuple[ServiceThread, object], service: ServiceThread
) -> None:
    served, _ = triton_service
    prompts = ("", "more comedies", "no dramas", "funny, but not a cartoon", "a good scare")
    for prompt in prompts:  # the last two: two clauses in one batch; the zero-shot reader
        remote = steer(served, user_id="8", prompt=prompt)
        local = steer(service, user_id="8", prompt=prompt)
        assert remote.served_path == local.served_path
        assert [i.item_id for i in remote.items] == [i.item_id for i in local.items]
        assert [i.score for i in remote.items] == pytest.approx(
            [i.score for i in local.items], abs=1e-4
        )


def test_triton_killed_gives_flagged_fallback_then_recovers(
    triton_service: tuple[ServiceThread, object],
) -> None:
    served, triton = triton_service
    unsteered = steer(served, user_id="12")
    assert steer(served, user_id="12", prompt="more comedies").served_path == (
        pb.SERVED_PATH_STEERED
    )
    triton.kill()  # type: ignore[attr-defined]
    started = time.perf_counter()
    fallback = steer(served, user_id="12", prompt="more comedies")
    assert time.perf_counter() - started < 5.0
    assert fallback.served_path == pb.SERVED_PATH_FALLBACK_UNSTEERED
    assert fallback.fallback_reason
    assert [i.item_id for i in fallback.items] == [i.item_id for i in unsteered.items]
    empty = steer(served, user_id="12")
    assert empty.served_path == pb.SERVED_PATH_UNSTEERED
    assert [i.item_id for i in empty.items] == [i.item_id for i in unsteered.items]

    triton.start()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while True:
        again = steer(served, user_id="12", prompt="more comedies")
        if again.served_path == pb.SERVED_PATH_STEERED or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert again.served_path == pb.SERVED_PATH_STEERED


def test_triton_killed_and_restarted_during_load_keeps_answering(
    triton_service: tuple[ServiceThread, object],
) -> None:
    """Requests keep flowing while Triton dies and comes back: no errors, the outage is
    flagged as fallback, and steering resumes without restarting the service."""
    import threading

    import grpc

    served, triton = triton_service
    stop = threading.Event()
    paths: list[int] = []
    errors: list[str] = []

    def caller(user: str) -> None:
        while not stop.is_set():
            try:
                response = served.stub.Steer(
                    pb.SteerRequest(user_id=user, prompt="more comedies"), timeout=10
                )
                assert response.items
                paths.append(response.served_path)
            except (grpc.RpcError, AssertionError) as exc:
                errors.append(repr(exc))

    threads = [threading.Thread(target=caller, args=(u,)) for u in ("1", "2", "3")]
    for t in threads:
        t.start()
    time.sleep(1.0)
    triton.kill()  # type: ignore[attr-defined]
    time.sleep(2.0)
    triton.start()  # type: ignore[attr-defined]
    steered_again = time.monotonic() + 60
    mark = len(paths)
    while time.monotonic() < steered_again:
        if pb.SERVED_PATH_STEERED in paths[mark:]:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    assert pb.SERVED_PATH_FALLBACK_UNSTEERED in paths
    assert pb.SERVED_PATH_STEERED in paths[mark:]
    assert set(paths) <= {pb.SERVED_PATH_STEERED, pb.SERVED_PATH_FALLBACK_UNSTEERED}


def test_service_restarts_the_local_triton_it_started_when_it_dies(
    service_repository: Path, bundled_histories: tuple[Path, dict], tmp_path: Path
) -> None:
    """A crash of the service's own tritonserver (SIGKILL, no clean-up) is noticed and undone
    by the service: answers keep coming (flagged fallback), then steering is back on the same
    port, and the restart is counted."""
    history = tmp_path / "history.sqlite"
    shutil.copy(bundled_histories[0], history)
    settings = service_settings(
        service_repository,
        build_index(service_repository, tmp_path / "index"),
        history,
        in_process=False,
        steering_budget_ms=2000.0,
    )
    from dpr_plugin.triton_local.launcher import launch

    running = ServiceThread(settings, launcher=launch)
    try:
        assert running.server.components is not None
        launched = running.server.components.backends.launched
        assert launched is not None, "the service did not start its own tritonserver"
        triton = launched.server
        assert steer(running, user_id="12", prompt="more comedies").served_path == (
            pb.SERVED_PATH_STEERED
        )
        crashed = triton._process
        port = triton.grpc_port
        crashed.kill()  # the process alone, as a crash would: no clean-up by us
        crashed.wait()
        paths = []
        deadline = time.monotonic() + 120
        while True:
            answer = steer(running, user_id="12", prompt="more comedies")
            paths.append(answer.served_path)
            if answer.served_path == pb.SERVED_PATH_STEERED and triton.is_running():
                break
            assert time.monotonic() < deadline, f"steering not back after 120 s: {paths[-5:]}"
            time.sleep(0.25)
        assert pb.SERVED_PATH_FALLBACK_UNSTEERED in paths
        assert set(paths) <= {pb.SERVED_PATH_FALLBACK_UNSTEERED, pb.SERVED_PATH_STEERED}
        assert triton._process is not crashed and triton.grpc_port == port
        # The supervisor counts the restart when its restart thread returns, which can be a
        # moment after the new server has begun to answer.
        counter = running.server.metrics.triton_restarts.labels("ok")._value
        settled = time.monotonic() + 10
        while counter.get() < 1 and time.monotonic() < settled:
            time.sleep(0.1)
        assert counter.get() == 1
    finally:
        running.close()
    assert not triton.is_running() and triton.leftover_shm() == []
