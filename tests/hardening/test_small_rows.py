"""Row 11 of the hardening review, the smaller findings: the served path of a HARD answer, one
item-id limit for Steer and AppendInteractions, errors and client expiries counted where they
belong, and one fallback warning per interval instead of one per request."""

from __future__ import annotations

import logging

import grpc
import pytest

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.serving.history.base import MAX_ITEM_ID_CHARS
from tests.hardening.conftest import FakeService


def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as failed:
        call()
    return failed.value.code()


def test_hard_mode_answer_says_unsteered_when_nothing_was_steered(
    fake_service: FakeService,
) -> None:
    request = pb.SteerRequest(user_id="u1", prompt="no dramas", negative_mode=pb.NEGATIVE_MODE_HARD)
    answer = fake_service.stub.Steer(request, timeout=5)
    assert answer.served_path == pb.SERVED_PATH_UNSTEERED
    assert list(answer.understood.hard_filtered_tags) == ["Drama"]
    assert answer.understood.strength == 0.0


def test_steer_and_append_take_the_same_item_id_length(fake_service: FakeService) -> None:
    longest, over = "i" * MAX_ITEM_ID_CHARS, "i" * (MAX_ITEM_ID_CHARS + 1)
    stub = fake_service.stub
    stub.Steer(pb.SteerRequest(user_id="u1", exclude_item_ids=[longest]), timeout=5)
    stub.AppendInteractions(pb.AppendInteractionsRequest(user_id="u1", item_ids=[longest]))
    steer = pb.SteerRequest(user_id="u1", exclude_item_ids=[over])
    append = pb.AppendInteractionsRequest(user_id="u1", item_ids=[over])
    assert _code(lambda: stub.Steer(steer, timeout=5)) == grpc.StatusCode.INVALID_ARGUMENT
    assert _code(lambda: stub.AppendInteractions(append)) == grpc.StatusCode.INVALID_ARGUMENT


def test_append_errors_are_counted_apart_from_steer_errors(fake_service: FakeService) -> None:
    metrics = fake_service.pipeline.metrics
    bad = pb.AppendInteractionsRequest(user_id="u1")  # no item ids
    assert _code(lambda: fake_service.stub.AppendInteractions(bad)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert metrics.append_errors.labels("INVALID_ARGUMENT")._value.get() == 1
    assert metrics.errors.labels("INVALID_ARGUMENT")._value.get() == 0


def test_a_call_the_client_gave_up_on_is_counted() -> None:
    service = FakeService(history_delay_s=1.0)
    try:
        request = pb.SteerRequest(user_id="u1")
        code = _code(lambda: service.stub.Steer(request, timeout=0.2))
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        counter = service.pipeline.metrics.cancelled.labels("Steer")._value
        service.run(_settle(lambda: counter.get() >= 1))
        assert counter.get() == 1
    finally:
        service.close()


async def _settle(done, timeout_s: float = 5.0) -> None:
    import asyncio
    import time

    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:
        await asyncio.sleep(0.05)


def test_fallbacks_warn_once_per_interval_and_count_every_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = FakeService(down=True)
    try:
        caplog.set_level(logging.WARNING, logger="dpr.pipeline")
        for _ in range(30):
            answer = service.stub.Steer(
                pb.SteerRequest(user_id="u1", prompt="more comedies"), timeout=5
            )
            assert answer.served_path == pb.SERVED_PATH_FALLBACK_UNSTEERED
    finally:
        service.close()
    warnings = [r for r in caplog.records if "serving unsteered" in r.getMessage()]
    assert len(warnings) == 1
    fallbacks = service.pipeline.metrics.fallbacks
    failed = fallbacks.labels("BackendUnavailableError")._value.get()
    skipped = fallbacks.labels("circuit_open")._value.get()  # after 3 failures in a row
    assert (failed, skipped) == (3, 27)
