"""The ``dpr`` command line: train and evaluate models; index, serve and call the service."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from dpr_plugin.errors import DprError

log = logging.getLogger("dpr")

# `dpr train`'s own default for BackboneConfig.tag_embeddings (the dataclass keeps False, so
# code and checkpoints that predate it build the plain table). Measured side by side: bundled
# data, a steered top 10's tag share "more X" 0.58 -> 0.90, "no X" 0.08 -> 0.03; ML-1M, two
# backbone seeds each, every negative target met at the served strengths on both backbones
# (GRU4Rec's hybrid 0.993x -> 1.029x / 1.027x the filter), backbones within seed noise.
TAG_EMBEDDINGS_DEFAULT = "true when the dataset has tags (--tag-embeddings false: plain table)"


def _add_data_flags(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--dataset",
        required=required,
        help="'bundled' or FORMAT:DIR, FORMAT in ml-1m, ml-1m-tsv, movielens-csv, mind",
    )
    parser.add_argument("--min-user", type=int, default=0, help="k-core: min interactions per user")
    parser.add_argument("--min-item", type=int, default=0, help="k-core: min interactions per item")


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from dpr_plugin.data.sources import load_split
    from dpr_plugin.models.backbone import BackboneConfig
    from dpr_plugin.settings import build
    from dpr_plugin.training.backbone_trainer import TrainConfig
    from dpr_plugin.training.run import train_and_save

    if args.threads:
        torch.set_num_threads(args.threads)
    split = load_split(args.dataset, args.min_user, args.min_item)
    num_tags = len(split.dataset.tag_names)
    model_cfg = build(
        BackboneConfig,
        args,
        "model",
        # tag embeddings wherever there are tags to embed (TAG_EMBEDDINGS_DEFAULT)
        defaults={"tag_embeddings": num_tags > 0},
        kind=args.backbone,
        num_items=split.dataset.num_items,
        num_tags=num_tags,
    )
    train_cfg = build(TrainConfig, args, "train")
    data = {"spec": args.dataset, "min_user": args.min_user, "min_item": args.min_item}
    _, summary = train_and_save(
        split, model_cfg, train_cfg, Path(args.out), data, progress=not args.quiet
    )
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from dpr_plugin.evaluation.full_ranking import evaluate_split
    from dpr_plugin.evaluation.popularity import evaluate_popularity
    from dpr_plugin.training.checkpoint import load_backbone

    model, catalogue, config = load_backbone(Path(args.checkpoint))
    split = _split_of(config, args)
    if split.dataset.item_ids != catalogue.item_ids:
        raise DprError("--dataset: not the catalogue the checkpoint was trained on")
    report = {
        stage: evaluate_split(model, split, stage, exclude_seen=args.exclude_seen)
        for stage in ("valid", "test")
    }
    report["popularity_test"] = evaluate_popularity(split, "test")
    print(json.dumps(report, indent=2))
    return 0


def _split_of(checkpoint_config: dict[str, object], args: argparse.Namespace):
    """The leave-one-out split a checkpoint was trained on (or ``--dataset`` if given)."""
    from dpr_plugin.data.sources import load_split

    data = checkpoint_config.get("dataset", {})
    spec = args.dataset or data.get("spec")
    if not spec:
        raise DprError("--dataset: the checkpoint records no dataset; pass one")
    min_user = args.min_user or int(data.get("min_user", 0))
    min_item = args.min_item or int(data.get("min_item", 0))
    return load_split(spec, min_user, min_item)


def _cmd_train_steering(args: argparse.Namespace) -> int:
    import torch

    from dpr_plugin.evaluation.steering_eval import evaluate_steering
    from dpr_plugin.evaluation.strength_sweep import Adherence, calibrate_head
    from dpr_plugin.models.prompt_encoder import PromptEncoder
    from dpr_plugin.models.steering_head import SteeringConfig, SteeringHead
    from dpr_plugin.settings import build
    from dpr_plugin.training.checkpoint import load_backbone, save_steering
    from dpr_plugin.training.steering_trainer import (
        SteeringTrainConfig,
        encode_prompts,
        train_steering_head,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    backbone, catalogue, config = load_backbone(Path(args.backbone))
    split = _split_of(config, args)
    if split.dataset.item_ids != catalogue.item_ids:
        raise DprError("--dataset: not the catalogue the backbone was trained on")
    tags = split.dataset.tag_names
    head_cfg = build(
        SteeringConfig, args, "head", hidden_dim=backbone.config.hidden_dim, num_tags=len(tags)
    )
    train_cfg = build(SteeringTrainConfig, args, "steer")
    adherence = build(Adherence, args, "adherence")
    encoder = PromptEncoder()
    torch.manual_seed(train_cfg.seed)  # the head's initial weights follow the run's seed
    head = SteeringHead(head_cfg)
    result = train_steering_head(
        backbone,
        split.train,
        split.dataset.tag_matrix(),
        tags,
        encoder,
        head,
        train_cfg,
        progress=not args.quiet,
    )
    trained, heldout = encode_prompts(encoder, tags, False), encode_prompts(encoder, tags, True)
    default, _ = calibrate_head(backbone, head, split, trained, heldout, adherence)
    report = evaluate_steering(backbone, head, split, trained, heldout, stage=args.stage)
    report["default_strength"] = default.to_json()
    record = {
        "backbone_checkpoint": str(args.backbone),
        "train": train_cfg.__dict__,
        "result": {
            "align_seconds": result.align_seconds,
            "steer_seconds": result.steer_seconds,
            "align_loss_last": result.align_loss[-1],
            "steer_loss_last": result.steer_loss[-1],
        },
        "default_strength": default.to_json(),
        f"{args.stage}_report": report,
    }
    save_steering(Path(args.out), head, tags, record)
    print(json.dumps(report, indent=2))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from dpr_plugin.export.run import run_export

    manifest = run_export(
        args.backbone, args.steering, args.repository, args.seed, args.vocabulary, args.cold_items
    )
    print(json.dumps(manifest.parity_max_abs_diff, indent=2))
    print(f"model version {manifest.model_version} written to {args.repository}")
    return 0


def _cmd_triton_configs(args: argparse.Namespace) -> int:
    from dpr_plugin.export.triton_config import stale, write

    if args.check:
        names = stale(args.repository)
        if names:
            raise DprError(f"stale config.pbtxt of {', '.join(names)} (run dpr triton-configs)")
        print(f"every config.pbtxt under {args.repository} matches dpr_plugin/contract.py")
        return 0
    for path in write(args.repository):
        print(path)
    return 0


def _cmd_triton(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import time

    import numpy as np

    from dpr_plugin.contract import (
        DPR_STEER,
        HISTORY_IDS,
        HISTORY_LEN,
        HISTORY_LENGTH,
        PROMPT_IDS,
        PROMPT_MASK,
        PROMPT_TOKENS,
        STRENGTH,
    )
    from dpr_plugin.serving.inference.local_runtime import LocalRuntime
    from dpr_plugin.serving.inference.triton_client import TritonBackend
    from dpr_plugin.settings import build
    from dpr_plugin.triton_local.server import LocalTritonServer, TritonSettings

    settings = build(TritonSettings, args, "triton")
    with LocalTritonServer(Path(args.repository), settings) as server:
        print(f"tritonserver ready: grpc {server.grpc_url}  metrics {server.metrics_url}")
        if not args.check:
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
            return 0
        history = np.zeros((1, HISTORY_LENGTH), np.int64)
        history[0, -3:] = [1, 2, 3]
        prompt = np.zeros((1, PROMPT_TOKENS), np.int64)
        prompt[0, :4] = [101, 2062, 22092, 102]  # "[CLS] more comedies [SEP]"
        request = {
            HISTORY_IDS.name: history,
            HISTORY_LEN.name: np.array([[3]]),
            PROMPT_IDS.name: prompt,
            PROMPT_MASK.name: (prompt > 0).astype(np.int64),
            STRENGTH.name: np.ones((1, 1), np.float32),
        }

        async def call() -> tuple[dict[str, np.ndarray], float]:
            client = TritonBackend(server.grpc_url)
            try:
                started = time.perf_counter()
                out = await client.infer(DPR_STEER.name, request)
                return out, time.perf_counter() - started
            finally:
                await client.close()

        served, seconds = asyncio.run(call())
        local = LocalRuntime(Path(args.repository)).infer_sync(DPR_STEER.name, request)
        diff = max(float(np.abs(served[k] - local[k]).max()) for k in local)
        print(
            f"dpr_steer via Triton: {seconds * 1000:.1f} ms; max |triton - in-process| = {diff:.2e}"
        )
    return 0


def _add_training_commands(sub: argparse._SubParsersAction) -> None:
    """train, evaluate, train-steering: they need the ``train`` extra (torch)."""
    from dpr_plugin.evaluation.strength_sweep import Adherence
    from dpr_plugin.models.backbone import BACKBONES, BackboneConfig
    from dpr_plugin.models.steering_head import SteeringConfig
    from dpr_plugin.settings import add_arguments
    from dpr_plugin.training.backbone_trainer import TrainConfig
    from dpr_plugin.training.steering_trainer import SteeringTrainConfig

    train = sub.add_parser("train", help="train a backbone (stage 1) and evaluate it")
    _add_data_flags(train)
    train.add_argument("--backbone", choices=BACKBONES, default="sasrec")
    train.add_argument("--out", required=True, help="checkpoint directory to write")
    train.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    add_arguments(
        train,
        BackboneConfig,
        "model",
        skip=("kind", "num_items", "num_tags"),
        default_help={"tag_embeddings": TAG_EMBEDDINGS_DEFAULT},
    )
    add_arguments(train, TrainConfig, "train")
    train.set_defaults(func=_cmd_train)

    evaluate = sub.add_parser("evaluate", help="full-ranking evaluation of a checkpoint")
    evaluate.add_argument("--checkpoint", required=True)
    _add_data_flags(evaluate, required=False)
    evaluate.add_argument(
        "--exclude-seen", action="store_true", help="remove history items from the ranking"
    )
    evaluate.set_defaults(func=_cmd_evaluate)

    steering = sub.add_parser(
        "train-steering", help="stages 2-3 on a trained backbone, then the steering tasks"
    )
    steering.add_argument("--backbone", required=True, help="backbone checkpoint dir")
    steering.add_argument("--out", required=True, help="steering checkpoint dir to write")
    steering.add_argument("--stage", choices=("valid", "test"), default="test")
    steering.add_argument("--threads", type=int, default=0)
    steering.add_argument("--quiet", action="store_true")
    _add_data_flags(steering, required=False)
    add_arguments(steering, SteeringConfig, "head", skip=("hidden_dim", "num_tags"))
    add_arguments(steering, SteeringTrainConfig, "steer")
    add_arguments(steering, Adherence, "adherence")
    steering.set_defaults(func=_cmd_train_steering)

    export = sub.add_parser(
        "export", help="checkpoints -> ONNX models in a Triton repository, parity-checked"
    )
    export.add_argument("--backbone", required=True, type=Path, help="backbone checkpoint dir")
    export.add_argument(
        "--steering", type=Path, help="steering checkpoint dir (else an untrained head)"
    )
    export.add_argument("--repository", type=Path, default=Path("triton_models"))
    export.add_argument("--seed", type=int, default=0, help="initial weights of an untrained head")
    export.add_argument(
        "--vocabulary",
        default="auto",
        help="the prompt reader's catalogue vocabulary: a TOML file, a bundled one (movielens, "
        "mind) or auto (the bundled one that describes the tags); see docs/prompts.md",
    )
    export.add_argument(
        "--cold-items",
        default="",
        help="a dataset (mapping:FILE, bundled, a preset) whose items without interactions are "
        "exported as cold items, placed by their tags (docs/your_catalogue.md)",
    )
    export.set_defaults(func=_cmd_export)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dpr`` with every subcommand (training ones need torch)."""
    from dpr_plugin.release_cli import add_release_commands
    from dpr_plugin.service_cli import add_service_commands
    from dpr_plugin.settings import add_arguments
    from dpr_plugin.triton_local.server import TritonSettings

    parser = argparse.ArgumentParser(prog="dpr", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    try:
        _add_training_commands(sub)
    except ImportError as exc:  # a serving install: no torch
        log.debug("training commands unavailable: %s", exc)

    triton = sub.add_parser("triton", help="run the local tritonserver on a model repository")
    triton.add_argument("--repository", default="triton_models")
    triton.add_argument(
        "--check", action="store_true", help="send one dpr_steer request, compare, stop"
    )
    add_arguments(triton, TritonSettings, "triton")
    triton.set_defaults(func=_cmd_triton)

    configs = sub.add_parser(
        "triton-configs", help="render triton_models/*/config.pbtxt from dpr_plugin/contract.py"
    )
    configs.add_argument("--repository", type=Path, default=Path("triton_models"))
    configs.add_argument("--check", action="store_true", help="exit 2 if a config is stale")
    configs.set_defaults(func=_cmd_triton_configs)
    add_service_commands(sub)
    add_release_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dpr`` command; errors of ours print one line and exit 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except DprError as exc:
        print(f"dpr {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
