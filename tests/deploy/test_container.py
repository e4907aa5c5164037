"""The stage as a container: deploy/docker-compose.yml and deploy/Dockerfile, checked without a
Docker engine (none runs here), and the serving install script the image runs, run for real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dpr_plugin.cli import build_parser
from dpr_plugin.serving.settings import ServeSettings
from dpr_plugin.settings import build

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_starts_the_whole_stage() -> None:
    services = _compose()["services"]
    assert set(services) == {"dpr", "triton", "qdrant", "redis"}
    dpr = services["dpr"]
    assert (DEPLOY / dpr["build"]["context"] / dpr["build"]["dockerfile"]).resolve() == (
        DEPLOY / "Dockerfile"
    )
    assert set(dpr["depends_on"]) == {"triton", "qdrant", "redis"}
    assert {"50051:50051", "9464:9464"} <= {p.split()[0] for p in dpr["ports"]}
    assert "../triton_models:/models:ro" in dpr["volumes"]
    assert "../triton_models:/models:ro" in services["triton"]["volumes"]
    assert "8001:8001" in services["triton"]["ports"]


def test_the_dpr_service_flags_are_dpr_serve_flags_that_reach_the_other_services() -> None:
    dpr = _compose()["services"]["dpr"]
    args = build_parser().parse_args(["serve", *dpr["command"]])  # unknown flags exit here
    settings = build(ServeSettings, args, "serve")
    assert settings.host == "0.0.0.0"  # so the port mapping reaches it
    assert settings.repository == Path("/models")
    assert settings.triton_url == "triton:8001"
    assert settings.qdrant_url == "http://qdrant:6333"
    assert settings.history_url == "redis://redis:6379/0"
    # not loopback: it would refuse to start without tokens or TLS; the file is mounted
    mounted = {volume.split(":")[1] for volume in dpr["volumes"]}
    assert settings.auth_tokens_file in mounted and not settings.insecure


def test_the_image_runs_the_serving_install_script_unprivileged_with_a_grpc_health_check() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    for line in lines:
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            assert all((ROOT / source).exists() for source in sources), line
    assert any(
        "bash scripts/install_serving.sh" in line for line in lines if line.startswith("RUN")
    )
    (user,) = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user not in ("root", "0")
    assert 'CMD ["dpr", "health", "--target", "127.0.0.1:50051"]' in lines
    assert lines[-1] == 'ENTRYPOINT ["dpr", "serve"]'
    assert not any("torch" in line for line in lines)


@pytest.mark.slow
def test_the_serving_install_script_installs_dpr_serve_without_torch(tmp_path: Path) -> None:
    """What the image's RUN line does, on the same files its COPY lines take."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "dpr_plugin", source / "dpr_plugin")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PYTHON": str(venv / "bin" / "python")}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install_serving.sh"), str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "dpr serve installed" in done.stdout
    probe = (
        "import importlib.util as u; "
        "print(*(bool(u.find_spec(m)) for m in ('torch', 'qdrant_client', 'redis')))"
    )
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True
    )
    assert found.stdout.split() == ["False", "True", "True"]
    health = subprocess.run(
        [str(venv / "bin" / "dpr"), "health", "--help"], capture_output=True, text=True
    )
    assert health.returncode == 0 and "--target" in health.stdout


def test_dpr_health_exits_0_only_while_the_service_says_serving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The image's health check."""
    from grpc_health.v1 import health_pb2

    from dpr_plugin.cli import main
    from tests.hardening.conftest import FakeService

    service = FakeService()
    try:
        service.run(service.health.set("", health_pb2.HealthCheckResponse.SERVING))
        assert main(["health", "--target", service.target]) == 0
        service.run(service.health.enter_graceful_shutdown())  # what SIGTERM does first
        assert main(["health", "--target", service.target]) == 1
    finally:
        service.close()
    assert main(["health", "--target", service.target, "--timeout", "0.5"]) == 2  # gone
    out = capsys.readouterr()
    assert f"{service.target} (server): SERVING" in out.out
    assert "NOT_SERVING" in out.out and "UNAVAILABLE" in out.err
