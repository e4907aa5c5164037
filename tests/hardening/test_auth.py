"""Who may call: bearer tokens with read and write scopes, TLS, mutual TLS, and the refusal to
serve a non-loopback address with neither (unless told ``insecure``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpr_plugin.errors import ConfigError
from dpr_plugin.grpc_api.auth import TokenCheck, load_tokens, parse_tokens
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc
from dpr_plugin.grpc_api.server import ServerOptions, server_options
from dpr_plugin.serving.settings import ServeSettings
from tests.hardening.certs import Certificates, make_certificates
from tests.hardening.conftest import FakeService

READER = "reader-token-0123456789"
WRITER = "writer-token-0123456789"
EXPIRED = "expired-token-0123456789"
TOKENS = f"read {READER}\nread,write {WRITER}\nread {EXPIRED} expires=2020-01-01T00:00:00Z"


@pytest.fixture
def token_service() -> Iterator[FakeService]:
    options = ServerOptions(tokens=TokenCheck(parse_tokens(TOKENS, "test")))
    service = FakeService(options=options)
    yield service
    service.close()


def _code(call, token: str | None) -> grpc.StatusCode:
    metadata = None if token is None else (("authorization", f"Bearer {token}"),)
    try:
        call(metadata)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_tokens_decide_every_steering_call_by_scope(token_service: FakeService) -> None:
    stub = token_service.stub

    def steer(metadata):
        return stub.Steer(pb.SteerRequest(user_id="u1"), timeout=5, metadata=metadata)

    def append(metadata):
        request = pb.AppendInteractionsRequest(user_id="u1", item_ids=["c1"])
        return stub.AppendInteractions(request, timeout=5, metadata=metadata)

    assert _code(steer, None) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(steer, "not-a-known-token-at-all") == grpc.StatusCode.UNAUTHENTICATED
    assert _code(steer, EXPIRED) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(steer, READER) == grpc.StatusCode.OK
    assert _code(append, READER) == grpc.StatusCode.PERMISSION_DENIED
    assert _code(append, WRITER) == grpc.StatusCode.OK
    assert _code(steer, WRITER) == grpc.StatusCode.OK
    refused = token_service.pipeline.metrics.refused
    assert refused.labels("UNAUTHENTICATED")._value.get() == 3
    assert refused.labels("PERMISSION_DENIED")._value.get() == 1


def test_health_and_reflection_stay_open_under_tokens(token_service: FakeService) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    health = health_pb2_grpc.HealthStub(token_service.channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(token_service.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(reflect.ServerReflectionInfo(iter([request]), timeout=5))
    assert "dpr.v1.SteeringService" in {s.name for s in reply.list_services_response.service}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("read short", "at least 16 characters"),
        ("admin abcdefghijklmnopqrstuvwxyz", "scopes must be among"),
        ("read abcdefghijklmnopqrstuvwxyz until=2027", "expected expires="),
        ("# only a comment", "no token entry"),
    ],
)
def test_a_malformed_token_entry_names_where_and_what(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^tokens: .*{message}"):
        parse_tokens(text, "tokens")


def test_tokens_come_from_the_file_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"read {READER}\n")
    monkeypatch.setenv("DPR_SERVE_AUTH_TOKENS", f"read,write {WRITER}; read {EXPIRED}")
    tokens = load_tokens(str(path))
    assert [t.secret.decode() for t in tokens] == [READER, WRITER, EXPIRED]
    check = TokenCheck(tokens, now=lambda: dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert check.decide("/dpr.v1.SteeringService/AppendInteractions", f"Bearer {WRITER}") is None


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def _tls_service(certificates: Certificates, mutual: bool) -> FakeService:
    settings = ServeSettings(
        tls_cert=str(certificates.server.cert),
        tls_key=str(certificates.server.key),
        tls_client_ca=str(certificates.ca.cert) if mutual else "",
    )
    return FakeService(options=server_options(settings))


def _steer_over(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    channel = (
        grpc.insecure_channel(target)
        if credentials is None
        else grpc.secure_channel(target, credentials)
    )
    try:
        pb_grpc.SteeringServiceStub(channel).Steer(pb.SteerRequest(user_id="u1"), timeout=5)
    except grpc.RpcError as exc:
        return exc.code()
    finally:
        channel.close()
    return grpc.StatusCode.OK


def test_tls_serves_only_tls(certificates: Certificates) -> None:
    service = _tls_service(certificates, mutual=False)
    try:
        ca = certificates.ca.cert.read_bytes()
        assert _steer_over(service.target, grpc.ssl_channel_credentials(ca)) == (grpc.StatusCode.OK)
        assert _steer_over(service.target, None) == grpc.StatusCode.UNAVAILABLE
    finally:
        service.close()


def test_mutual_tls_refuses_a_client_without_a_certificate_the_ca_signed(
    certificates: Certificates,
) -> None:
    """A certificate missing or signed by another CA fails the TLS handshake, before any gRPC
    status can be sent: grpcio reports that to the client as UNAVAILABLE."""
    service = _tls_service(certificates, mutual=True)
    ca = certificates.ca.cert.read_bytes()

    def client(pem: object | None) -> grpc.ChannelCredentials:
        if pem is None:
            return grpc.ssl_channel_credentials(ca)
        return grpc.ssl_channel_credentials(ca, pem.key.read_bytes(), pem.cert.read_bytes())  # type: ignore[attr-defined]

    try:
        assert _steer_over(service.target, client(certificates.client)) == grpc.StatusCode.OK
        assert _steer_over(service.target, client(None)) == grpc.StatusCode.UNAVAILABLE
        assert _steer_over(service.target, client(certificates.rogue_client)) == (
            grpc.StatusCode.UNAVAILABLE
        )
    finally:
        service.close()


def test_a_non_loopback_host_needs_tls_or_tokens_or_insecure(
    certificates: Certificates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DPR_SERVE_AUTH_TOKENS", raising=False)
    with pytest.raises(ConfigError, match=r"^host: 0\.0\.0\.0 is not loopback"):
        server_options(ServeSettings(host="0.0.0.0"))
    assert server_options(ServeSettings(host="0.0.0.0", insecure=True)).tokens is None
    tokens = tmp_path / "tokens"
    tokens.write_text(f"read {READER}\n")
    assert server_options(ServeSettings(host="0.0.0.0", auth_tokens_file=str(tokens))).tokens
    tls = ServeSettings(
        host="0.0.0.0", tls_cert=str(certificates.server.cert), tls_key=str(certificates.server.key)
    )
    assert server_options(tls).credentials is not None
    assert server_options(ServeSettings()).credentials is None  # loopback: nothing needed
    with pytest.raises(ConfigError, match=r"^tls_cert, tls_key: give both or neither"):
        ServeSettings(tls_cert="x.crt")
    with pytest.raises(ConfigError, match=r"^tls_key: cannot read"):
        server_options(ServeSettings(tls_cert=str(certificates.server.cert), tls_key="/nope"))


def test_dpr_steer_makes_the_secured_call(
    certificates: Certificates, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dpr_plugin.cli import main

    settings = ServeSettings(
        tls_cert=str(certificates.server.cert),
        tls_key=str(certificates.server.key),
        tls_client_ca=str(certificates.ca.cert),
    )
    options = server_options(settings)
    tokens = TokenCheck(parse_tokens(TOKENS, "test"))
    service = FakeService(options=ServerOptions(credentials=options.credentials, tokens=tokens))
    secured = [
        "steer", "--target", f"localhost:{service.port}", "--user", "u1",
        "--tls-ca", str(certificates.ca.cert),
        "--tls-cert", str(certificates.client.cert), "--tls-key", str(certificates.client.key),
    ]  # fmt: skip
    try:
        monkeypatch.setenv("DPR_TOKEN", READER)
        assert main(secured) == 0
        assert "d1" in capsys.readouterr().out
        monkeypatch.delenv("DPR_TOKEN")
        assert main(secured) == 2
        assert "UNAUTHENTICATED" in capsys.readouterr().err
        assert main([*secured, "--token", READER]) == 0
    finally:
        service.close()
