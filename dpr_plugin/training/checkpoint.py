"""Checkpoints: a directory with ``config.json`` (model + training + data record),
``weights.pt`` (the state dict) and, for backbones, ``items.json`` (the catalogue in
internal-id order). Written atomically: a reader never sees a half-written checkpoint."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from dpr_plugin.data.dataset import SequenceDataset
from dpr_plugin.data.item_fields import ItemField, fields_from_json, fields_to_json
from dpr_plugin.errors import CheckpointError, ConfigError
from dpr_plugin.models.backbone import BackboneConfig, SequentialBackbone
from dpr_plugin.models.factory import build_backbone
from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead

CONFIG_FILE = "config.json"
ITEMS_FILE = "items.json"
WEIGHTS_FILE = "weights.pt"


@dataclass(frozen=True)
class Catalogue:
    """The item catalogue a model was trained on; position ``i - 1`` describes internal id ``i``."""

    item_ids: list[str]
    titles: list[str]
    tags: list[list[str]]
    interactions: list[int] = field(default_factory=list)
    """Per item, its interactions in the dataset (empty for older checkpoints): the prompt
    reader's popularity prior when two titles match a name."""
    fields: dict[str, ItemField] = field(default_factory=dict)
    """The catalogue's declared fields (``data/item_fields.py``), one value per item."""

    @classmethod
    def of(cls, dataset: SequenceDataset) -> Catalogue:
        """The catalogue of a dataset."""
        counts = np.bincount(
            np.concatenate([np.asarray(s, np.int64) for s in dataset.sequences] or [[0]]),
            minlength=len(dataset.item_ids) + 1,
        )
        return cls(
            list(dataset.item_ids),
            list(dataset.item_titles),
            [list(t) for t in dataset.item_tags],
            [int(c) for c in counts[1 : len(dataset.item_ids) + 1]],
            dict(dataset.item_fields),
        )

    def to_json(self) -> dict[str, object]:
        """``items.json`` of a checkpoint and of an export."""
        body: dict[str, object] = {"item_ids": self.item_ids, "titles": self.titles}
        body["tags"] = self.tags
        if self.interactions:
            body["interactions"] = self.interactions
        body["fields"] = fields_to_json(self.fields)
        return body


def _write_atomically(directory: Path, write: Callable[[Path], None]) -> Path:
    """Lets ``write`` fill a temporary sibling directory, then swaps it into place."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        write(tmp)
        old = directory.with_name(f".{directory.name}.old")
        if directory.exists():
            os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def save_backbone(
    directory: Path,
    model: SequentialBackbone,
    catalogue: Catalogue,
    extra: dict[str, object],
) -> Path:
    """Writes a backbone checkpoint atomically.

    Args:
        directory: Target directory; replaced if it exists.
        model: The trained backbone.
        catalogue: Items in internal-id order.
        extra: More JSON-ready records (training config, dataset statistics, curve...).
    """

    def write(tmp: Path) -> None:
        torch.save(model.state_dict(), tmp / WEIGHTS_FILE)
        record = {"backbone": model.config.to_dict(), **extra}
        (tmp / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n")
        (tmp / ITEMS_FILE).write_text(json.dumps(catalogue.to_json()))

    return _write_atomically(directory, write)


def save_steering(
    directory: Path, head: SteeringHead, tags: list[str], extra: dict[str, object]
) -> Path:
    """Writes a steering-head checkpoint atomically: ``config.json`` (head config, tag order,
    training record) and ``weights.pt``."""

    def write(tmp: Path) -> None:
        torch.save(head.state_dict(), tmp / WEIGHTS_FILE)
        record = {"steering": head.config.to_dict(), "tags": tags, **extra}
        (tmp / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n")

    return _write_atomically(directory, write)


def load_steering(directory: Path) -> tuple[SteeringHead, list[str], dict[str, object]]:
    """Reads a checkpoint written by ``save_steering``: (head in eval mode, tag order, config)."""
    directory = Path(directory)
    config = _read_json(directory / CONFIG_FILE)
    for key in ("steering", "tags"):
        if key not in config:
            raise CheckpointError(f"{directory / CONFIG_FILE}: field {key!r} is missing")
    try:
        head_config = SteeringConfig(**config["steering"])  # type: ignore[arg-type]
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{directory / CONFIG_FILE}: steering: {exc}") from None
    head = _with_weights(SteeringHead(head_config), directory)
    return head, list(config["tags"]), config  # type: ignore[arg-type]


M = TypeVar("M", bound=torch.nn.Module)


def _with_weights(module: M, directory: Path) -> M:
    """Loads ``weights.pt`` of a checkpoint into ``module``; returns it in eval mode."""
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:  # torch names the missing/unexpected/mis-shaped parameters
        first = str(exc).strip().splitlines()[:3]
        raise CheckpointError(
            f"{weights}: does not fit {type(module).__name__} (written by another version of "
            f"dpr_plugin? train it again): {' '.join(line.strip() for line in first)}"
        ) from None
    return module.eval()


def _read_json(path: Path) -> dict[str, object]:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (not a checkpoint directory?)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def load_backbone(directory: Path) -> tuple[SequentialBackbone, Catalogue, dict[str, object]]:
    """Reads a checkpoint written by ``save_backbone``.

    Returns:
        The model in eval mode, its catalogue and the whole ``config.json`` record.
    """
    directory = Path(directory)
    config = _read_json(directory / CONFIG_FILE)
    items = _read_json(directory / ITEMS_FILE)
    if "backbone" not in config:
        raise CheckpointError(f"{directory / CONFIG_FILE}: field 'backbone' is missing")
    try:
        backbone_config = BackboneConfig.from_dict(config["backbone"])  # type: ignore[arg-type]
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{directory / CONFIG_FILE}: backbone: {exc}") from None
    try:
        fields = fields_from_json(items.get("fields", {}), len(items["item_ids"]))  # type: ignore[arg-type]
    except ValueError as exc:
        raise CheckpointError(f"{directory / ITEMS_FILE}: {exc}") from None
    catalogue = Catalogue(
        items["item_ids"],  # type: ignore[arg-type]
        items["titles"],  # type: ignore[arg-type]
        items["tags"],  # type: ignore[arg-type]
        list(items.get("interactions", [])),  # type: ignore[arg-type, union-attr]
        fields,
    )
    if len(catalogue.item_ids) != backbone_config.num_items:
        raise CheckpointError(
            f"{directory}: {ITEMS_FILE} lists {len(catalogue.item_ids)} items, "
            f"the model was built for num_items={backbone_config.num_items}"
        )
    return _with_weights(build_backbone(backbone_config), directory), catalogue, config


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (recorded in exported models as the source checkpoint hash)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
