"""Fixtures of the service tests: a trained export of the bundled data, its embedded index,
a seeded SQLite history store, and a service in-process on port 0."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dpr_plugin.grpc_api.server import ServeSettings
from tests.service_thread import ServiceThread


@pytest.fixture(scope="session")
def service_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A really trained export of the bundled data (~1.5 min on 2 cores, once per session).

    ``DPR_TEST_SERVICE_REPOSITORY`` names an export made by ``train_bundled_repository`` to
    reuse instead (for quick iteration on a developer machine)."""
    reuse = os.environ.get("DPR_TEST_SERVICE_REPOSITORY")
    if reuse:
        return Path(reuse)
    pytest.importorskip("torch", reason="training the test model needs the train extra (torch)")
    from tests.service_repository import train_bundled_repository

    return train_bundled_repository(tmp_path_factory.mktemp("service"))


def build_index(repository: Path, root: Path) -> Path:
    """Builds an embedded index of the export's item table in ``root`` (one per service: an
    embedded index directory is served by one holder at a time)."""
    from dpr_plugin.serving.index.base import CATALOGUE_FIELDS
    from dpr_plugin.serving.index.catalogue import catalogue_items
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder

    items, dim = catalogue_items(repository)
    asyncio.run(EdgeIndexBuilder(root).build(items, dim, CATALOGUE_FIELDS))
    return root


@pytest.fixture(scope="session")
def service_index(service_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded index of the in-process service."""
    return build_index(service_repository, tmp_path_factory.mktemp("index"))


def seed_histories(url: str) -> dict[str, list[str]]:
    """Writes every bundled user's history into the store at ``url``; returns them."""
    from dpr_plugin.data.sources import load_dataset
    from dpr_plugin.serving.history.factory import open_history_store

    dataset = load_dataset("bundled")
    histories = {
        user: [dataset.item_ids[i - 1] for i in seq[-200:]]
        for user, seq in zip(dataset.user_ids, dataset.sequences, strict=True)
    }

    async def write() -> None:
        store = open_history_store(url, 200)
        try:
            await store.append_many(histories)
        finally:
            await store.close()

    asyncio.run(write())
    return histories


@pytest.fixture(scope="session")
def bundled_histories(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A SQLite history store seeded with the bundled users (copied per service)."""
    path = tmp_path_factory.mktemp("histories") / "history.sqlite"
    return path, seed_histories(str(path))


def service_settings(repository: Path, index: Path, history: Path, **extra: object):
    """Settings of a test service: port 0, metrics on port 0, the given components."""
    values = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": 0,
        "repository": repository,
        "index_dir": index,
        "history_url": str(history),
        "in_process": True,
        "grace_s": 1.0,
        "drain_s": 0.0,
        **extra,
    }
    return ServeSettings(**values)


@pytest.fixture(scope="module")
def service(
    service_repository: Path,
    service_index: Path,
    bundled_histories: tuple[Path, dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceThread]:
    """The service with the in-process runtime, embedded index and its own history copy."""
    import shutil

    history = tmp_path_factory.mktemp("svc-history") / "history.sqlite"
    shutil.copy(bundled_histories[0], history)
    running = ServiceThread(service_settings(service_repository, service_index, history))
    yield running
    running.close()
