"""Prompt understanding: the development prompt set through the real service.

    .venv/bin/python -m benchmarks.prompt_understanding --repository triton_models \\
        --history-url runs/main/history.sqlite

Starts ``dpr serve`` (local tritonserver) on the export, then sends every prompt of
``benchmarks/prompt_sets/dev.jsonl`` through ``Steer`` for ``--users`` users (top 10), beside
each user's unprompted list, and scores the lists against the prompt's labelled clauses:

* a clause *holds* in a top 10 when: a wanted tag's share is >= 0.5; an unwanted tag's share
  is <= 0.05; >= 0.8 of the items are in a wanted range (outside an unwanted one); >= 0.5
  carry one of a disjunction's tags. ``all_clauses_hold`` is the share of (prompt, user)
  lists where every clause holds.
* ``ratio_to_templated``: descriptive prompts' tag share over the share the templated prompt
  "more <tag>" reaches for the same users.
* ``neighbour_share``: share of the top 10 among the referenced item's 50 nearest items (dot
  product over the item table); ``violations``: lists holding the unwanted item or one of its
  10 nearest.
* ``unsteered_rate``: nonsense prompts answered with path UNSTEERED and the unprompted list.
* ``understood_accuracy``: prompts whose response clauses (tags, polarity, range, item) equal
  the labels exactly.
* Latency: each dev prompt sent once, new to the service, at concurrency 1, interleaved with
  new single-clause prompts ("more <tag> <n>").

Writes ``benchmarks/results/prompt_understanding/<result-name>.json``. ``--smoke`` runs the
first prompt of each category on the tiny synthetic export with 3 users. On another export
(``--repository``, ``--history-url``, ``--dataset`` for its users), prompts naming a title the
catalogue lacks are skipped and listed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

from benchmarks.common import (
    add_smoke_arguments,
    parse_args,
    result_path,
    results_root,
    write_service_result,
)
from benchmarks.serving import Service, build_service_index, service_inputs
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc

EXPERIMENT = "prompt_understanding"
DEV_SET = Path(__file__).parent / "prompt_sets" / "dev.jsonl"
TOP_K = 10
NEIGHBOURS = 50
AVOIDED = 10
TAG_CATEGORIES = ("templated", "descriptive_positive", "descriptive_negative")
HOLD_CATEGORIES = ("compound_mixed", "compound_same", "disjunction", "era_tag")
TARGETS = {
    "descriptive_positive.ratio_to_templated": (">=", 0.9),
    "descriptive_negative.share_after": ("<=", 0.02),
    "compound_mixed.all_clauses_hold": (">=", 0.8),
    "compound_same.all_clauses_hold": (">=", 0.8),
    "disjunction.all_clauses_hold": (">=", 0.8),
    "era.in_range_share": (">=", 0.9),
    "era_tag.all_clauses_hold": (">=", 0.8),
    "item_reference_positive.neighbour_share": (">=", 0.5),
    "item_reference_negative.violations": ("<=", 0),
    "nonsense.unsteered_rate": (">=", 0.95),
}


def _plain(tag: str) -> str:
    return "".join(c for c in tag.lower().removesuffix("'s") if c.isalnum())


class Catalogue:
    """What scoring needs of the export: tags, years, vectors, titles per internal id."""

    def __init__(self, repository: Path) -> None:
        from dpr_plugin.intent.eras import RECENT_YEARS
        from dpr_plugin.manifest import item_meta_path
        from dpr_plugin.serving.index.catalogue import title_year
        from dpr_plugin.serving.model_bundle import ModelBundle

        self.bundle = ModelBundle.load(repository)
        meta = json.loads(item_meta_path(repository).read_text())  # what the service reads
        self.tags = [set(t) for t in meta["tags"]]
        self.years = [title_year(t) for t in meta["titles"]]
        self.by_title = {t: i + 1 for i, t in enumerate(meta["titles"])}
        # the dev set says "Children"; ML-1M spells it "Children's"
        self._spelling = {_plain(t): t for t in self.bundle.tags}
        self.vectors = np.asarray(self.bundle.item_vectors, np.float32)
        newest = max((y for y in self.years if y is not None), default=2000)
        self.recent_from = newest - RECENT_YEARS + 1

    def tag(self, label: str) -> str:
        """The catalogue's spelling of a labelled tag."""
        return self._spelling.get(_plain(label), label)

    def internal(self, item_id: str) -> int:
        return self.bundle.internal_ids[item_id]

    def surface(self, tag: str) -> str:
        return self.bundle.surface(tag)

    def nearest(self, item: int, count: int) -> set[int]:
        scores = self.vectors @ self.vectors[item - 1]
        scores[item - 1] = -np.inf
        return {int(i) + 1 for i in np.argsort(-scores)[:count]}

    def label_range(self, label: dict) -> tuple[bool, float | None, float | None]:
        """(negative, gte, lte) of a range label, one-sided unwanted ranges as their wanted
        complement (as the reader reports them)."""
        r = label["range"]
        gte = self.recent_from if r.get("recent") else r.get("gte")
        lte = r.get("lte")
        negative = label["polarity"] == "negative"
        if negative and gte is None and lte is not None:
            return False, lte + 1, None
        if negative and lte is None and gte is not None:
            return False, None, gte - 1
        return negative, gte, lte


def _share(items: list[int], test) -> float:
    return sum(1 for i in items if test(i)) / max(len(items), 1)


def tag_share(catalogue: Catalogue, items: list[int], wanted: set[str]) -> float:
    """Share of ``items`` carrying one of ``wanted``."""
    return _share(items, lambda i: bool(catalogue.tags[i - 1] & wanted))


def clause_holds(catalogue: Catalogue, label: dict, items: list[int]) -> bool:
    """Whether a labelled clause holds in one top 10 (see the module docstring)."""
    negative = label["polarity"] == "negative"
    if "tags" in label:
        wanted = {catalogue.tag(t) for t in label["tags"]}
        share = tag_share(catalogue, items, wanted)
        if label.get("any"):
            return share >= 0.5
        return share <= 0.05 if negative else share >= 0.5
    if "range" in label:
        return in_range_share(catalogue, label, items) >= 0.8
    item = catalogue.by_title.get(label["item"])
    if item is None:
        return False
    near = catalogue.nearest(item, AVOIDED) | {item}
    return not (set(items) & near) if negative else True


def in_range_share(catalogue: Catalogue, label: dict, items: list[int]) -> float:
    negative, gte, lte = catalogue.label_range(label)

    def inside(i: int) -> bool:
        year = catalogue.years[i - 1]
        hit = year is not None and (gte is None or year >= gte) and (lte is None or year <= lte)
        return not hit if negative else hit

    return _share(items, inside)


def response_clauses(response: pb.SteerResponse) -> set[tuple]:
    out = set()
    for c in response.understood.clauses:
        negative = c.polarity == pb.POLARITY_NEGATIVE
        if c.tags:
            out.add(("tags", negative, frozenset(t.tag for t in c.tags), c.any_of))
        elif c.range_field:
            gte = c.range.gte if c.range.HasField("gte") else None
            lte = c.range.lte if c.range.HasField("lte") else None
            out.add(("range", negative, gte, lte))
        else:
            out.add(("item", negative, c.item_title))
    return out


def label_clauses(catalogue: Catalogue, labels: list[dict]) -> set[tuple]:
    out = set()
    for label in labels:
        negative = label["polarity"] == "negative"
        if "tags" in label:
            tags = [catalogue.tag(t) for t in label["tags"]]
            if label.get("any"):
                out.add(("tags", negative, frozenset(tags), True))
            else:
                out.update(("tags", negative, frozenset([t]), False) for t in tags)
        elif "range" in label:
            neg, gte, lte = catalogue.label_range(label)
            out.add(("range", neg, gte, lte))
        else:
            out.add(("item", negative, label["item"]))
    return out


async def _send(stub, prompt: str, user: str) -> tuple[pb.SteerResponse, float]:
    started = time.perf_counter()
    response = await stub.Steer(
        pb.SteerRequest(user_id=user, prompt=prompt, top_k=TOP_K), timeout=30
    )
    return response, time.perf_counter() - started


async def collect(target: str, prompts: list[dict], users: list[str], catalogue: Catalogue):
    """Latency pass (c1, new prompts), then every prompt for every user (c8)."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.SteeringServiceStub(channel)
        for user in users[:4]:  # warm-up on prompts outside the set
            await _send(stub, "more comedies", user)
        new_ms, single_ms = [], []
        tags = list(catalogue.bundle.tags)
        for n, row in enumerate(prompts):
            _, seconds = await _send(stub, row["text"], users[0])
            new_ms.append(seconds * 1000)
            single = f"more {catalogue.surface(tags[n % len(tags)])} {n}"
            _, seconds = await _send(stub, single, users[0])
            single_ms.append(seconds * 1000)
        limit = asyncio.Semaphore(8)

        async def one(prompt: str, user: str):
            async with limit:
                response, _ = await _send(stub, prompt, user)
                return response

        baseline = await asyncio.gather(*(one("", u) for u in users))
        templated_tags = sorted(
            {catalogue.tag(t) for row in prompts if row["category"] == "descriptive_positive"
             for c in row["clauses"] for t in c.get("tags", [])}
        )  # fmt: skip
        templated = {
            tag: await asyncio.gather(*(one(f"more {catalogue.surface(tag)}", u) for u in users))
            for tag in templated_tags
            if tag in tags
        }
        answers = [await asyncio.gather(*(one(row["text"], u) for u in users)) for row in prompts]
    latency = {
        "new_prompt_p50_c1": round(statistics.median(new_ms), 2),
        "same_run_single_clause_p50_c1": round(statistics.median(single_ms), 2),
    }
    return baseline, templated, answers, latency


def _ids(catalogue: Catalogue, response: pb.SteerResponse) -> list[int]:
    return [catalogue.internal(item.item_id) for item in response.items]


def score(catalogue, prompts, users, baseline, templated, answers) -> dict[str, object]:
    """The result's ``categories`` and ``understood_accuracy``."""
    before = [_ids(catalogue, r) for r in baseline]
    cells: dict[str, dict[str, list[float]]] = {}
    correct = 0
    per_prompt = []
    for row, responses in zip(prompts, answers, strict=True):
        category = row["category"]
        cell = cells.setdefault(category, {})
        sizes = {key: len(values) for key, values in cell.items()}
        cell.setdefault("prompts", []).append(1)
        lists = [_ids(catalogue, r) for r in responses]
        labels = row["clauses"]
        understood = response_clauses(responses[0]) == label_clauses(catalogue, labels)
        correct += understood
        if category in TAG_CATEGORIES:
            wanted = {catalogue.tag(t) for t in labels[0]["tags"]}
            # templated "no X" prompts are reported apart from the "more X" ones
            side = (
                "negative_"
                if category == "templated" and labels[0]["polarity"] == "negative"
                else ""
            )
            for b, a in zip(before, lists, strict=True):
                cell.setdefault(f"{side}share_before", []).append(tag_share(catalogue, b, wanted))
                cell.setdefault(f"{side}share_after", []).append(tag_share(catalogue, a, wanted))
            first = catalogue.tag(labels[0]["tags"][0])
            if category == "descriptive_positive" and first in templated:
                for r in templated[first]:
                    cell.setdefault("templated_after", []).append(
                        tag_share(catalogue, _ids(catalogue, r), wanted)
                    )
        elif category in HOLD_CATEGORIES:
            for a in lists:
                cell.setdefault("all_clauses_hold", []).append(
                    float(all(clause_holds(catalogue, c, a) for c in labels))
                )
        elif category == "era":
            for a in lists:
                cell.setdefault("in_range_share", []).append(
                    in_range_share(catalogue, labels[0], a)
                )
        elif category.startswith("item_reference"):
            item = catalogue.by_title.get(labels[0]["item"])
            if item is None:
                continue
            if category.endswith("positive"):
                near = catalogue.nearest(item, NEIGHBOURS)
                for a in lists:
                    cell.setdefault("neighbour_share", []).append(_share(a, near.__contains__))
            else:
                avoided = catalogue.nearest(item, AVOIDED) | {item}
                for a in lists:
                    cell.setdefault("violations", []).append(float(bool(set(a) & avoided)))
        elif category == "nonsense":
            for r, b, a in zip(responses, before, lists, strict=True):
                plain = r.served_path == pb.SERVED_PATH_UNSTEERED and a == b
                cell.setdefault("unsteered_rate", []).append(float(plain))
        per_prompt.append(
            {
                "text": row["text"],
                "category": category,
                "understood": understood,
                **{
                    key: round(float(np.mean(values[sizes.get(key, 0) :])), 3)
                    for key, values in cell.items()
                    if key not in ("prompts", "templated_after")
                    and not key.endswith("share_before")
                    and len(values) > sizes.get(key, 0)
                },
            }
        )
    categories: dict[str, dict[str, float]] = {}
    for category, cell in cells.items():
        out: dict[str, float] = {"prompts": len(cell.pop("prompts"))}
        templated_after = cell.pop("templated_after", None)
        for key, values in cell.items():
            out[key] = sum(values) if key == "violations" else round(float(np.mean(values)), 4)
        if templated_after:
            out["templated_share_after"] = round(float(np.mean(templated_after)), 4)
            out["ratio_to_templated"] = round(
                out["share_after"] / float(np.mean(templated_after)), 4
            )
        categories[category] = out
    return {
        "users": len(users),
        "categories": categories,
        "understood_accuracy": round(correct / len(prompts), 4),
        "per_prompt": per_prompt,
    }


def targets(body: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    categories = body["categories"]
    assert isinstance(categories, dict)
    for key, (op, bar) in TARGETS.items():
        category, figure = key.split(".")
        value = categories.get(category, {}).get(figure)
        met = value is not None and (value >= bar if op == ">=" else value <= bar)
        out[key] = {"value": value, "target": f"{op} {bar}", "met": met}
    accuracy = body["understood_accuracy"]
    out["understood_accuracy"] = {"value": accuracy, "target": ">= 0.95", "met": accuracy >= 0.95}
    latency = body["latency_ms"]
    assert isinstance(latency, dict)
    gap = latency["new_prompt_p50_c1"] - latency["same_run_single_clause_p50_c1"]
    out["latency_gap_ms"] = {"value": round(gap, 2), "target": "<= 2", "met": gap <= 2}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repository", type=Path, default=None, help="default triton_models")
    parser.add_argument("--history-url", default=None, help="default runs/main/history.sqlite")
    parser.add_argument(
        "--dataset", default="bundled", help="whose users to ask for (dpr --dataset syntax)"
    )
    parser.add_argument("--prompts", type=Path, default=DEV_SET, help="a prompt set (JSONL)")
    parser.add_argument("--users", type=int, default=100, help="users per prompt (default 100)")
    parser.add_argument(
        "--categories", default="", help="comma-separated categories to run (default all)"
    )
    parser.add_argument("--result-name", default="prompt_understanding")
    parser.add_argument(
        "--era-mode", default="hard", choices=("hard", "soft"), help="dpr serve --era-mode"
    )
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)

    users = service_inputs(args, root, EXPERIMENT, args.dataset)
    users = users[:3] if args.smoke else sorted(users, key=int)[: args.users]
    prompts = [json.loads(line) for line in args.prompts.read_text().splitlines() if line]
    if args.categories:
        prompts = [p for p in prompts if p["category"] in args.categories.split(",")]
    catalogue = Catalogue(args.repository)
    # a prompt naming a title this catalogue lacks (ML-1M ends in 2000) cannot be scored
    absent = [
        p["text"]
        for p in prompts
        if any("item" in c and c["item"] not in catalogue.by_title for c in p["clauses"])
    ]
    prompts = [p for p in prompts if p["text"] not in absent]
    if args.smoke:  # the first prompt of each category
        firsts = {p["category"]: p for p in reversed(prompts)}
        prompts = [p for p in prompts if firsts[p["category"]] is p]
    with tempfile.TemporaryDirectory(prefix="dpr-prompts-") as tmp:
        workdir = Path(tmp)
        build_service_index(args.repository, workdir)
        service = Service(
            args.repository,
            args.history_url,
            workdir,
            "prompts",
            ("--era-mode", args.era_mode),
        )
        try:
            baseline, templated, answers, latency = asyncio.run(
                collect(service.target, prompts, users, catalogue)
            )
        finally:
            service.stop()
    body = score(catalogue, prompts, users, baseline, templated, answers)
    body["latency_ms"] = latency
    body["prompt_set"] = str(args.prompts)
    body["era_mode"] = args.era_mode
    body["skipped_titles_not_in_catalogue"] = absent
    out = result_path(EXPERIMENT, args.result_name, root)
    write_service_result(out, body, targets(body), "benchmarks.prompt_understanding")
    print(json.dumps(body["categories"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
