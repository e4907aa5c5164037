"""Row 10 of the hardening review: another process holds the SQLite write lock, the client's
deadline passes while the append waits, and the append is applied afterwards; the client's
retry, with the same idempotency key, must not store the events twice."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import grpc
import pytest

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.serving.history.sqlite_store import SqliteHistoryStore
from tests.hardening.conftest import FakeService


def test_append_retried_after_a_deadline_under_a_held_lock_is_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    service = FakeService(history=SqliteHistoryStore(path, 50))
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        release = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
        release.start()
        request = pb.AppendInteractionsRequest(
            user_id="u9", item_ids=["a", "b"], idempotency_key="evt-7"
        )
        with pytest.raises(grpc.RpcError) as failed:
            service.stub.AppendInteractions(request, timeout=0.5)
        assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        release.join()
        time.sleep(0.5)  # the first call's write, applied once the lock is free
        retry = service.stub.AppendInteractions(request, timeout=5)
        assert retry.history_length == 2
        stored = service.run(service.pipeline.history.get("u9"))
        assert stored == ["a", "b"]
        again = service.stub.AppendInteractions(request, timeout=5)
        assert again.history_length == 2
    finally:
        service.close()
        holder.close()


def test_append_without_a_key_still_appends_every_call(tmp_path: Path) -> None:
    service = FakeService(history=SqliteHistoryStore(tmp_path / "h.sqlite", 50))
    try:
        request = pb.AppendInteractionsRequest(user_id="u9", item_ids=["a"])
        lengths = [service.stub.AppendInteractions(request, timeout=5).history_length]
        lengths.append(service.stub.AppendInteractions(request, timeout=5).history_length)
    finally:
        service.close()
    assert lengths == [1, 2]


def test_a_malformed_idempotency_key_is_invalid_argument(fake_service: FakeService) -> None:
    request = pb.AppendInteractionsRequest(user_id="u1", item_ids=["a"], idempotency_key="k" * 129)
    with pytest.raises(grpc.RpcError) as failed:
        fake_service.stub.AppendInteractions(request, timeout=5)
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.details().startswith("idempotency_key: ")
