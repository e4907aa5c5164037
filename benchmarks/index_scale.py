"""Index scale: exact against HNSW search on the embedded engine, 10⁴ to 10⁶ items.

    .venv/bin/python -m benchmarks.index_scale --repository triton_models

Catalogues with the structure of real item embeddings: the export's trained item table (9k
items for the main job's), each item drawn with its tags and year and jittered with Gaussian
noise (``--noise`` times the table's mean per-dimension spread), up to the size. Queries are
real user vectors: the export's backbone (onnxruntime, in-process) over the histories of the
bundled users. Each size is built twice in a child process (``--index-ann exact`` and
``hnsw``; the child's build time and peak memory are reported), then searched one query at a
time under five filters: none, ``must`` a common tag, ``must_not`` it, 500 excluded ids, and a
year range. Recall@10 is the HNSW top 10's overlap with the exact top 10; ``ann`` searches
with the ``hnsw_ef`` the build recorded, ``ann_ef<N>`` the same graph with ``--efs``.

Targets at 10⁶: HNSW p50 ≤ 3 ms and recall@10 ≥ 0.95 for every filter, build ≤ 10 min.
Writes ``benchmarks/results/index_scale/index_scale.json``. ``--smoke``: 3,000 items from the
tiny synthetic export, 20 queries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    add_smoke_arguments,
    command_line,
    parse_args,
    result_path,
    results_root,
    write_result,
    write_service_result,
)
from benchmarks.lib.smoke import SmokeInputs

EXPERIMENT = "index_scale"
FILTERS = ("none", "must_tag", "must_not_tag", "exclude_500", "year_range")


def catalogue(repository: Path, size: int, noise: float, seed: int = 0):
    """(vectors [size, D] float32, tags per item, year per item or None, the export's row
    each item copies) drawn from the export's table; the first min(size, N) items are the
    table itself."""
    from dpr_plugin.serving.index.catalogue import catalogue_items

    base_items, _ = catalogue_items(repository)
    base = np.stack([np.asarray(item.vector, np.float32) for item in base_items])
    rng = np.random.default_rng(seed)
    n = len(base)
    picks = np.concatenate([np.arange(min(size, n)), rng.integers(0, n, max(size - n, 0))])
    spread = float(base.std(axis=0).mean())
    vectors = base[picks].copy()
    jitter = np.arange(size) >= n  # the table's own items stay as trained
    vectors[jitter] += rng.normal(0, noise * spread, (int(jitter.sum()), base.shape[1]))
    tags = [list(base_items[i].payload.get("tags", [])) for i in picks]
    years = [base_items[i].payload.get("year") for i in picks]
    return vectors.astype(np.float32), tags, years, picks


def _items(vectors: np.ndarray, tags: list, years: list):
    from dpr_plugin.serving.index.base import IndexedItem

    for i in range(len(vectors)):
        payload = {"item_id": str(i + 1), "tags": tags[i]}
        if years[i] is not None:
            payload["year"] = years[i]
        yield IndexedItem(i + 1, vectors[i], payload)


def _build(job: tuple) -> dict[str, float]:
    """In a child process: builds one generation; its build time and the child's peak RSS."""
    repository, size, noise, root, ann = job
    from dpr_plugin.serving.index.base import CATALOGUE_FIELDS, AnnSettings
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, peak_rss_mb

    vectors, tags, years, _ = catalogue(Path(repository), size, noise)
    started = time.perf_counter()
    builder = EdgeIndexBuilder(Path(root), AnnSettings(ann=ann))
    asyncio.run(builder.build(_items(vectors, tags, years), vectors.shape[1], CATALOGUE_FIELDS))
    return {"build_s": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb())}


def user_vectors(repository: Path, count: int, smoke: bool) -> np.ndarray:
    """Backbone vectors of real histories (bundled users; random ones for a smoke run)."""
    from dpr_plugin.contract import HISTORY_IDS, HISTORY_LEN, SEQ_BACKBONE, USER_EMBEDDING
    from dpr_plugin.data.padding import left_pad
    from dpr_plugin.manifest import item_meta_path
    from dpr_plugin.serving.inference.local_runtime import LocalRuntime

    runtime = LocalRuntime(repository)
    rng = np.random.default_rng(1)
    n_items = len(json.loads(item_meta_path(repository).read_text())["item_ids"])
    if smoke:
        histories = [rng.integers(1, n_items + 1, 20).tolist() for _ in range(count)]
    else:
        from dpr_plugin.data.sources import load_dataset

        sequences = load_dataset("bundled").sequences
        histories = [list(sequences[i]) for i in rng.choice(len(sequences), count, replace=False)]
    out = []
    for history in histories:
        ids = left_pad([np.asarray(history, np.int64)], 200)
        length = np.array([[min(len(history), 200)]], np.int64)
        answer = runtime.infer_sync(
            SEQ_BACKBONE.name, {HISTORY_IDS.name: ids, HISTORY_LEN.name: length}
        )
        out.append(answer[USER_EMBEDDING.name][0])
    return np.stack(out).astype(np.float32)


def filters(tags: list, size: int, seed: int = 2) -> dict[str, object]:
    from dpr_plugin.serving.index.base import Match, Range, SearchFilter

    counts: dict[str, int] = {}
    for item_tags in tags:
        for tag in item_tags:
            counts[tag] = counts.get(tag, 0) + 1
    common = max(counts, key=counts.__getitem__)
    rng = np.random.default_rng(seed)
    excluded = frozenset(int(i) for i in rng.choice(np.arange(1, size + 1), 500, replace=False))
    return {
        "none": SearchFilter(),
        "must_tag": SearchFilter(must=(Match("tags", (common,)),)),
        "must_not_tag": SearchFilter(must_not=(Match("tags", (common,)),)),
        "exclude_500": SearchFilter(exclude_ids=excluded),
        "year_range": SearchFilter(must=(Range("year", 1990, 1999),)),
    }


def measure(root: Path, queries: np.ndarray, where, k: int = 10, ef: int | None = None):
    """Per query: (ms, top-k ids), one query at a time, after 5 warm-up queries."""
    from dpr_plugin.serving.index.edge import EdgeItemIndex

    index = EdgeItemIndex(root, hnsw_ef=ef)
    try:
        for q in queries[:5]:
            index.search_sync(q[None, :], k, where)
        out = []
        for q in queries:
            started = time.perf_counter()
            (hits,) = index.search_sync(q[None, :], k, where)
            out.append(((time.perf_counter() - started) * 1000, [h.item_id for h in hits]))
        return out
    finally:
        asyncio.run(index.close())


def _latency(runs) -> dict[str, float]:
    ms = [m for m, _ in runs]
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def run_size(args: argparse.Namespace, size: int, queries: np.ndarray, workdir: Path) -> dict:
    body: dict[str, object] = {}
    _, tags, _, _ = catalogue(args.repository, size, args.noise)
    wheres = filters(tags, size)
    results = {}
    context = multiprocessing.get_context("spawn")
    for ann in ("exact", "hnsw"):
        root = workdir / f"{size}-{ann}"
        with context.Pool(1) as pool:
            built = pool.map(_build, [(str(args.repository), size, args.noise, str(root), ann)])[0]
        print(f"{size} {ann}: built {built}", flush=True)
        body["exact" if ann == "exact" else "ann"] = {**built}
        efs = [None] if ann == "exact" else [None, *args.efs]  # None: the build's own ef
        for ef in efs:
            results[(ann, ef)] = {
                name: measure(root, queries, where, ef=ef) for name, where in wheres.items()
            }
    for name in FILTERS:
        exact = results[("exact", None)][name]
        body["exact"][name] = _latency(exact)  # type: ignore[index]
        for ef in [None, *args.efs]:
            approx = results[("hnsw", ef)][name]
            recall = np.mean(
                [
                    len(set(a) & set(e)) / max(len(e), 1)
                    for (_, a), (_, e) in zip(approx, exact, strict=True)
                ]
            )
            cell = {**_latency(approx), "recall@10": round(float(recall), 4)}
            key = "ann" if ef is None else f"ann_ef{ef}"
            body.setdefault(key, {})[name] = cell  # type: ignore[union-attr]
            print(f"{size} {name} {key}: {cell} (exact {body['exact'][name]})", flush=True)  # type: ignore[index]
    body["build_s"] = body["ann"]["build_s"]  # type: ignore[index]
    body["peak_rss_mb"] = body["ann"]["peak_rss_mb"]  # type: ignore[index]
    return body


def targets(body: dict[str, object]) -> dict[str, object]:
    """At 10⁶ items: the build time, and per search-time ef measured, each filter's p50 and
    recall@10 against the bars."""
    top = body.get("1000000")
    if not isinstance(top, dict):
        return {"at_1000000": "not measured"}
    out: dict[str, object] = {
        "build_s <= 600": {"value": top["build_s"], "met": top["build_s"] <= 600}
    }
    for key, block in top.items():
        if not key.startswith("ann"):
            continue
        cells = {}
        for name in FILTERS:
            p50, recall = block[name]["p50_ms"], block[name]["recall@10"]
            cells[name] = {"p50_ms": p50, "recall@10": recall, "met": p50 <= 3 and recall >= 0.95}
        out[f"{key}: p50 <= 3 ms and recall@10 >= 0.95"] = {
            **cells,
            "met": all(c["met"] for c in cells.values()),
        }
    return out


def rescore(path: Path) -> int:
    """Recomputes the targets of a result file (its measurements unchanged)."""
    body = json.loads(path.read_text())
    body["targets"] = targets(body)
    body["rescore_command"] = command_line("benchmarks.index_scale")
    write_result(path, body)
    print(json.dumps(body["targets"], indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repository", type=Path, default=None, help="default triton_models")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="user vectors (default 200)")
    parser.add_argument("--noise", type=float, default=0.5, help="jitter, x the table's spread")
    parser.add_argument(
        "--efs",
        default="256",
        help="more search-time hnsw_ef values measured on the same graph (comma-separated)",
    )
    parser.add_argument("--result-name", default="index_scale")
    parser.add_argument("--rescore", type=Path, default=None, help="recompute a file's targets")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    if args.rescore is not None:
        return rescore(args.rescore)
    args.efs = [int(e) for e in args.efs.split(",") if e]
    root = results_root(args)
    if args.smoke:
        args.repository = args.repository or SmokeInputs(root).repository()
        args.sizes, args.queries = "3000", 20
    args.repository = args.repository or Path("triton_models")
    queries = user_vectors(args.repository, args.queries, args.smoke)
    body: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="dpr-index-scale-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            body[str(size)] = run_size(args, size, queries, Path(tmp))
            out = result_path(EXPERIMENT, args.result_name, root)
            write_service_result(out, body, targets(body), "benchmarks.index_scale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
