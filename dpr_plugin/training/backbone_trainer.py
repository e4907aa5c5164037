"""Stage 1 of DPR: train a backbone for next-item prediction (the warm-up), with early stopping.

Loss: cross-entropy of the next item at every real position. ``full`` takes the softmax over
the whole catalogue. ``sampled`` takes it over candidates shared by the step: every distinct
item among the step's own targets, plus ``negatives`` items drawn uniformly without replacement
from the rest of the catalogue. Each candidate's logit is corrected by ``- log`` of its
probability of being a candidate this step (logQ correction, Horvitz-Thompson): 0 for the
step's targets, which are candidates with certainty (the row's own target included, so the
positive is not corrected), and ``log(negatives / (N - distinct targets))`` for the uniform
ones; a candidate equal to the row's target is masked. The sum of the corrected exponentials
over the candidates is then an unbiased estimate of the full softmax's denominator, exact over
the step's targets, where the popular items and the users' own items (a batch holds a few
users' sequences) concentrate.

On ML-1M (SASRec, 6 epochs, batch 16, same seed and recipe; history-removed test NDCG@10, full
softmax 0.1488 at seed 0 and 0.1476 at seed 1) this gives 0.1462 (0.983x) and 0.1471
(0.997x); the same scheme with the uniform items taken from a permutation of the catalogue
gave 0.1469 and 0.1461. The scheme it replaces, 1,024 candidates drawn half from the step's
targets (with replacement) and half uniformly, each logit and the positive's corrected by the
log of the item's expected count, gave 0.1450 (0.974x) and 0.1428 (0.968x); with 2,048
candidates 0.1445, with the positive uncorrected 0.1445, and the step's targets with only 512
uniform items 0.1446 (seed 0; the standard error of the difference between two runs, paired
over the test users, is about 0.0014).

On ML-1M that is about 2,000 candidates of 3,706 per step (~980 distinct targets + 1,024), so
a step costs about what the full softmax's does there (benchmarks/large_catalogue.py); the
saving is on large catalogues. The logit matrix per step is [positions x (distinct targets +
negatives)]: it does not grow with the catalogue, nor does the draw. ``auto`` (the default) is
``full`` up to ``SAMPLED_ABOVE`` items and ``sampled`` above.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom
from tqdm import tqdm

from dpr_plugin.data.split import LeaveOneOutSplit
from dpr_plugin.errors import ConfigError, require_positive
from dpr_plugin.evaluation.full_ranking import evaluate_split
from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.training.batches import batches, training_windows

log = logging.getLogger(__name__)

LOSSES = ("auto", "full", "sampled")
SAMPLED_ABOVE = 50_000
"""``loss="auto"``: the full softmax up to this many items, the sampled one above (a full
softmax over 10⁶ items needs a [positions x 10⁶] logit matrix per step)."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of the backbone warm-up.

    Attributes:
        max_epochs: Upper bound on epochs; the cosine schedule spans this many.
        batch_size: Training windows per step.
        lr: Peak learning rate of AdamW (after linear warm-up).
        weight_decay: AdamW decoupled weight decay.
        warmup_steps: Steps of linear learning-rate warm-up.
        min_lr_ratio: Final learning rate as a fraction of ``lr`` at the end of the cosine.
        patience: Evaluations without a better validation NDCG@10 before stopping.
        eval_every: Epochs between validation evaluations.
        all_windows: Train on every window of long histories, not only the most recent one.
        loss: ``full`` (softmax over all items), ``sampled`` (see the module docstring) or
            ``auto`` (full up to SAMPLED_ABOVE items).
        negatives: Sampled loss: how many items, besides every distinct target of the step,
            are drawn uniformly without replacement from the rest of the catalogue as the
            candidates shared by the step's positions.
        bf16: Run forward and backward under bfloat16 autocast (CPU with AVX512-BF16 / AMX,
            or any recent GPU).
        select_exclude_seen: Select and stop on validation NDCG@10 with history items removed
            from the ranking (the protocol most papers report) instead of kept (docs/evaluation.md).
        device: ``cpu``, ``cuda`` or ``cuda:N``; the trained model is returned on the CPU.
        time_budget_s: Stop after the first evaluation past this many seconds (None = no limit).
        seed: Seed of torch and numpy generators.
    """

    max_epochs: int = 100
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05
    patience: int = 5
    eval_every: int = 1
    all_windows: bool = True
    loss: str = "auto"
    negatives: int = 1024
    bf16: bool = False
    select_exclude_seen: bool = False
    device: str = "cpu"
    time_budget_s: float | None = None
    seed: int = 0

    def sampled_for(self, num_items: int) -> bool:
        """Whether a catalogue of ``num_items`` items trains with the sampled loss."""
        return self.loss == "sampled" or (self.loss == "auto" and num_items > SAMPLED_ABOVE)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"loss: expected one of {', '.join(LOSSES)}, got {self.loss!r}")
        require_positive(self, "max_epochs", "batch_size", "patience", "eval_every", "negatives")
        if self.lr <= 0:
            raise ConfigError(f"lr: must be > 0, got {self.lr}")
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"device: expected cpu, cuda or cuda:N, got {self.device!r}")


def resolve_device(name: str) -> torch.device:
    """The torch device ``name``; a ConfigError if it names a GPU this machine lacks."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} asked for, but torch sees no CUDA device")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"device: {name!r}, but torch sees {torch.cuda.device_count()} GPU(s)")
    return device


@dataclass
class TrainResult:
    """What a training run produced: the curve and the best validation figures."""

    curve: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_valid: dict[str, float] = field(default_factory=dict)
    epochs: int = 0
    train_seconds: float = 0.0
    stopped_because: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def _lr_factor(step: int, total: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def next_item_loss(
    model: SequentialBackbone,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    cfg: TrainConfig,
    generator: torch.Generator,
    sampled: bool = False,
) -> torch.Tensor:
    """Mean cross-entropy of the next item over the real positions of a batch: over the whole
    catalogue, or ``sampled`` (see the module docstring)."""
    states = model(inputs)  # [B, T, D]
    real = targets > 0  # [B, T]
    h = states[real]  # [M, D]
    gold = targets[real]  # [M]
    if not sampled:
        table = model.item_vectors()  # [N + 1, D]
        logits = h @ table[1:].T  # [M, N]
        return F.cross_entropy(logits.float(), gold - 1)
    candidates, candidate_log_q = step_candidates(
        gold, model.config.num_items, cfg.negatives, generator
    )
    return sampled_cross_entropy(
        h,
        gold,
        candidates,
        model.item_vectors_of,
        torch.zeros(len(gold), device=h.device),
        candidate_log_q,
    )


def step_candidates(
    gold: torch.Tensor, num_items: int, negatives: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The sampled loss's candidates for a step whose targets are ``gold`` (1-based), and the
    log of each one's probability of being a candidate: every distinct item of ``gold``
    (probability 1, log 0), then ``negatives`` items drawn uniformly without replacement from
    the ``num_items`` minus those (each such item's probability: ``negatives`` over their
    number), fewer if fewer remain. On ``gold``'s device."""
    distinct = torch.unique(gold)  # sorted
    rest = num_items - len(distinct)
    drawn = min(negatives, rest)
    known = distinct.cpu().numpy()
    if drawn == rest:  # every other item
        picked = np.setdiff1d(np.arange(1, num_items + 1), known)
    else:
        # The first `drawn` distinct non-target items of a stream of uniform draws: each one is
        # uniform over the non-target items not yet picked, so this is a draw without
        # replacement from the rest, in O(drawn + targets) rather than O(num_items).
        picked = np.empty(0, dtype=np.int64)
        while len(picked) < drawn:
            # draws after which `drawn - len(picked)` new items are expected, with a margin
            left = num_items - len(known) - len(picked)
            need = drawn - len(picked)
            size = math.log1p(-need / left) / math.log1p(-1 / num_items) if num_items > 1 else 1
            stream = torch.randint(1, num_items + 1, (int(1.1 * size) + 16,), generator=generator)
            values, first = np.unique(stream.numpy(), return_index=True)
            new = ~np.isin(values, known) & ~np.isin(values, picked)
            picked = np.concatenate([picked, values[new][np.argsort(first[new])]])
    uniform = torch.from_numpy(picked[:drawn]).to(gold.device)
    log_q = torch.zeros(len(distinct) + drawn, device=gold.device)
    if drawn:
        log_q[len(distinct) :] = math.log(drawn / rest)
    return torch.cat([distinct, uniform]), log_q


def sampled_cross_entropy(
    h: torch.Tensor,
    gold: torch.Tensor,
    candidates: torch.Tensor,
    vectors_of: Callable[[torch.Tensor], torch.Tensor],
    gold_log_q: torch.Tensor,
    candidate_log_q: torch.Tensor,
) -> torch.Tensor:
    """Mean cross-entropy of each row's ``gold`` item against ``candidates`` shared by all
    rows, every logit corrected by minus the log of its item's probability of being a
    candidate (``step_candidates``); a candidate equal to the row's gold item is masked. With
    every item a candidate once and a constant correction, this is the full softmax.

    Args:
        h: The positions' states, ``[M, D]``.
        gold: Their target items (1-based), ``[M]``.
        candidates: The sampled items, ``[K]``.
        vectors_of: Item ids → their output vectors.
        gold_log_q, candidate_log_q: The corrections of ``gold`` (``[M]``) and of
            ``candidates`` (``[K]``).
    """
    pos_logit = (h * vectors_of(gold)).sum(-1, keepdim=True) - gold_log_q[:, None]
    neg_logits = h @ vectors_of(candidates).T - candidate_log_q  # [M, K]
    neg_logits = neg_logits.masked_fill(candidates[None, :] == gold[:, None], float("-inf"))
    logits = torch.cat([pos_logit, neg_logits], dim=1).float()  # [M, 1 + K]
    return F.cross_entropy(logits, torch.zeros(len(gold), dtype=torch.long, device=h.device))


def train_backbone(
    model: SequentialBackbone,
    split: LeaveOneOutSplit,
    cfg: TrainConfig,
    progress: bool = True,
) -> TrainResult:
    """Trains ``model`` in place; at the end it holds the weights of the best validation epoch.

    Training runs on ``cfg.device``; the model is back on the CPU when this returns.
    """
    device = resolve_device(cfg.device)
    model.to(device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    windows = training_windows(split.train, model.config.max_len, cfg.all_windows)
    sampled = cfg.sampled_for(model.config.num_items)
    steps_per_epoch = math.ceil(len(windows) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.max_epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _lr_factor(s, total_steps, cfg)
    )
    result = TrainResult()
    best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    best_score, waited, started = -1.0, 0, time.perf_counter()
    for epoch in range(1, cfg.max_epochs + 1):
        model.train()
        losses = []
        bar = tqdm(
            batches(windows, cfg.batch_size, rng),
            total=steps_per_epoch,
            desc=f"{model.config.kind} epoch {epoch}",
            disable=not progress,
            leave=False,
        )
        for inputs, targets in bar:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                loss = next_item_loss(
                    model,
                    torch.from_numpy(inputs).to(device, non_blocking=True),
                    torch.from_numpy(targets).to(device, non_blocking=True),
                    cfg,
                    generator,
                    sampled,
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        with torch.no_grad():
            model.item_embedding.weight[0].zero_()
        result.epochs = epoch
        elapsed = time.perf_counter() - started
        if epoch % cfg.eval_every and epoch != cfg.max_epochs:
            continue
        valid = evaluate_split(model, split, "valid", exclude_seen=cfg.select_exclude_seen)
        point = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": elapsed, **valid}
        result.curve.append(point)
        log.info(
            "%s epoch %d loss %.4f valid ndcg@10 %.4f (%.0fs)",
            model.config.kind,
            epoch,
            point["loss"],
            valid["ndcg@10"],
            elapsed,
        )
        if progress:
            tqdm.write(
                f"{model.config.kind} epoch {epoch}: loss {point['loss']:.4f} "
                f"valid ndcg@10 {valid['ndcg@10']:.4f} recall@10 {valid['recall@10']:.4f} "
                f"[{elapsed:.0f}s]"
            )
        if valid["ndcg@10"] > best_score:
            best_score, waited = valid["ndcg@10"], 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            result.best_epoch, result.best_valid = epoch, valid
        else:
            waited += 1
        if waited >= cfg.patience:
            result.stopped_because = f"no better validation NDCG@10 for {cfg.patience} evaluations"
            break
        if cfg.time_budget_s is not None and elapsed > cfg.time_budget_s:
            result.stopped_because = f"time budget of {cfg.time_budget_s:.0f}s reached"
            break
    else:
        result.stopped_because = f"max_epochs {cfg.max_epochs} reached"
    result.train_seconds = time.perf_counter() - started
    model.to("cpu")
    model.load_state_dict(best_state)
    return result
