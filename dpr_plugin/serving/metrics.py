"""Prometheus metrics of the steering service: latency per stage, requests by served path,
what prompts were understood as. Each service owns its registry (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

STAGES = ("history", "tokenize", "infer", "search", "total")
_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class ServiceMetrics:
    """The service's metric families, registered in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram(
            "dpr_stage_seconds",
            "Latency of each pipeline stage (history, tokenize, infer, search, total)",
            ["stage"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._stages = {stage: self.stage_seconds.labels(stage) for stage in STAGES}
        self.requests = Counter(
            "dpr_steer_requests",
            "Steer requests answered, by the path that served them",
            ["path"],
            registry=self.registry,
        )
        self.errors = Counter(
            "dpr_steer_errors",
            "Steer requests that failed, by gRPC status code",
            ["code"],
            registry=self.registry,
        )
        self.append_errors = Counter(
            "dpr_append_errors",
            "AppendInteractions requests that failed, by gRPC status code",
            ["code"],
            registry=self.registry,
        )
        self.cancelled = Counter(
            "dpr_cancelled_requests",
            "Calls the client gave up on (deadline expired or cancelled) before the answer, by "
            "method",
            ["method"],
            registry=self.registry,
        )
        self.refused = Counter(
            "dpr_refused_requests",
            "Calls refused by the token check, by status (UNAUTHENTICATED, PERMISSION_DENIED)",
            ["code"],
            registry=self.registry,
        )
        self.shed = Counter(
            "dpr_shed_requests",
            "Calls answered RESOURCE_EXHAUSTED because max_in_flight calls were being worked on, "
            "by method",
            ["method"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "dpr_steer_fallbacks",
            "Requests served unsteered because the steering path failed, by cause",
            ["cause"],
            registry=self.registry,
        )
        self.circuit_open = Gauge(
            "dpr_inference_circuit_open",
            "1 while the primary inference backend's circuit is open (calls go to the "
            "in-process fallback), else 0",
            registry=self.registry,
        )
        self.user_vectors_reused = Counter(
            "dpr_user_vectors_reused",
            "Steer calls whose history was unchanged since an earlier call: the backbone's "
            "vector was reused (--user-vectors), not computed",
            registry=self.registry,
        )
        self.triton_restarts = Counter(
            "dpr_local_triton_restarts",
            "Restarts of the local tritonserver after it died, by outcome (ok, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.understood_tags = Counter(
            "dpr_understood_tags",
            "Tags prompts were understood to name, by polarity",
            ["tag", "polarity"],
            registry=self.registry,
        )
        self.release_switches = Counter(
            "dpr_release_switches",
            "Releases the service was pointed at, by outcome (switched; refused: not complete, "
            "or its index built from another model; the previous release kept serving)",
            ["outcome"],
            registry=self.registry,
        )
        self.release = Gauge(
            "dpr_release",
            "1 for the release being served (its number and model version), 0 for earlier ones",
            ["release", "model_version"],
            registry=self.registry,
        )

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        """Records one request's stage latencies (milliseconds)."""
        for stage, ms in timings_ms.items():
            child = self._stages.get(stage) or self.stage_seconds.labels(stage)
            child.observe(ms / 1000.0)
