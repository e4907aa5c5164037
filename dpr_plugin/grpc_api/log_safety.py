"""What the service may write into a log line about a request: ids escaped and bounded, and a
keyed digest of the prompt instead of its text.

A client chooses its ``request_id`` and ``user_id``; written raw, a newline in either forges a
log line and a long one floods the log. A plain hash of the prompt is recoverable by hashing
common prompts ("more comedies"), so the digest is an HMAC under a key that is random per
process unless the operator sets one (to correlate prompts across replicas or restarts).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

MAX_LOGGED_CHARS = 64
"""Longest id written to a log line; the rest is cut and counted."""


def log_safe(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """``text`` with every non-printable character escaped (``\\n``, ``\\x1b``, ``\\u2028``)
    and backslashes doubled, cut to ``limit`` characters plus a ``...(+N)`` marker."""
    escaped = []
    for ch in text[: limit + 1]:
        if ch == "\\":
            escaped.append("\\\\")
        elif ch.isprintable():
            escaped.append(ch)
        else:
            escaped.append(repr(ch)[1:-1] if ch not in "'\"" else ch)
    safe = "".join(escaped)
    if len(text) > limit:
        return f"{safe[:limit]}...(+{len(text) - limit})"
    return safe


class PromptDigest:
    """``len=N hmac=XXXXXXXXXX``: enough to tell whether two requests carried the same prompt,
    nothing that names it.

    Args:
        key: The HMAC key; empty draws a random one for this process.
    """

    def __init__(self, key: str = "") -> None:
        self._key = key.encode() if key else secrets.token_bytes(32)

    def __call__(self, prompt: str) -> str:
        if not prompt:
            return "none"
        mac = hmac.new(self._key, prompt.encode(), hashlib.sha256).hexdigest()[:10]
        return f"len={len(prompt)} hmac={mac}"
