"""Serving the current release of a releases directory, and switching without a restart.

The served parts of a release (its model bundle, inference backends, index reader and the
pipeline joining them; the history store is shared) are one ``ServingComponents``. A switch
builds the next release's parts completely, checks that its index generation was built from
its own models, then replaces the served parts in one step: a request runs wholly on the
parts it started on, so no user vector of one release is scored against the item vectors of
another. The previous parts are closed once the requests using them are done. A release
that cannot be served (incomplete, its index missing or built from another model, its
Triton not starting) is refused: the previous one goes on serving, and the log and
``dpr_release_switches_total{outcome="refused"}`` say so.

Everything here runs on the loop the components belong to (the server's worker loop).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from dpr_plugin.serving.components import ServingComponents, build_components
from dpr_plugin.serving.history.base import HistoryStore
from dpr_plugin.serving.inference.factory import TritonLauncher
from dpr_plugin.serving.metrics import ServiceMetrics
from dpr_plugin.serving.releases import Release, ReleaseStore
from dpr_plugin.serving.settings import ServeSettings

log = logging.getLogger("dpr.release")

RETIRE_AFTER_S = 0.5
"""A retired release's parts stay open at least this long after the switch."""
RETIRE_WAIT_S = 60.0
"""Longest a retired release waits for the requests still using it."""


class ReleaseSwitch:
    """Serves the current release of ``settings.releases`` and follows the pointer.

    Args:
        settings: The service's settings (``releases`` set).
        metrics: Shared by every release's pipeline; counts switches.
        launcher: Starts each release's local tritonserver (``None``: in-process runtime).
        on_switch: Told the new parts once they serve (after ``start`` and each switch).
    """

    def __init__(
        self,
        settings: ServeSettings,
        metrics: ServiceMetrics,
        launcher: TritonLauncher | None,
        on_switch: Callable[[ServingComponents], None],
    ) -> None:
        self.settings = settings
        self.store = ReleaseStore(settings.releases)
        self.metrics = metrics
        self.launcher = launcher
        self.on_switch = on_switch
        self.release: Release | None = None
        self.components: ServingComponents | None = None
        self._refused: str | None = None
        self._retiring: set[asyncio.Task[None]] = set()

    async def start(self, history: HistoryStore | None = None) -> ServingComponents:
        """Builds and serves the current release's parts (ConfigError when none is active,
        or when it cannot be served)."""
        release = self.store.current()
        components = await self._build(release, history)
        self._serve(release, components)
        return components

    async def _build(self, release: Release, history: HistoryStore | None) -> ServingComponents:
        components = await build_components(
            release.settings(self.settings), self.metrics, self.launcher, history=history
        )
        try:
            # the reader refuses a generation of another model; this, one that records none
            release.check_index(await components.index.info())
        except BaseException:
            await components.close(keep_history=history is not None)
            raise
        return components

    def _serve(self, release: Release, components: ServingComponents) -> None:
        if self.release is not None:
            self.metrics.release.labels(self.release.number, self.release.model_version).set(0)
        self.release, self.components = release, components
        self.metrics.release.labels(release.number, release.model_version).set(1)
        self.on_switch(components)

    async def check(self) -> None:
        """Switches when the pointer names another release than the one served (a release
        refused once is tried again only after the pointer moves)."""
        assert self.release is not None and self.components is not None
        number = self.store.pointer().get("current")
        if number is None or number == self.release.number:
            self._refused = None
            return
        if number == self._refused:
            return
        try:
            release = self.store.release(number)
            components = await self._build(release, self.components.history)
        except Exception as exc:
            self._refused = number
            self.metrics.release_switches.labels("refused").inc()
            log.error(
                "release %s refused, release %s (model %s) goes on serving: %s",
                number,
                self.release.number,
                self.release.model_version,
                exc,
            )
            return
        old, old_release = self.components, self.release
        self._serve(release, components)
        if components.backends.launched is not None:
            components.backends.launched.supervise()  # the first release's: the server's
        self.metrics.release_switches.labels("switched").inc()
        log.info(
            "release %s (model %s) serving; release %s (model %s) retires",
            release.number,
            release.model_version,
            old_release.number,
            old_release.model_version,
        )
        task = asyncio.get_running_loop().create_task(self._retire(old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, old: ServingComponents) -> None:
        """Closes a replaced release's parts once no request uses them (the history store,
        shared, stays open)."""
        await asyncio.sleep(RETIRE_AFTER_S)
        deadline = time.monotonic() + RETIRE_WAIT_S
        while old.pipeline.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await old.close(keep_history=True)

    async def run(self) -> None:
        """Reads the pointer every ``release_poll_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.settings.release_poll_s)
            try:
                await self.check()
            except Exception:  # a bad pointer file must not end the watch
                log.exception("releases: cannot read %s", self.store.root)

    async def close(self) -> None:
        """Waits for retiring releases (the served one is closed by its owner)."""
        for task in list(self._retiring):
            await task
