"""Settings of ``dpr serve``, apart from the server so that the CLI parser needs no gRPC."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dpr_plugin.errors import ConfigError, require_positive


@dataclass(frozen=True)
class ServeSettings:
    """Settings of ``dpr serve`` (flags ``--<field>`` / env ``DPR_SERVE_<FIELD>``).

    Attributes:
        host: Address the gRPC server binds.
        port: gRPC port; 0 lets the OS pick one.
        metrics_port: Prometheus endpoint port on ``host``; 0 lets the OS pick, -1 disables it.
        repository: The exported model repository (tokenizer, tags, item ids; and the models
            for the local Triton and the in-process runtime).
        triton_url: A running Triton's gRPC address; empty starts the local ``tritonserver``.
        in_process: Run the models with onnxruntime inside the service instead of Triton.
        qdrant_url: A Qdrant server (``http://host:6333``); empty uses the embedded engine.
        qdrant_alias: Collection alias the server index is served under.
        index_dir: Directory of the embedded index (built by ``dpr index``).
        history_url: SQLite path or ``redis://host:port/db``.
        history_length: Most events kept per user.
        steering_budget_ms: Longest the steering inference may take before falling back.
        index_timeout_ms: Longest a vector search may take.
        max_in_flight: Most Steer and AppendInteractions calls worked on at once; beyond it a
            call is answered RESOURCE_EXHAUSTED at once (load shedding). About throughput x
            the latency a caller accepts: ~300 calls/s x 100 ms on 2 cores; with 64, calls
            admitted at the start of a 1,500-call burst queued until their 2 s deadline.
        max_fallbacks_in_flight: Most unsteered vectors computed in-process at once when the
            inference server fails; beyond it a call is UNAVAILABLE at once, so an overloaded
            or dead Triton does not turn into a storm of in-process model runs.
        drain_s: On SIGTERM, how long health says NOT_SERVING while calls are still taken
            (a load balancer's time to move traffic away) before the port closes.
        grace_s: Time calls still in flight get once the port has closed.
        tls_cert: PEM certificate (chain) the server presents; with ``tls_key``, the port
            speaks TLS only.
        tls_key: PEM private key of ``tls_cert``.
        tls_client_ca: PEM CA certificate(s): clients must present a certificate one of
            them signed (mutual TLS); needs ``tls_cert``.
        auth_tokens_file: Bearer tokens with scopes (``grpc_api/auth.py``); entries also come
            from ``DPR_SERVE_AUTH_TOKENS``. Without any, calls need no token.
        insecure: Serve a non-loopback ``host`` without TLS and without tokens (refused
            otherwise, so a service is not exposed by a mistyped address).
        log_digest_key: Key of the prompt digest in logs (an HMAC, so a common prompt cannot
            be recovered by hashing candidates); empty draws a random key per process. Set
            one (by variable, not flag, so it stays out of the process list) to correlate
            prompts across replicas and restarts.
        era_mode: How a range the prompt asks for ("from the 80s") is applied: ``hard``, a
            payload filter (only items in range); ``soft``, a move of the user vector toward
            the items in range (see docs/results.md for both measured).
        user_vectors: Backbone vectors kept, keyed by the exact history they came from, so
            that a user's next call with an unchanged history (the next prompt of a session)
            skips the backbone; 0 keeps none.
        releases: A releases directory (``serving/releases.py``): serve its current release
            (its export and index, instead of ``repository`` and ``index_dir``) and switch
            to another one when ``dpr release activate`` / ``rollback`` points there, without
            a restart. Needs the in-process runtime or the local Triton.
        release_poll_s: How often the releases pointer is read.
    """

    host: str = "127.0.0.1"
    port: int = 50051
    metrics_port: int = 9464
    repository: Path = Path("triton_models")
    triton_url: str = ""
    in_process: bool = False
    qdrant_url: str = ""
    qdrant_alias: str = "dpr_items"
    index_dir: Path = Path("runs/index")
    history_url: str = "runs/history.sqlite"
    history_length: int = 200
    steering_budget_ms: float = 250.0
    index_timeout_ms: float = 1000.0
    max_in_flight: int = 32
    max_fallbacks_in_flight: int = 2
    drain_s: float = 2.0
    grace_s: float = 5.0
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    auth_tokens_file: str = ""
    insecure: bool = False
    log_digest_key: str = ""
    era_mode: str = "hard"
    user_vectors: int = 10_000
    releases: str = ""
    release_poll_s: float = 1.0

    def __post_init__(self) -> None:
        require_positive(self, "history_length", "max_in_flight", "max_fallbacks_in_flight")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port: must be in 0..65535, got {self.port}")
        if not -1 <= self.metrics_port <= 65535:
            raise ConfigError(f"metrics_port: must be in -1..65535, got {self.metrics_port}")
        if self.drain_s < 0 or self.grace_s < 0:
            raise ConfigError("drain_s, grace_s: must be >= 0")
        if self.steering_budget_ms <= 0 or self.index_timeout_ms <= 0:
            raise ConfigError("steering_budget_ms, index_timeout_ms: must be > 0")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("tls_cert, tls_key: give both or neither")
        if self.tls_client_ca and not self.tls_cert:
            raise ConfigError("tls_client_ca: mutual TLS needs tls_cert and tls_key too")
        if self.era_mode not in ("hard", "soft"):
            raise ConfigError(f"era_mode: hard or soft, got {self.era_mode!r}")
        if self.user_vectors < 0:
            raise ConfigError(f"user_vectors: must be >= 0, got {self.user_vectors}")
        if self.in_process and self.triton_url:
            raise ConfigError("in_process: cannot be combined with triton_url")
        if self.releases and self.triton_url:
            raise ConfigError(
                "releases: a Triton at triton_url serves the one repository it loaded; releases "
                "switch the local Triton or the in-process runtime"
            )
        if self.release_poll_s <= 0:
            raise ConfigError(f"release_poll_s: must be > 0, got {self.release_poll_s}")
