"""Builds every part of a running service from its settings, and releases them again.

The parts are chosen by the three factories (inference backends, item index, history store)
and joined into one SteeringPipeline; nothing here knows gRPC. A part passed in is used as it
is (tests, embedding applications); everything built is closed by ``close``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dpr_plugin.errors import IndexUnavailableError
from dpr_plugin.serving.history.base import HistoryStore
from dpr_plugin.serving.history.factory import open_history_store
from dpr_plugin.serving.index.base import ItemIndex
from dpr_plugin.serving.index.factory import open_index
from dpr_plugin.serving.inference.factory import Backends, TritonLauncher, open_backends
from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.model_bundle import ModelBundle
from dpr_plugin.serving.pipeline import PipelineSettings, SteeringPipeline
from dpr_plugin.serving.settings import ServeSettings

log = logging.getLogger("dpr.server")


@dataclass
class ServingComponents:
    """The parts of one running service; ``close`` releases them in reverse order."""

    bundle: ModelBundle
    backends: Backends
    index: ItemIndex
    history: HistoryStore
    metrics: ServiceMetrics
    pipeline: SteeringPipeline

    async def close(self, keep_history: bool = False) -> None:
        """Releases every part (the history store too, unless ``keep_history``: a release
        switch shares it between the releases' parts)."""
        await self.pipeline.close()
        if not keep_history:
            await self.history.close()
        await self.index.close()
        await self.backends.close()


async def build_components(
    settings: ServeSettings,
    metrics: ServiceMetrics,
    launcher: TritonLauncher | None = None,
    backends: Backends | None = None,
    index: ItemIndex | None = None,
    history: HistoryStore | None = None,
) -> ServingComponents:
    """Builds (or takes) every part; on failure, closes what it had built (not a part it
    was given).

    Args:
        settings: The service's settings.
        metrics: Where the pipeline and a launched server count.
        launcher: Starts a local tritonserver when the settings name neither a Triton URL
            nor the in-process runtime.
        backends, index, history: Parts to use instead of building them.

    Raises:
        ConfigError: The export or a setting is unusable.
        IndexUnavailableError: The embedded index was never built.
        TritonStartError: A launched tritonserver did not come up.
    """
    bundle = ModelBundle.load(Path(settings.repository))
    opened: list[object] = []
    try:
        if backends is None:
            backends = open_backends(
                Path(settings.repository),
                settings.triton_url,
                settings.in_process,
                launcher,
                lambda outcome: metrics.triton_restarts.labels(outcome).inc(),
            )
            opened.append(backends)
        if index is None:
            index = open_index(
                settings.qdrant_url,
                settings.qdrant_alias,
                Path(settings.index_dir),
                settings.index_timeout_ms / 1000,
                bundle.model_version,
            )
            opened.append(index)
        if history is None:
            history = open_history_store(settings.history_url, settings.history_length)
            opened.append(history)
        await _check_index(index, settings)
    except BaseException:
        for part in reversed(opened):
            await part.close()  # type: ignore[attr-defined]
        raise
    pipeline = SteeringPipeline(
        bundle,
        backends.primary,
        index,
        history,
        metrics,
        backends.fallback,
        PipelineSettings(
            steering_budget_s=settings.steering_budget_ms / 1000,
            max_fallbacks_in_flight=settings.max_fallbacks_in_flight,
            soft_ranges=settings.era_mode == "soft",
            user_vectors=settings.user_vectors,
        ),
    )
    return ServingComponents(bundle, backends, index, history, metrics, pipeline)


async def _check_index(index: ItemIndex, settings: ServeSettings) -> None:
    """An embedded index must exist at start; a Qdrant server may come up later."""
    try:
        await index.info()
    except IndexUnavailableError:
        if not settings.qdrant_url:
            raise  # embedded: nothing built yet; say so now, not on the first request
        log.warning(
            "qdrant %s unavailable at start; requests fail fast until it is up",
            settings.qdrant_url,
        )
