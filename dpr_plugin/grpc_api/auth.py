"""Who may call the service: bearer tokens with scopes, and the rule for health and reflection.

Tokens come from a file (``auth_tokens_file``) or a variable (``DPR_SERVE_AUTH_TOKENS``), one
entry per line (``;`` also separates entries in the variable)::

    read        s3cr3t-token-for-the-ranker
    read,write  an0ther-token-for-the-event-pipeline   expires=2027-06-30T00:00:00Z

* ``read`` allows ``Steer``, ``write`` allows ``AppendInteractions`` (a token may hold both).
* A call sends ``authorization: Bearer <token>``. No token, an unknown or an expired one:
  UNAUTHENTICATED. A known token without the method's scope: PERMISSION_DENIED.
* Tokens are compared in constant time (``hmac.compare_digest`` against every entry, so the
  time does not tell how much of a token was right, nor which entry matched).
* Health and reflection stay open: orchestrators and load balancers probe health without
  credentials, and reflection describes only the public contract (``protos/``). With mutual
  TLS every call, these included, needs a client certificate (checked by the transport).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from dpr_plugin.errors import ConfigError

log = logging.getLogger("dpr.grpc")

SCOPES = ("read", "write")
METHOD_SCOPES = {
    "/dpr.v1.SteeringService/Steer": "read",
    "/dpr.v1.SteeringService/AppendInteractions": "write",
}
"""The scope each steering method needs; any other method (health, reflection) is open."""
TOKENS_VARIABLE = "DPR_SERVE_AUTH_TOKENS"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class Token:
    """One accepted token: its secret, its scopes, and when it stops being accepted."""

    secret: bytes
    scopes: frozenset[str]
    expires: dt.datetime | None = None


def parse_tokens(text: str, where: str) -> list[Token]:
    """Token entries from ``text`` (lines or ``;``-separated); ``#`` starts a comment.

    Raises:
        ConfigError: naming ``where`` and the entry, for an unknown scope, a token shorter than
            MIN_TOKEN_CHARS, a malformed expiry, or no entry at all.
    """
    tokens = []
    entries = [e.split("#", 1)[0].strip() for e in text.replace(";", "\n").splitlines()]
    for number, entry in enumerate(entries, start=1):
        if not entry:
            continue
        fields = entry.split()
        if len(fields) not in (2, 3):
            raise ConfigError(f"{where}: entry {number}: expected 'SCOPES TOKEN [expires=...]'")
        scopes = frozenset(fields[0].split(","))
        if not scopes <= set(SCOPES):
            raise ConfigError(f"{where}: entry {number}: scopes must be among {list(SCOPES)}")
        if len(fields[1]) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{where}: entry {number}: a token needs at least {MIN_TOKEN_CHARS} characters"
            )
        expires = None
        if len(fields) == 3:
            name, _, value = fields[2].partition("=")
            try:
                if name != "expires":
                    raise ValueError(name)
                expires = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ConfigError(
                    f"{where}: entry {number}: expected expires=YYYY-MM-DDTHH:MM:SSZ"
                ) from None
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=dt.UTC)
        tokens.append(Token(fields[1].encode(), scopes, expires))
    if not tokens:
        raise ConfigError(f"{where}: no token entry")
    return tokens


def load_tokens(tokens_file: str) -> list[Token]:
    """The tokens of ``auth_tokens_file`` and of DPR_SERVE_AUTH_TOKENS (none when neither is
    set)."""
    tokens = []
    if tokens_file:
        try:
            text = Path(tokens_file).read_text()
        except OSError as exc:
            raise ConfigError(f"auth_tokens_file: cannot read {tokens_file}: {exc}") from exc
        tokens += parse_tokens(text, "auth_tokens_file")
    if os.environ.get(TOKENS_VARIABLE):
        tokens += parse_tokens(os.environ[TOKENS_VARIABLE], TOKENS_VARIABLE)
    return tokens


class TokenCheck:
    """Decides a call from its ``authorization`` metadata."""

    def __init__(self, tokens: list[Token], now: Callable[[], dt.datetime] | None = None) -> None:
        self.tokens = tokens
        self.now = now or (lambda: dt.datetime.now(dt.UTC))

    def decide(self, method: str, authorization: str | None) -> tuple[grpc.StatusCode, str] | None:
        """``None`` to let the call through, else the status and message to refuse it with."""
        scope = METHOD_SCOPES.get(method)
        if scope is None:
            return None  # health, reflection: open by rule
        if not authorization or not authorization.startswith("Bearer "):
            return grpc.StatusCode.UNAUTHENTICATED, "authorization: a Bearer token is required"
        presented = authorization.removeprefix("Bearer ").strip().encode()
        found = None
        for token in self.tokens:  # every entry compared: the time does not tell which matched
            if hmac.compare_digest(token.secret, presented):
                found = token
        if found is None:
            return grpc.StatusCode.UNAUTHENTICATED, "authorization: unknown token"
        if found.expires is not None and self.now() >= found.expires:
            return grpc.StatusCode.UNAUTHENTICATED, "authorization: the token has expired"
        if scope not in found.scopes:
            name = method.rsplit("/", 1)[1]
            return (
                grpc.StatusCode.PERMISSION_DENIED,
                f"authorization: the token lacks the {scope!r} scope for {name}",
            )
        return None


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses steering calls whose token ``TokenCheck`` does not accept, before any work.

    Args:
        check: The token table.
        refused: Called with the status of each refused call (metrics).
    """

    def __init__(self, check: TokenCheck, refused: Callable[[grpc.StatusCode], None]) -> None:
        self.check = check
        self.refused = refused

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        metadata = dict(handler_call_details.invocation_metadata or ())
        verdict = self.check.decide(handler_call_details.method, metadata.get("authorization"))
        if verdict is None:
            return await continuation(handler_call_details)
        code, message = verdict
        self.refused(code)
        log.info("call to %s refused: %s: %s", handler_call_details.method, code.name, message)

        async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> None:
            await context.abort(code, message)

        return grpc.unary_unary_rpc_method_handler(refuse)
