"""Tiny inputs for the benchmarks' ``--smoke`` runs, built on first use and then reused.

A smoke run exercises a benchmark's whole code path on the synthetic data of
``benchmarks.lib.synthetic`` in seconds. What a benchmark reads besides data (backbone and
steering checkpoints, an exported model repository) is made here, untrained or barely
trained, under ``<results root>/_inputs/``: several smoke runs given the same results root
(``--results-dir``) share them, so the export, the slowest of them (~10 s), is built once.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.lib.synthetic import FORMAT, write_movielens

if TYPE_CHECKING:
    from dpr_plugin.data.split import LeaveOneOutSplit

INPUTS = "_inputs"
"""Folder of the shared inputs under a smoke run's results root."""


class SmokeInputs:
    """The shared tiny inputs under ``results_root / INPUTS``, each built once."""

    def __init__(self, results_root: Path) -> None:
        self.root = Path(results_root) / INPUTS

    def _once(self, name: str, build: Callable[[Path], object]) -> Path:
        """``root/name``, built by ``build(path)`` into a temporary sibling when missing."""
        path = self.root / name
        if not path.exists():
            partial = self.root / f".{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            build(partial)
            partial.rename(path)
        return path

    def data(self) -> Path:
        """Folder of the synthetic ML-1M-shaped files (``ratings.dat``, ``interactions.tsv``,
        ``movies.dat``)."""
        return self._once("data", write_movielens)

    def fill_data(self, args: object) -> None:
        """Points ``args.data`` / ``args.format`` (the flags of the ML-1M benchmarks) at the
        synthetic data, unless the command line named data."""
        if getattr(args, "data", None) is None:
            args.data, args.format = str(self.data()), self.format  # type: ignore[attr-defined]

    @property
    def format(self) -> str:
        """The dataset format the smoke runs read ``data()`` with."""
        return FORMAT

    @property
    def spec(self) -> str:
        """``FORMAT:DIR`` of the synthetic data."""
        return f"{FORMAT}:{self.data()}"

    @cached_property
    def split(self) -> LeaveOneOutSplit:
        """The leave-one-out split of the synthetic data."""
        from dpr_plugin.data.sources import load_split

        return load_split(self.spec)

    def backbone(self, kind: str = "sasrec") -> Path:
        """An untrained backbone checkpoint with the contract's dims (exportable)."""

        def build(out: Path) -> None:
            import torch

            from dpr_plugin.contract import EMBEDDING_DIM, HISTORY_LENGTH
            from dpr_plugin.models.backbone import BackboneConfig
            from dpr_plugin.models.factory import build_backbone
            from dpr_plugin.training.checkpoint import Catalogue, save_backbone

            dataset = self.split.dataset
            torch.manual_seed(0)
            config = BackboneConfig(
                kind=kind,
                num_items=dataset.num_items,
                hidden_dim=EMBEDDING_DIM,
                max_len=HISTORY_LENGTH,
                num_tags=len(dataset.tag_names),
            )
            model = build_backbone(config).eval()
            record = {"dataset": {"spec": self.spec, **dataset.stats()}}
            save_backbone(out, model, Catalogue.of(dataset), record)

        return self._once(f"backbone-{kind}", build)

    def head(self, kind: str = "sasrec") -> Path:
        """An untrained steering head for ``backbone(kind)`` whose experts really move the
        vector (random last layers), its config naming the backbone as trained heads do."""
        backbone = self.backbone(kind)

        def build(out: Path) -> None:
            import torch

            from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
            from dpr_plugin.training.checkpoint import save_steering

            tags = self.split.dataset.tag_names
            torch.manual_seed(0)
            head = SteeringHead(SteeringConfig.for_contract(len(tags)))
            for expert in head.experts:
                torch.nn.init.normal_(expert.net[-1].weight, std=0.05)
            save_steering(out, head.eval(), list(tags), {"backbone_checkpoint": str(backbone)})

        return self._once(f"steering-{kind}", build)

    def repository(self) -> Path:
        """A Triton model repository exported (parity-checked) from ``backbone("sasrec")`` and
        ``head("sasrec")``."""
        backbone, head = self.backbone("sasrec"), self.head("sasrec")

        def build(out: Path) -> None:
            from dpr_plugin.export.run import run_export
            from dpr_plugin.export.triton_config import write as write_configs

            write_configs(out)
            run_export(backbone, head, out)

        return self._once("triton_models", build)
