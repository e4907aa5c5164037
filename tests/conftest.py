"""Shared fixtures: small synthetic datasets with a learnable sequential pattern."""

from __future__ import annotations

import numpy as np
import pytest

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.split import LeaveOneOutSplit, leave_one_out

TAGS = ("Action", "Comedy", "Drama", "Horror")


def make_sequential_dataset(
    num_users: int = 120, num_items: int = 40, length: int = 30, seed: int = 0
) -> SequenceDataset:
    """Users walk the catalogue in steps of +1 (mod N) with a few random jumps.

    The next item is predictable from the last one, while every item is about equally
    popular, so a sequential model must beat a popularity ranking by a wide margin.
    """
    rng = np.random.default_rng(seed)
    pairs = []
    for u in range(num_users):
        item = int(rng.integers(num_items))
        for _ in range(length):
            pairs.append((str(u + 1), str(item + 1)))
            item = (item + 1) % num_items if rng.random() > 0.1 else int(rng.integers(num_items))
    items = {
        str(i + 1): ItemMeta(title=f"Item {i + 1}", tags=(TAGS[i % len(TAGS)],))
        for i in range(num_items)
    }
    return SequenceDataset.from_interactions("synthetic", pairs, items, "synthetic walk")


@pytest.fixture(scope="session")
def sequential_split() -> LeaveOneOutSplit:
    """Leave-one-out split of the synthetic walk dataset."""
    return leave_one_out(make_sequential_dataset())


@pytest.fixture(scope="session", params=["sasrec", "gru4rec"])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """An exported model repository per backbone, built once per session (~15 s each).

    Returns:
        (backbone kind, backbone checkpoint dir, steering checkpoint dir, repository, manifest).
    """
    pytest.importorskip("torch", reason="export needs the training extra (torch)")
    from dpr_plugin.export.run import run_export
    from dpr_plugin.export.triton_config import write as write_configs
    from tests.repository import contract_backbone, moving_head

    root = tmp_path_factory.mktemp(f"export-{request.param}")
    dataset = make_sequential_dataset()
    backbone = contract_backbone(dataset, request.param, root / "backbone")
    steering = moving_head(dataset, root / "steering")
    repository = root / "triton_models"
    write_configs(repository)
    manifest = run_export(backbone, steering, repository)
    return request.param, backbone, steering, repository, manifest


SLOW_FIXTURES = ("service_repository", "steered", "aligned")
"""Fixtures that train a model (the bundled export for the service, the steering heads of the
trainer tests): every test that uses one, directly or through another fixture, is slow."""
SLOW_FOLDERS = ("triton_local",)
"""Test folders whose tests start a real tritonserver."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks ``slow`` what SLOW_FIXTURES and SLOW_FOLDERS name (tests marked by hand keep
    their mark), so ``-m "not slow"`` is the fast loop; CI runs everything."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any(name in names for name in SLOW_FIXTURES) or any(
            folder in item.path.parts for folder in SLOW_FOLDERS
        ):
            item.add_marker(pytest.mark.slow)
