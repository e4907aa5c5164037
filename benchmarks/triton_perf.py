"""Load run against a real Triton's gRPC endpoint: dpr_steer and each model alone.

    .venv/bin/python -m benchmarks.triton_perf --repository triton_models --seconds 10

For each model and concurrency (1 and 8 by default) it keeps that many requests in flight for
``--seconds``, then reports client latency p50/p90/p99 and throughput, and Triton's own
statistics for the same window (per-request queue time and compute time = compute_input +
compute_infer + compute_output, cache hits), the figures perf_analyzer prints. Every request
carries new random prompt tokens unless the row says ``cached``, so the response cache does not
flatter the encoder. Writes ``benchmarks/results/triton_perf/triton_perf.json`` (another stem
with ``--result-name``). ``--smoke`` loads a tiny untrained export of the synthetic data
(``benchmarks.lib.smoke``; or ``--repository``) into the local tritonserver and runs each row
at concurrency 1 for 0.2 s.

Note: the load generator is Python (tritonclient.grpc.aio) on the same 2 cores as the server;
perf_analyzer (C++) cannot run here (it needs glibc 2.38).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import (
    add_smoke_arguments,
    command_line,
    git_sha,
    latency_summary,
    parse_args,
    result_path,
    results_root,
    write_result,
)
from benchmarks.lib.smoke import SmokeInputs
from dpr_plugin.contract import (
    DPR_STEER,
    EMBEDDING_DIM,
    HISTORY_IDS,
    HISTORY_LEN,
    HISTORY_LENGTH,
    PROMPT_DIM,
    PROMPT_EMBEDDING,
    PROMPT_ENCODER,
    PROMPT_IDS,
    PROMPT_MASK,
    PROMPT_STATES,
    PROMPT_TOKENS,
    SEQ_BACKBONE,
    STEERING_HEAD,
    STRENGTH,
    USER_EMBEDDING,
)
from dpr_plugin.serving.inference.triton_client import TritonBackend
from dpr_plugin.triton_local.server import LocalTritonServer, TritonSettings

EXPERIMENT = "triton_perf"
VOCAB = 30522
DEFAULTS: dict[str, object] = {"seconds": 10.0, "concurrency": "1,8", "warmup": 20}
SMOKE_DEFAULTS: dict[str, object] = {"seconds": 0.2, "concurrency": "1", "warmup": 2}


def _inputs(
    model: str, rng: np.random.Generator, num_items: int, cached: bool
) -> dict[str, np.ndarray]:
    history = np.zeros((1, HISTORY_LENGTH), np.int64)
    length = int(rng.integers(5, HISTORY_LENGTH + 1))
    history[0, -length:] = rng.integers(1, num_items + 1, size=length)
    prompt = np.zeros((1, PROMPT_TOKENS), np.int64)
    words = (
        [2062, 22092] if cached else list(rng.integers(1000, VOCAB, size=int(rng.integers(2, 8))))
    )
    prompt[0, : len(words) + 2] = [101, *words, 102]
    parts = {
        HISTORY_IDS.name: history,
        HISTORY_LEN.name: np.array([[length]], np.int64),
        PROMPT_IDS.name: prompt,
        PROMPT_MASK.name: (prompt > 0).astype(np.int64),
        STRENGTH.name: np.ones((1, 1), np.float32),
        USER_EMBEDDING.name: rng.normal(size=(1, EMBEDDING_DIM)).astype(np.float32),
        PROMPT_EMBEDDING.name: rng.normal(size=(1, PROMPT_DIM)).astype(np.float32),
        PROMPT_STATES.name: rng.normal(size=(1, PROMPT_TOKENS, PROMPT_DIM)).astype(np.float32)
        * (prompt > 0)[:, :, None],
    }
    spec = {m.name: m for m in (DPR_STEER, SEQ_BACKBONE, PROMPT_ENCODER, STEERING_HEAD)}[model]
    return {t.name: parts[t.name] for t in spec.inputs}


def _field(stats: dict[str, dict[str, str]], key: str, field: str) -> float:
    return float(stats.get(key, {}).get(field, 0))


def _stats_totals(stats: dict[str, object], model: str) -> dict[str, float]:
    for entry in stats.get("model_stats", []):
        if entry["name"] == model:
            s = entry["inference_stats"]
            compute = sum(
                _field(s, k, "ns") for k in ("compute_input", "compute_infer", "compute_output")
            )
            return {
                "success": _field(s, "success", "count"),
                "queue_ns": _field(s, "queue", "ns"),
                "compute_ns": compute,
                "cache_hit": _field(s, "cache_hit", "count"),
                "executions": float(entry.get("execution_count", 0)),
            }
    return {"success": 0, "queue_ns": 0, "compute_ns": 0, "cache_hit": 0, "executions": 0}


async def _measure(
    url: str,
    model: str,
    concurrency: int,
    seconds: float,
    make: Callable[[], dict[str, np.ndarray]],
    warmup: int = 20,
) -> dict[str, object]:
    client = TritonBackend(url)
    try:
        for _ in range(warmup):
            await client.infer(model, make())
        before = _stats_totals(await client.statistics(model), model)
        latencies: list[float] = []
        errors = 0
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                request = make()
                started = time.perf_counter()
                try:
                    await client.infer(model, request)
                except Exception:  # counted, reported; a benchmark keeps going
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
        after = _stats_totals(await client.statistics(model), model)
    finally:
        await client.close()
    count = max(after["success"] - before["success"], 1.0)
    executed = max(after["executions"] - before["executions"], 1.0)
    return {
        **latency_summary(latencies, wall),
        "errors": errors,
        "server_queue_us": round((after["queue_ns"] - before["queue_ns"]) / count / 1000, 1),
        "server_compute_us": round((after["compute_ns"] - before["compute_ns"]) / count / 1000, 1),
        "server_cache_hits": int(after["cache_hit"] - before["cache_hit"]),
        "avg_batch": round((count - (after["cache_hit"] - before["cache_hit"])) / executed, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the load and writes the result file."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=None, help="default triton_models")
    parser.add_argument("--seconds", type=float, default=None, help="per cell; default 10")
    parser.add_argument("--concurrency", default=None, help="default 1,8")
    parser.add_argument("--warmup", type=int, default=None, help="requests per cell; default 20")
    parser.add_argument("--triton-venv", type=Path, default=TritonSettings().venv)
    parser.add_argument("--result-name", default="triton_perf", help="stem of the result JSON")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)
    for name, value in (SMOKE_DEFAULTS if args.smoke else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.repository is None:
        args.repository = SmokeInputs(root).repository() if args.smoke else Path("triton_models")
    items = json.loads((args.repository / "seq_backbone" / "1" / "items.json").read_text())
    num_items = len(items["item_ids"])
    rows = [
        (m, False)
        for m in (DPR_STEER.name, SEQ_BACKBONE.name, PROMPT_ENCODER.name, STEERING_HEAD.name)
    ]
    rows.append((PROMPT_ENCODER.name, True))
    result: dict[str, object] = {}
    with LocalTritonServer(args.repository, TritonSettings(venv=args.triton_venv)) as server:
        for row, (model, cached) in enumerate(rows):
            key = f"{model}_cached" if cached else model
            result[key] = {}
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                # A fresh seed per row: replayed prompts would hit the cache filled by earlier rows.
                rng = np.random.default_rng([row, concurrency])
                figures = asyncio.run(
                    _measure(
                        server.grpc_url,
                        model,
                        concurrency,
                        args.seconds,
                        lambda m=model, r=rng, c=cached: _inputs(m, r, num_items, c),
                        args.warmup,
                    )
                )
                result[key][f"c{concurrency}"] = figures
                print(key, f"c{concurrency}", json.dumps(figures), flush=True)
    result["notes"] = (
        "Local tritonserver 2.51 (nvidia-pytriton wheel) with the Python stand-in backend named "
        "onnxruntime, 1 instance and 1 onnxruntime thread per model, 2 CPU cores shared with the "
        "Python load generator. server_* are Triton's statistics for the same window, per request."
    )
    result["command"] = command_line("benchmarks.triton_perf")
    result["git_sha"] = git_sha()
    out = result_path(EXPERIMENT, args.result_name, root)
    write_result(out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
