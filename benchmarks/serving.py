"""Serving benchmark: the real service (``dpr serve`` in its own process) under load, once
with the in-process runtime and once with the local tritonserver, beside the in-process cost
of each part measured in the same run.

    .venv/bin/python -m benchmarks.serving --repository triton_models \\
        --history-url runs/main/history.sqlite

Needs an export in ``--repository`` (``bash scripts/main.sh`` makes one) and histories for the
bundled users. For each runtime it starts the service (``--service-flags`` added to its
command line), then for each of ``CASES`` (a new wording per request, a phrase never seen
before, one repeated prompt, an empty prompt) keeps 1, 8 and 32 calls in flight for
``--windows`` windows of ``--seconds`` (after a warm-up) and records client latency
p50/p95/p99 and throughput of the window whose p50 is the median, and the median throughput,
so that one noisy window does not decide. Users cycle over the bundled ones, so with the
service's kept user vectors (``--user-vectors``) most calls reuse one; ``--service-flags
"--user-vectors 0"`` measures without.
The parts (tokenizer, each ONNX model in onnxruntime, the Qdrant queries of one steered
request) are timed in this process on their own; ``overhead_ratio_c1_unseen_phrase`` is the
service's p50 at concurrency 1 for an unseen phrase (the case that runs the encoder) over
their sum. Writes ``benchmarks/results/serving/serving.json`` (another stem with
``--result-name``).

``--smoke`` serves a tiny untrained export of the synthetic data (``benchmarks.lib.smoke``;
or ``--repository``) with the in-process runtime to 20 synthetic users whose histories it
writes into a fresh SQLite store, 0.2 s per cell.

The load generator is Python (grpc.aio) on the same 2 cores as the service.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import grpc
import numpy as np

from benchmarks.common import (
    add_smoke_arguments,
    parse_args,
    result_path,
    results_root,
    write_service_result,
)
from benchmarks.lib.smoke import SmokeInputs
from dpr_plugin.contract import (
    HISTORY_IDS,
    HISTORY_LEN,
    HISTORY_LENGTH,
    PROMPT_EMBEDDING,
    PROMPT_ENCODER,
    PROMPT_IDS,
    PROMPT_MASK,
    PROMPT_STATES,
    SEQ_BACKBONE,
    STEERED_EMBEDDING,
    STEERING_HEAD,
    STRENGTH,
    USER_EMBEDDING,
)
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc

EXPERIMENT = "serving"
CONCURRENCY = (1, 8, 32)
T = TypeVar("T")
DEFAULTS: dict[str, object] = {
    "seconds": 10.0,
    "windows": 3,
    "warmup": 1.0,
    "parts_repeats": 300,
    "runtimes": "in-process,triton",
}
SMOKE_DEFAULTS: dict[str, object] = {
    "seconds": 0.2,
    "windows": 1,
    "warmup": 0.1,
    "parts_repeats": 5,
    "runtimes": "in-process",
}
TAG_WORDS = ("comedies", "dramas", "action movies", "thrillers", "horror", "documentaries")


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    """p50/p95/p99 in ms and requests per second."""
    ms = np.array(latencies) * 1000.0
    if not len(ms):
        return {"requests": 0}
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "rps": round(len(ms) / wall, 1),
        "requests": len(ms),
    }


def unseen_word(n: int) -> str:
    """A made-up word, different for every ``n`` (digits would be dropped by the reader)."""
    letters = "".join("bcdfghjklmnpqrstvwxz"[int(d)] for d in f"{n:06d}")
    return f"zo{letters}"


CASES = ("steer_new_prompt", "steer_unseen_phrase", "steer_repeated_prompt", "steer_empty_prompt")
"""new prompt: a new wording of a tag wish per request, which the rules read (its canonical
prompt's encoding is kept after the first); unseen phrase: the same plus a phrase never seen
before, which the prompt encoder must embed for the zero-shot reader on every request."""


class Workload:
    """Request makers of the cases; users cycle over the bundled users."""

    def __init__(self, users: list[str]) -> None:
        self.users = itertools.cycle(users)
        self.counter = itertools.count()

    def make(self, case: str) -> pb.SteerRequest:
        user = next(self.users)
        if case == "steer_new_prompt":
            n = next(self.counter)
            prompt = f"more {TAG_WORDS[n % len(TAG_WORDS)]} please, take {n}"
            return pb.SteerRequest(user_id=user, prompt=prompt, top_k=10)
        if case == "steer_unseen_phrase":
            n = next(self.counter)
            prompt = f"more {TAG_WORDS[n % len(TAG_WORDS)]}, a bit {unseen_word(n)}"
            return pb.SteerRequest(user_id=user, prompt=prompt, top_k=10)
        if case == "steer_repeated_prompt":
            return pb.SteerRequest(user_id=user, prompt="more comedies", top_k=10)
        return pb.SteerRequest(user_id=user, top_k=10)


async def load(
    target: str, workload: Workload, case: str, concurrency: int, seconds: float
) -> tuple[dict[str, float], int, dict[str, int]]:
    """``concurrency`` callers for ``seconds``: latency summary, errors, served paths."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.SteeringServiceStub(channel)
        latencies: list[float] = []
        errors = 0
        paths: dict[str, int] = {}
        stop = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                request = workload.make(case)
                started = time.perf_counter()
                try:
                    response = await stub.Steer(request, timeout=10)
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                name = pb.ServedPath.Name(response.served_path)
                paths[name] = paths.get(name, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        return summary(latencies, time.perf_counter() - started), errors, paths


class Service:
    """``dpr serve`` in a subprocess on a free port.

    Args:
        repository, history_url: The export and the history store it serves.
        workdir: Holds its index (``index-service``), ready file and log.
        name: Tells this service's files apart from others in ``workdir``.
        flags: More ``dpr serve`` flags (``--in-process true``, ``--drain-s 2``, ...).
        metrics: Serve ``/metrics`` on a free port (``metrics_url``).
    """

    def __init__(
        self,
        repository: Path,
        history_url: str,
        workdir: Path,
        name: str,
        flags: tuple[str, ...] = (),
        metrics: bool = False,
    ) -> None:
        ready = workdir / f"ready-{name}"
        self.log = workdir / f"serve-{name}.log"
        command = [
            str(Path(sys.executable).with_name("dpr")),
            "serve",
            "--repository", str(repository),
            "--index-dir", str(workdir / "index-service"),
            "--history-url", history_url,
            "--port", "0",
            "--metrics-port", "0" if metrics else "-1",
            "--ready-file", str(ready),
            *flags,
        ]  # fmt: skip
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"dpr serve did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        self.target = f"127.0.0.1:{ready.read_text().strip()}"
        found = re.search(r"metrics :(\d+)", self.log.read_text()) if metrics else None
        self.metrics_url = f"http://127.0.0.1:{found.group(1)}/metrics" if found else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def windows_cell(windows: list[tuple[dict[str, float], int, dict[str, int]]]) -> dict[str, object]:
    """One cell from its windows: the window of median p50 (its p95/p99 and paths), the median
    throughput, every window's p50 and rps, and the errors of all of them."""
    ordered = sorted(windows, key=lambda w: w[0].get("p50_ms", 0.0))
    stats, _, paths = ordered[len(ordered) // 2]
    return {
        **stats,
        "rps": float(np.median([w[0].get("rps", 0.0) for w in windows])),
        "requests": sum(int(w[0].get("requests", 0)) for w in windows),
        "errors": sum(w[1] for w in windows),
        "paths": paths,
        "windows_p50_ms": [w[0].get("p50_ms", 0.0) for w in windows],
        "windows_rps": [w[0].get("rps", 0.0) for w in windows],
    }


def measure_cell(
    target: str, workload: Workload, case: str, concurrency: int, args: argparse.Namespace
) -> dict[str, object]:
    """``args.windows`` windows of ``args.seconds`` at ``concurrency``, as one ``windows_cell``."""
    return windows_cell(
        [
            asyncio.run(load(target, workload, case, concurrency, args.seconds))
            for _ in range(args.windows)
        ]
    )


def run_service(args: argparse.Namespace, in_process: bool, workdir: Path, users: list[str]):
    service = Service(
        args.repository,
        str(args.history_url),
        workdir,
        "in-process" if in_process else "triton",
        ("--in-process", str(in_process).lower(), *args.service_flags.split()),
    )
    result: dict[str, object] = {}
    errors = requests = 0
    try:
        workload = Workload(users)
        for case in CASES:
            asyncio.run(load(service.target, workload, case, 4, args.warmup))
            cells: dict[str, object] = {}
            for concurrency in CONCURRENCY:
                cell = measure_cell(service.target, workload, case, concurrency, args)
                cells[f"c{concurrency}"] = cell
                errors += int(cell["errors"])  # type: ignore[call-overload]
                requests += int(cell["requests"]) + int(cell["errors"])  # type: ignore[call-overload]
                print(
                    f"{'in-process' if in_process else 'triton'} {case} c{concurrency}: "
                    f"p50 {cell['windows_p50_ms']} ms, {cell['windows_rps']} req/s, "
                    f"errors {cell['errors']} {cell['paths']}",
                    flush=True,
                )
            result[case] = cells
    finally:
        service.stop()
    return result, errors, requests


def time_parts(repository: Path, index_root: Path, repeats: int) -> dict[str, float]:
    """Median ms of each part of one new-prompt request, run alone in this process."""
    from dpr_plugin.serving.index.base import SearchFilter
    from dpr_plugin.serving.index.edge import EdgeItemIndex
    from dpr_plugin.serving.inference.local_runtime import LocalRuntime
    from dpr_plugin.serving.model_bundle import ModelBundle
    from dpr_plugin.serving.steer_query import RANK_DEPTH

    index = EdgeItemIndex(build_service_index(repository, index_root.parent, index_root.name))
    bundle = ModelBundle.load(repository)
    runtime = LocalRuntime(repository)
    sessions = runtime._sessions  # the bare onnxruntime sessions: no response cache
    rng = np.random.default_rng(0)
    names = ("tokenize", "seq_backbone", "prompt_encoder", "steering_head", "qdrant_query")
    times: dict[str, list[float]] = {name: [] for name in names}

    def timed(name: str, fn: Callable[..., T], *args: object) -> T:
        started = time.perf_counter()
        out = fn(*args)
        times[name].append((time.perf_counter() - started) * 1000.0)
        return out

    def run(model: str, output: str, feed: dict[str, np.ndarray]) -> np.ndarray:
        return sessions[model].run([output], feed)[0]

    def run_all(model: str, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in sessions[model].get_outputs()]
        return dict(zip(names, sessions[model].run(names, feed), strict=True))

    async def searches(steered: np.ndarray, user: np.ndarray) -> None:
        """The two searches of one steered request (served top 10, unsteered top 100)."""
        await index.search(steered, 10, SearchFilter(), ("title", "tags"), with_vectors=True)
        await index.search(user, RANK_DEPTH, SearchFilter())

    loop = asyncio.new_event_loop()  # one loop: asyncio.run per call would be timed too
    for n in range(repeats):
        prompt = f"more {TAG_WORDS[n % len(TAG_WORDS)]} please, take {n}"
        ids, mask = timed("tokenize", bundle.tokenizer.encode_batch, [prompt])
        history = np.zeros((1, HISTORY_LENGTH), np.int64)
        length = int(rng.integers(20, HISTORY_LENGTH))
        history[0, -length:] = rng.integers(1, len(bundle.item_ids) + 1, length)
        feed = {HISTORY_IDS.name: history, HISTORY_LEN.name: np.array([[length]], np.int64)}
        user = timed("seq_backbone", run, SEQ_BACKBONE.name, USER_EMBEDDING.name, feed)
        feed = {PROMPT_IDS.name: ids, PROMPT_MASK.name: mask}
        encoded = timed("prompt_encoder", run_all, PROMPT_ENCODER.name, feed)
        feed = {
            USER_EMBEDDING.name: user,
            PROMPT_EMBEDDING.name: encoded[PROMPT_EMBEDDING.name],
            PROMPT_STATES.name: encoded[PROMPT_STATES.name],
            PROMPT_MASK.name: mask,
            STRENGTH.name: np.ones((1, 1), np.float32),
        }
        steered = timed("steering_head", run, STEERING_HEAD.name, STEERED_EMBEDDING.name, feed)
        timed("qdrant_query", loop.run_until_complete, searches(steered, user))
    loop.run_until_complete(index.close())
    loop.close()
    return {k: round(float(np.median(v)), 3) for k, v in times.items()}


def service_inputs(
    args: argparse.Namespace, root: Path, experiment: str, dataset: str = "bundled"
) -> list[str]:
    """Fills ``args.repository`` and ``args.history_url`` for a benchmark of the running
    service and returns the users to ask for: on ``--smoke`` the tiny synthetic export and 20
    synthetic users, else (unless named) the main job's export and histories and the users of
    ``dataset``."""
    from dpr_plugin.data.sources import load_dataset

    if args.smoke:
        args.repository = args.repository or SmokeInputs(root).repository()
        history = root / "_runs" / experiment / "history.sqlite"
        users = smoke_histories(args.repository, history)
        args.history_url = str(history)
        return users
    args.repository = args.repository or Path("triton_models")
    args.history_url = args.history_url or "runs/main/history.sqlite"
    return list(load_dataset(dataset).user_ids)


def build_service_index(repository: Path, workdir: Path, name: str = "index-service") -> Path:
    """An embedded index of the export's items in ``workdir / name`` (by default the one a
    ``Service`` in ``workdir`` serves)."""
    from dpr_plugin.serving.index.base import CATALOGUE_FIELDS
    from dpr_plugin.serving.index.catalogue import catalogue_items
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder

    items, dim = catalogue_items(repository)
    asyncio.run(EdgeIndexBuilder(workdir / name).build(items, dim, CATALOGUE_FIELDS))
    return workdir / name


def smoke_histories(repository: Path, path: Path, users: int = 20, seed: int = 0) -> list[str]:
    """Writes ``users`` synthetic users, each with a random history of 5-40 of the export's
    items, into a new SQLite store at ``path``; returns their ids."""
    from dpr_plugin.manifest import item_meta_path
    from dpr_plugin.serving.history.factory import open_history_store

    items = json.loads(item_meta_path(repository).read_text())["item_ids"]
    rng = np.random.default_rng(seed)
    histories = {
        f"smoke-{u}": [str(items[i]) for i in rng.integers(0, len(items), rng.integers(5, 41))]
        for u in range(users)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)

    async def write() -> None:
        store = open_history_store(str(path), HISTORY_LENGTH)
        try:
            await store.append_many(histories)
        finally:
            await store.close()

    asyncio.run(write())
    return list(histories)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repository", type=Path, default=None, help="default triton_models")
    parser.add_argument(
        "--history-url", default=None, help="histories of the bundled users (the main job's)"
    )
    parser.add_argument("--seconds", type=float, default=None, help="per window; default 10")
    parser.add_argument("--windows", type=int, default=None, help="per cell; default 3")
    parser.add_argument("--warmup", type=float, default=None, help="per case; default 1")
    parser.add_argument("--parts-repeats", type=int, default=None, help="default 300")
    parser.add_argument("--runtimes", default=None, help="default in-process,triton")
    parser.add_argument("--service-flags", default="", help="more dpr serve flags")
    parser.add_argument("--result-name", default="serving", help="stem of the result JSON")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)

    defaults = SMOKE_DEFAULTS if args.smoke else DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    users = service_inputs(args, root, EXPERIMENT)
    with tempfile.TemporaryDirectory(prefix="dpr-bench-") as tmp:
        workdir = Path(tmp)
        build_service_index(args.repository, workdir)
        parts = time_parts(args.repository, workdir / "index-parts", args.parts_repeats)
        print(f"in-process parts (ms): {parts}", flush=True)
        body: dict[str, object] = {}
        total_errors = total_requests = 0
        for runtime in args.runtimes.split(","):
            result, errors, requests = run_service(args, runtime == "in-process", workdir, users)
            total_errors += errors
            total_requests += requests
            p50 = result["steer_unseen_phrase"]["c1"]["p50_ms"]  # type: ignore[index]
            block = {
                **result,
                "in_process_parts_ms": parts,
                "overhead_ratio_c1_unseen_phrase": round(p50 / sum(parts.values()), 3),
                "errors": errors,
                "requests": requests,
            }
            if runtime == "in-process":
                body.update(block)
            else:
                body["triton"] = block
    body.update({"errors_all_runtimes": total_errors, "requests_all_runtimes": total_requests})
    out = result_path(EXPERIMENT, args.result_name, root)
    write_service_result(out, body, targets(body), "benchmarks.serving")
    return 0


def targets(body: dict[str, object]) -> dict[str, object]:
    """The issue's targets, checked on the in-process figures (and Triton's beside them)."""
    out: dict[str, object] = {}
    for name, block in (("in_process", body), ("triton", body.get("triton"))):
        if not isinstance(block, dict) or "steer_new_prompt" not in block:
            continue
        repeated = block["steer_repeated_prompt"]
        out[name] = {
            "overhead_ratio<=1.3": block["overhead_ratio_c1_unseen_phrase"] <= 1.3,
            "repeated_p50_c1<=3ms": repeated["c1"]["p50_ms"] <= 3.0,
            "repeated_rps_c32>=300": repeated["c32"]["rps"] >= 300,
            "zero_errors": block["errors"] == 0,
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
