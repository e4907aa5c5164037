"""Row 7 of the hardening review: answers carry stable reason codes and fixed messages, never
a component's address, file path or error text (those stay in the log)."""

from __future__ import annotations

import grpc
import pytest

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from tests.hardening.conftest import FakeService


def test_fallback_reason_is_a_code_without_the_backend_address() -> None:
    service = FakeService(down=True)  # the backend's error names ipv4:127.0.0.1:52861
    try:
        answer = service.stub.Steer(
            pb.SteerRequest(user_id="u1", prompt="more comedies"), timeout=5
        )
    finally:
        service.close()
    assert answer.served_path == pb.SERVED_PATH_FALLBACK_UNSTEERED
    assert answer.fallback_reason == "steering_unavailable; backbone_in_process"


def test_unavailable_history_answers_without_the_store_path() -> None:
    service = FakeService(history_down=True)  # the store's error names its file
    try:
        with pytest.raises(grpc.RpcError) as failed:
            service.stub.Steer(pb.SteerRequest(user_id="u1", request_id="r-1"), timeout=5)
    finally:
        service.close()
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert failed.value.details() == "history store unavailable (request_id r-1)"
