"""Loading a trained steering head with the backbone it steers and the data it was built on."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import add_smoke_arguments, require, results_root
from benchmarks.lib.smoke import SmokeInputs
from dpr_plugin.data.sources import load_split
from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.models.steering_head import SteeringHead
from dpr_plugin.training.checkpoint import load_backbone, load_steering


@dataclass(frozen=True)
class LoadedHead:
    """A steering checkpoint, its backbone checkpoint and the dataset split, checked to fit."""

    head: SteeringHead
    tags: list[str]
    head_config: dict[str, object]
    checkpoint: Path
    backbone: SequentialBackbone
    split: LeaveOneOutSplit


def load_head(head_dir: Path, data: str, data_format: str) -> LoadedHead:
    """The head in ``head_dir`` (written by ``benchmarks.steering_ml1m`` or ``dpr
    train-steering``), the backbone its config names and ``data_format:data``; exits naming
    the checkpoint when the three do not fit together."""
    head, tags, head_config = load_steering(head_dir)
    checkpoint = Path(str(head_config.get("backbone_checkpoint", "")))
    if not checkpoint.is_dir():
        raise SystemExit(f"{head_dir}: backbone_checkpoint {str(checkpoint)!r} is not a directory")
    backbone, catalogue, _ = load_backbone(checkpoint)
    split = load_split(f"{data_format}:{data}")
    if split.dataset.item_ids != catalogue.item_ids:
        raise SystemExit(f"{checkpoint}: trained on another catalogue than {data}")
    if tags != split.dataset.tag_names:
        raise SystemExit(f"{head_dir}: tags {tags} differ from the dataset's")
    return LoadedHead(head, tags, head_config, checkpoint, backbone, split)


def add_head_arguments(parser: argparse.ArgumentParser, result_name: str) -> None:
    """The flags of a benchmark that reads trained heads: ``--data``, ``--format``,
    ``--heads``, ``--threads``, ``--result-name`` (default ``result_name``), ``--smoke`` and
    ``--results-dir``."""
    parser.add_argument("--data", help="folder of the dataset files (required unless --smoke)")
    parser.add_argument("--format", default="ml-1m-tsv")
    parser.add_argument(
        "--heads", nargs="+", type=Path, help="steering checkpoints (required unless --smoke)"
    )
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--result-name", default=result_name, help="stem of the result files in its folder"
    )
    add_smoke_arguments(parser)


def head_inputs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """The results root of this run; with ``--smoke``, ``--data``/``--format`` and
    ``--heads`` not given are set to the synthetic data and a SASRec and a GRU4Rec head on
    it (``benchmarks.lib.smoke``)."""
    root = results_root(args)
    if args.smoke:
        inputs = SmokeInputs(root)
        inputs.fill_data(args)
        if args.heads is None:
            args.heads = [inputs.head("sasrec"), inputs.head("gru4rec")]
    require(parser, args, "data", "heads")
    return root
