"""One set of retrieval cases, run on both index implementations: the embedded Qdrant engine
and qdrant-client (local mode, the server code path)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dpr_plugin.serving.item_index import (
    CATALOGUE_FIELDS,
    IndexedItem,
    IndexQueryError,
    IndexUnavailableError,
    Match,
    Range,
    SearchFilter,
)

DIM = 8
N = 200
TAGS = ("A", "B", "C")


def catalogue(scale: float = 1.0, seed: int = 0) -> tuple[list[IndexedItem], np.ndarray]:
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(N, DIM)).astype(np.float32) * scale
    items = [
        IndexedItem(
            i + 1,
            table[i],
            {
                "item_id": f"m{i + 1}",
                "title": f"Movie {i + 1}",
                "tags": [TAGS[i % 3]] + ([TAGS[(i + 1) % 3]] if i % 5 == 0 else []),
                "year": 1980 + i % 40,
            },
        )
        for i in range(N)
    ]
    return items, table


def brute_force(table: np.ndarray, items: list[IndexedItem], q: np.ndarray, keep, k: int):
    scores = table @ q
    order = [int(i) for i in np.argsort(-scores) if keep(items[int(i)])]
    return [i + 1 for i in order[:k]]


@pytest.fixture(params=["edge", "server"])
def index_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple]:
    if request.param == "edge":
        from dpr_plugin.serving.qdrant_edge_index import EdgeIndexBuilder, EdgeItemIndex

        yield EdgeItemIndex(tmp_path, reload_interval_s=0.0), EdgeIndexBuilder(tmp_path)
    else:
        pytest.importorskip("qdrant_client", reason="the qdrant extra is not installed")
        from dpr_plugin.serving.qdrant_server_index import connect_server_index

        index, builder = connect_server_index(":memory:", "test_items")
        index_info_ttl_off(index)
        yield index, builder


def index_info_ttl_off(index: object) -> None:
    import dpr_plugin.serving.qdrant_server_index as server

    server.INFO_TTL_S = 0.0


def build(pair: tuple, items: list[IndexedItem]) -> str:
    return asyncio.run(pair[1].build(items, DIM, CATALOGUE_FIELDS))


def search(pair: tuple, q: np.ndarray, k: int = 10, where: SearchFilter | None = None, **kw):
    return asyncio.run(pair[0].search(q[None, :], k, where or SearchFilter(), **kw))[0]


def test_top_k_is_the_exact_dot_product_ranking(index_pair: tuple) -> None:
    items, table = catalogue()
    build(index_pair, items)
    q = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    hits = search(index_pair, q, 15)
    assert [h.item_id for h in hits] == brute_force(table, items, q, lambda _: True, 15)
    assert [h.score for h in hits] == pytest.approx(sorted(table @ q, reverse=True)[:15], rel=1e-5)


def test_filters_match_a_brute_force_filter(index_pair: tuple) -> None:
    items, table = catalogue()
    build(index_pair, items)
    q = np.random.default_rng(2).normal(size=DIM).astype(np.float32)
    where = SearchFilter(
        must=(Match("tags", ("B",)), Range("year", gte=1990, lte=2005)),
        must_not=(Match("tags", ("C",)), Match("item_id", ("m5", "m8"))),
        exclude_ids=frozenset({2, 11, 14}),
    )

    def keep(item: IndexedItem) -> bool:
        p = item.payload
        return (
            "B" in p["tags"]
            and 1990 <= p["year"] <= 2005
            and "C" not in p["tags"]
            and p["item_id"] not in ("m5", "m8")
            and item.item_id not in (2, 11, 14)
        )

    hits = search(index_pair, q, 10, where, payload_fields=("tags", "year"))
    assert [h.item_id for h in hits] == brute_force(table, items, q, keep, 10)
    assert all(set(h.payload) == {"tags", "year"} for h in hits)


def test_batches_payload_selection_and_vectors(index_pair: tuple) -> None:
    items, table = catalogue()
    build(index_pair, items)
    qs = np.random.default_rng(3).normal(size=(3, DIM)).astype(np.float32)
    answers = asyncio.run(index_pair[0].search(qs, 5, SearchFilter(), with_vectors=True))
    assert len(answers) == 3
    for q, hits in zip(qs, answers, strict=True):
        assert [h.item_id for h in hits] == brute_force(table, items, q, lambda _: True, 5)
        for h in hits:
            assert h.payload == {}
            np.testing.assert_allclose(h.vector, table[h.item_id - 1], rtol=1e-6)


def test_bad_queries_name_the_problem(index_pair: tuple) -> None:
    items, _ = catalogue()
    build(index_pair, items)
    q = np.ones(DIM, np.float32)
    with pytest.raises(IndexQueryError, match=r"must\[0\]\.field: 'colour' is not indexed"):
        search(index_pair, q, where=SearchFilter(must=(Match("colour", ("red",)),)))
    with pytest.raises(IndexQueryError, match="vector: expected shape"):
        search(index_pair, np.ones(DIM + 1, np.float32))


def test_unbuilt_index_is_unavailable(index_pair: tuple) -> None:
    with pytest.raises(IndexUnavailableError):
        asyncio.run(index_pair[0].info())


def test_rebuild_switches_and_a_failed_build_changes_nothing(index_pair: tuple) -> None:
    items, _ = catalogue()
    first = build(index_pair, items)
    q = np.ones(DIM, np.float32)
    before = search(index_pair, q)
    assert asyncio.run(index_pair[0].info()).generation == first
    assert asyncio.run(index_pair[0].info()).points == N

    def broken():
        yield from items[:50]
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError, match="source died"):
        build(index_pair, broken())
    assert asyncio.run(index_pair[0].info()).generation == first
    assert [h.item_id for h in search(index_pair, q)] == [h.item_id for h in before]
    bad = [*items[:10], IndexedItem(3, items[0].vector, {})]
    with pytest.raises(IndexQueryError, match="duplicate"):
        build(index_pair, bad)

    flipped, _ = catalogue(scale=-1.0)
    second = build(index_pair, flipped)
    assert asyncio.run(index_pair[0].info()).generation == second
    assert [h.item_id for h in search(index_pair, q)] != [h.item_id for h in before]


def test_edge_keeps_two_generations_and_no_partials(tmp_path: Path) -> None:
    from dpr_plugin.serving.qdrant_edge_index import EdgeIndexBuilder

    builder = EdgeIndexBuilder(tmp_path)
    items, _ = catalogue()
    names = [asyncio.run(builder.build(items, DIM, CATALOGUE_FIELDS)) for _ in range(4)]
    left = sorted(p.name for p in (tmp_path / "generations").iterdir())
    assert left == names[-2:]
    assert (tmp_path / "CURRENT").read_text().strip() == names[-1]


def test_edge_readers_never_see_an_empty_or_mixed_generation(tmp_path: Path) -> None:
    """Builds generations k = 1..6 whose vectors are all scaled by k while 3 threads query;
    every answer must be complete and come from one generation (all scores / k consistent)."""
    from dpr_plugin.serving.qdrant_edge_index import EdgeIndexBuilder, EdgeItemIndex

    base, table = catalogue()
    builder = EdgeIndexBuilder(tmp_path)
    asyncio.run(builder.build(base, DIM, CATALOGUE_FIELDS))
    index = EdgeItemIndex(tmp_path, reload_interval_s=0.0)
    q = np.ones(DIM, np.float32)
    expected = np.sort(table @ q)[::-1][:10]
    stop = threading.Event()
    errors: list[str] = []
    seen: set[float] = set()

    def reader() -> None:
        while not stop.is_set():
            try:
                hits = asyncio.run(index.search(q[None, :], 10, SearchFilter()))[0]
            except Exception as exc:  # reported below, not lost in the thread
                errors.append(repr(exc))
                continue
            if len(hits) != 10:
                errors.append(f"{len(hits)} hits")
                continue
            ratio = hits[0].score / expected[0]
            seen.add(round(ratio, 3))
            if not np.allclose([h.score for h in hits], expected * ratio, rtol=1e-4):
                errors.append(f"mixed answer at ratio {ratio}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for k in range(2, 7):
        scaled = [IndexedItem(i.item_id, i.vector * k, i.payload) for i in base]
        asyncio.run(builder.build(scaled, DIM, CATALOGUE_FIELDS))
    stop.set()
    for t in threads:
        t.join()
    asyncio.run(index.close())
    assert not errors, errors[:5]
    assert len(seen) >= 2, seen
