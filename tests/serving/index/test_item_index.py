"""One set of retrieval cases, run on both index implementations: the embedded Qdrant engine
and qdrant-client (local mode, the server code path)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dpr_plugin.errors import ConfigError, IndexQueryError, IndexUnavailableError
from dpr_plugin.serving.index.base import (
    CATALOGUE_FIELDS,
    AnnSettings,
    Hit,
    IndexBuilder,
    IndexedItem,
    ItemIndex,
    Match,
    Range,
    SearchFilter,
)

pytestmark = pytest.mark.filterwarnings(
    # local mode (the server path's stand-in) says so at every create_payload_index
    "ignore:Payload indexes have no effect in the local Qdrant:UserWarning",
    # the client's version check against a server that is down on purpose
    "ignore:Failed to obtain server version:UserWarning",
    # local mode has no graph: the HNSW cases' search parameters are accepted and ignored
    "ignore:Local mode performs exact:UserWarning",
)

DIM = 8
N = 200
TAGS = ("A", "B", "C")


def catalogue(scale: float = 1.0, seed: int = 0) -> tuple[list[IndexedItem], np.ndarray]:
    """N items; every 5th carries a second tag, so list-field matching is exercised."""
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
                # a catalogue's own fields; every 7th item lacks them
                **({} if i % 7 == 0 else {"price": 5.25 + (i * 7) % 50, "brand": f"b{i % 4}"}),
            },
        )
        for i in range(N)
    ]
    return items, table


def brute_force(
    table: np.ndarray, items: list[IndexedItem], q: np.ndarray, keep: Callable, k: int
) -> list[int]:
    scores = table @ q
    order = [int(i) for i in np.argsort(-scores) if keep(items[int(i)])]
    return [i + 1 for i in order[:k]]


@dataclass
class Backend:
    """An index, its builder, and what generations are stored (to check leftovers)."""

    kind: str
    index: ItemIndex
    builder: IndexBuilder
    stored: Callable[[], Awaitable[list[str]]]


HNSW = AnnSettings(ann="hnsw", full_scan_kb=1, hnsw_ef=256)
"""A graph even for 200 points, searched through the graph (a full-scan threshold of 1 KB) with
ef above the point count, so its answers must equal the exact ones."""


def edge_backend(root: Path, ann: AnnSettings | None = None) -> Backend:
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, EdgeItemIndex

    async def stored() -> list[str]:
        folder = root / "generations"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    return Backend(
        "edge", EdgeItemIndex(root, reload_interval_s=0.0), EdgeIndexBuilder(root, ann), stored
    )


def server_backend(ann: AnnSettings | None = None) -> Backend:
    from qdrant_client import AsyncQdrantClient

    from dpr_plugin.serving.index.server import ServerIndexBuilder, ServerItemIndex

    client = AsyncQdrantClient(location=":memory:")

    async def stored() -> list[str]:
        names = [c.name for c in (await client.get_collections()).collections]
        return sorted(n.removeprefix("test_items_") for n in names)

    return Backend(
        "server",
        ServerItemIndex(client, "test_items", ":memory:", refresh_interval_s=0.0),
        ServerIndexBuilder(client, "test_items", ":memory:", ann),
        stored,
    )


@pytest.fixture(params=["edge", "server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh, unbuilt index of each kind; the reader exists before any build."""
    made = edge_backend(tmp_path) if request.param == "edge" else server_backend()
    yield made
    asyncio.run(made.index.close())


FIELDS = {**CATALOGUE_FIELDS, "price": "float", "brand": "keyword"}
"""What a catalogue that declares its own fields is indexed with."""


def build(b: Backend, items: list[IndexedItem]) -> str:
    return asyncio.run(b.builder.build(items, DIM, FIELDS))


@pytest.fixture(scope="module", params=["edge", "edge-hnsw", "server", "server-hnsw"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Backend, list[IndexedItem], np.ndarray]]:
    """An index of each kind holding catalogue(), shared by the cases that only read; the
    ``-hnsw`` ones searched through an HNSW graph (the server's local mode, which has no
    graph, still gets the HNSW collection settings and search parameters)."""
    root = tmp_path_factory.mktemp("built")
    ann = HNSW if request.param.endswith("-hnsw") else None
    made = edge_backend(root, ann) if request.param.startswith("edge") else server_backend(ann)
    items, table = catalogue()
    build(made, items)
    yield made, items, table
    asyncio.run(made.index.close())


def search(
    b: Backend, q: np.ndarray, k: int = 10, where: SearchFilter | None = None, **kw
) -> list[Hit]:
    return asyncio.run(b.index.search(q[None, :], k, where or SearchFilter(), **kw))[0]


def ids(hits: list[Hit]) -> list[int]:
    return [h.item_id for h in hits]


def test_top_k_is_the_exact_dot_product_ranking(built: tuple) -> None:
    backend, items, table = built
    q = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    hits = search(backend, q, 15)
    assert ids(hits) == brute_force(table, items, q, lambda _: True, 15)
    expected = np.sort(table @ q)[::-1][:15]
    np.testing.assert_allclose([h.score for h in hits], expected, rtol=1e-5)


CASES: dict[str, tuple[SearchFilter, Callable[[IndexedItem], bool]]] = {
    "must tag (list field: any element)": (
        SearchFilter(must=(Match("tags", ("B",)),)),
        lambda i: "B" in i.payload["tags"],
    ),
    "must one of two tags": (
        SearchFilter(must=(Match("tags", ("A", "C")),)),
        lambda i: bool({"A", "C"} & set(i.payload["tags"])),
    ),
    "must_not tag": (
        SearchFilter(must_not=(Match("tags", ("A",)),)),
        lambda i: "A" not in i.payload["tags"],
    ),
    "must item_id": (
        SearchFilter(must=(Match("item_id", ("m3", "m77", "m150")),)),
        lambda i: i.payload["item_id"] in ("m3", "m77", "m150"),
    ),
    "must_not item_id": (
        SearchFilter(must_not=(Match("item_id", ("m1", "m2", "m3")),)),
        lambda i: i.payload["item_id"] not in ("m1", "m2", "m3"),
    ),
    "range on year": (
        SearchFilter(must=(Range("year", gte=1990, lte=1999),)),
        lambda i: 1990 <= i.payload["year"] <= 1999,
    ),
    "open range": (
        SearchFilter(must=(Range("year", gte=2010),)),
        lambda i: i.payload["year"] >= 2010,
    ),
    "match on the integer year": (
        SearchFilter(must=(Match("year", (1985, 2001)),)),
        lambda i: i.payload["year"] in (1985, 2001),
    ),
    "range on a declared float field": (
        SearchFilter(must=(Range("price", gte=10.25, lte=30.25),)),
        lambda i: 10.25 <= i.payload.get("price", -1) <= 30.25,
    ),
    "must_not a float range (items without the field pass)": (
        SearchFilter(must_not=(Range("price", gte=20),)),
        lambda i: i.payload.get("price", 0) < 20,
    ),
    "must a declared keyword": (
        SearchFilter(must=(Match("brand", ("b1", "b3")),)),
        lambda i: i.payload.get("brand") in ("b1", "b3"),
    ),
    "exclude_ids": (
        SearchFilter(exclude_ids=frozenset(range(1, 120))),
        lambda i: i.item_id >= 120,
    ),
    "all combined": (
        SearchFilter(
            must=(Match("tags", ("B",)), Range("year", gte=1990, lte=2005)),
            must_not=(Match("tags", ("C",)), Match("item_id", ("m5", "m8")), Range("year", 1999)),
            exclude_ids=frozenset({2, 11, 14}),
        ),
        lambda i: (
            "B" in i.payload["tags"]
            and 1990 <= i.payload["year"] <= 2005
            and "C" not in i.payload["tags"]
            and i.payload["item_id"] not in ("m5", "m8")
            and i.payload["year"] < 1999
            and i.item_id not in (2, 11, 14)
        ),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_filters_match_a_brute_force_filter(built: tuple, case: str) -> None:
    backend, items, table = built
    where, keep = CASES[case]
    assert sum(keep(i) for i in items) >= 3, "the case must keep a few items"
    for seed in (2, 3):
        q = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
        hits = search(backend, q, 10, where, payload_fields=("tags", "year", "item_id"))
        assert ids(hits) == brute_force(table, items, q, keep, 10)
        assert all(keep(items[h.item_id - 1]) for h in hits)


def test_filter_keeping_nothing_answers_empty(built: tuple) -> None:
    backend, _, _ = built
    where = SearchFilter(must=(Match("tags", ("none-such",)),))
    assert search(backend, np.ones(DIM, np.float32), 5, where) == []


def test_batches_payload_selection_and_vectors(built: tuple) -> None:
    backend, items, table = built
    qs = np.random.default_rng(3).normal(size=(3, DIM)).astype(np.float32)
    answers = asyncio.run(backend.index.search(qs, 5, SearchFilter(), with_vectors=True))
    assert len(answers) == 3
    for q, hits in zip(qs, answers, strict=True):
        assert ids(hits) == brute_force(table, items, q, lambda _: True, 5)
        for h in hits:
            assert h.payload == {}
            assert h.vector is not None and h.vector.dtype == np.float32
            np.testing.assert_allclose(h.vector, table[h.item_id - 1], rtol=1e-6)
    hits = search(backend, qs[0], 4, payload_fields=("title", "tags"))
    for h in hits:
        assert h.vector is None
        assert h.payload == {k: items[h.item_id - 1].payload[k] for k in ("title", "tags")}


def test_bad_queries_name_the_problem(built: tuple) -> None:
    backend, _, _ = built
    q = np.ones(DIM, np.float32)
    bad = {
        r"must\[0\]\.field: 'colour' is not indexed": SearchFilter(must=(Match("colour", ("x",)),)),
        r"must_not\[1\]\.field: 'title' is not indexed": SearchFilter(
            must_not=(Match("tags", ("A",)), Match("title", ("Movie 1",)))
        ),
        r"must\[0\]: Range on keyword field 'tags'": SearchFilter(must=(Range("tags", 1),)),
        r"must\[0\]\.values\[0\]: integer field 'year' takes int": SearchFilter(
            must=(Match("year", ("1995",)),)
        ),
        r"must\[0\]\.values\[1\]: keyword field 'item_id' takes str": SearchFilter(
            must=(Match("item_id", ("m1", 1)),)
        ),
    }
    for message, where in bad.items():
        with pytest.raises(IndexQueryError, match=message):
            search(backend, q, where=where)
    with pytest.raises(IndexQueryError, match=r"vector: expected shape \[B, 8\], got \[1, 9\]"):
        search(backend, np.ones(DIM + 1, np.float32))
    with pytest.raises(IndexQueryError, match="vector: must be finite"):
        search(backend, np.full(DIM, np.nan, np.float32))
    with pytest.raises(IndexQueryError, match="limit: must be >= 1"):
        search(backend, q, 0)


def test_unbuilt_index_is_unavailable(backend: Backend) -> None:
    with pytest.raises(IndexUnavailableError):
        asyncio.run(backend.index.info())
    with pytest.raises(IndexUnavailableError):
        search(backend, np.ones(DIM, np.float32))


def test_rebuild_switches_and_failed_builds_change_nothing(backend: Backend) -> None:
    items, _ = catalogue()
    first = build(backend, items)
    q = np.ones(DIM, np.float32)
    before = ids(search(backend, q))
    assert asyncio.run(backend.index.info()).generation == first

    def broken() -> Iterator[IndexedItem]:
        yield from items[:150]
        raise RuntimeError("source died")

    failures: list[tuple[type[Exception], str, object]] = [
        (RuntimeError, "source died", broken()),
        (IndexQueryError, r"items\[id=3\]\.item_id: duplicate", [*items[:10], items[2]]),
        (
            IndexQueryError,
            r"items\[id=7\]\.vector: expected shape \[8\], got \[3\]",
            [*items[:6], IndexedItem(7, np.ones(3, np.float32), {})],
        ),
        (
            IndexQueryError,
            r"items\[id=5\]\.vector: must be finite",
            [*items[:4], IndexedItem(5, np.full(DIM, np.inf), {})],
        ),
        (
            IndexQueryError,
            r"items\[id=0\]\.item_id: must be an integer >= 1",
            [IndexedItem(0, items[0].vector, {})],
        ),
        (IndexQueryError, "items: nothing to index", []),
    ]
    for error, message, source in failures:
        with pytest.raises(error, match=message):
            asyncio.run(backend.builder.build(source, DIM, CATALOGUE_FIELDS))  # type: ignore[arg-type]
        assert asyncio.run(backend.stored()) == [first], "no partial leftovers"
        assert asyncio.run(backend.index.info()).generation == first
        assert ids(search(backend, q)) == before
    with pytest.raises(IndexQueryError, match=r"fields\['tags'\]: unknown kind 'text'"):
        asyncio.run(backend.builder.build(items, DIM, {"tags": "text"}))  # type: ignore[dict-item]

    flipped, table = catalogue(scale=-1.0)
    second = build(backend, flipped)
    assert second > first
    assert asyncio.run(backend.index.info()).generation == second
    assert ids(search(backend, q)) == brute_force(table, flipped, q, lambda _: True, 10)
    assert ids(search(backend, q)) != before


def test_old_generations_are_collected_keeping_two(backend: Backend) -> None:
    items, _ = catalogue()
    names = [build(backend, items) for _ in range(4)]
    assert names == sorted(names) and len(set(names)) == 4
    assert asyncio.run(backend.stored()) == names[-2:]
    assert asyncio.run(backend.index.info()).generation == names[-1]


def test_info_describes_the_served_generation_until_closed(backend: Backend) -> None:
    items, _ = catalogue()
    generation = build(backend, items)
    info = asyncio.run(backend.index.info())
    assert (info.points, info.dim, info.generation) == (N, DIM, generation)
    assert info.fields == FIELDS
    asyncio.run(backend.index.close())
    with pytest.raises(IndexUnavailableError):
        search(backend, np.ones(DIM, np.float32))


# --- embedded engine only -------------------------------------------------------------------


def test_edge_switches_atomically_and_readers_may_share_a_generation(tmp_path: Path) -> None:
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, EdgeItemIndex

    items, _ = catalogue()
    builder = EdgeIndexBuilder(tmp_path)
    name = asyncio.run(builder.build(items, DIM, CATALOGUE_FIELDS))
    assert (tmp_path / "CURRENT").read_text() == f"{name}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CURRENT", "generations"]
    # two readers (as two processes would) open the same generation: no WAL lock is held
    first, second = EdgeItemIndex(tmp_path), EdgeItemIndex(tmp_path)
    q = np.ones(DIM, np.float32)
    a = asyncio.run(first.search(q[None, :], 5, SearchFilter()))
    b = asyncio.run(second.search(q[None, :], 5, SearchFilter()))
    assert ids(a[0]) == ids(b[0])
    for index in (first, second):
        asyncio.run(index.close())
    with pytest.raises(ConfigError, match="reload_interval_s"):
        EdgeItemIndex(tmp_path, reload_interval_s=-1)


_CHILD_SEARCH = """
import asyncio, sys
import numpy as np
from dpr_plugin.serving.index.base import SearchFilter
from dpr_plugin.serving.index.edge import EdgeItemIndex
index = EdgeItemIndex(sys.argv[1])
hits = asyncio.run(index.search(np.ones((1, int(sys.argv[2])), np.float32), 5, SearchFilter()))
print(",".join(str(h.item_id) for h in hits[0]))
asyncio.run(index.close())
"""


def test_edge_index_is_shared_with_another_process_and_rebuilt_under_it(
    tmp_path: Path,
) -> None:
    """A second process (another replica, `dpr index`) reads the generation this one serves,
    and a rebuild from outside lands while both hold the index."""
    import subprocess
    import sys

    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, EdgeItemIndex

    items, _ = catalogue()
    asyncio.run(EdgeIndexBuilder(tmp_path).build(items, DIM, CATALOGUE_FIELDS))
    served = EdgeItemIndex(tmp_path, reload_interval_s=0)
    q = np.ones((1, DIM), np.float32)

    def child() -> str:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD_SEARCH, str(tmp_path), str(DIM)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    def ours() -> str:
        hits = asyncio.run(served.search(q, 5, SearchFilter()))[0]
        return ",".join(str(h.item_id) for h in hits)

    try:
        before = ours()
        assert child() == before
        rescaled, _ = catalogue(scale=-1.0)  # a rebuild that reverses the ranking
        asyncio.run(EdgeIndexBuilder(tmp_path).build(rescaled, DIM, CATALOGUE_FIELDS))
        after = ours()
        assert after != before
        assert child() == after
    finally:
        asyncio.run(served.close())


def test_edge_reload_waits_for_the_interval(tmp_path: Path) -> None:
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, EdgeItemIndex

    items, _ = catalogue()
    builder = EdgeIndexBuilder(tmp_path)
    first = asyncio.run(builder.build(items, DIM, CATALOGUE_FIELDS))
    index = EdgeItemIndex(tmp_path, reload_interval_s=3600)
    assert asyncio.run(index.info()).generation == first
    asyncio.run(builder.build(items, DIM, CATALOGUE_FIELDS))
    assert asyncio.run(index.info()).generation == first  # not looked at CURRENT again yet
    asyncio.run(index.close())


def test_edge_keeps_serving_when_a_new_generation_cannot_be_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, EdgeItemIndex

    index = EdgeItemIndex(tmp_path, reload_interval_s=0.0)
    for _ in range(2):  # a failed first open is retried at once, not after the interval
        with pytest.raises(IndexUnavailableError, match="no generation built yet"):
            asyncio.run(index.info())
    items, table = catalogue()
    first = asyncio.run(EdgeIndexBuilder(tmp_path).build(items, DIM, CATALOGUE_FIELDS))
    q = np.ones(DIM, np.float32)
    assert ids(asyncio.run(index.search(q[None, :], 5, SearchFilter()))[0]) == brute_force(
        table, items, q, lambda _: True, 5
    )
    (tmp_path / "CURRENT").write_text("00000000000000000000-bogus\n")
    hits = asyncio.run(index.search(q[None, :], 5, SearchFilter()))[0]
    assert ids(hits) == brute_force(table, items, q, lambda _: True, 5)
    assert asyncio.run(index.info()).generation == first
    assert "cannot open generation '00000000000000000000-bogus'" in caplog.text
    asyncio.run(index.close())


def test_edge_readers_never_see_an_empty_or_mixed_generation(tmp_path: Path) -> None:
    """Builds generations k = 1..5, each with every vector scaled by k, while 3 threads run
    batches of concurrent asyncio searches; every answer must be complete and come from one
    generation (all its scores k times generation 1's), and the readers must see several."""
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, EdgeItemIndex

    base, table = catalogue()
    builder = EdgeIndexBuilder(tmp_path)
    asyncio.run(builder.build(base, DIM, CATALOGUE_FIELDS))
    index = EdgeItemIndex(tmp_path, reload_interval_s=0.0)
    qs = np.random.default_rng(5).normal(size=(2, DIM)).astype(np.float32)
    expected = np.sort(table @ qs.T, axis=0)[::-1][:10].T  # [2, 10], generation 1
    stop = threading.Event()
    errors: list[str] = []
    seen: set[int] = set()

    def check(answer: list[list[Hit]]) -> None:
        if [len(hits) for hits in answer] != [10, 10]:
            errors.append(f"incomplete answer: {[len(h) for h in answer]}")
            return
        scores = np.array([[h.score for h in hits] for hits in answer])
        k = round(scores[0, 0] / expected[0, 0])
        seen.add(k)
        if not np.allclose(scores, expected * k, rtol=1e-4):
            errors.append(f"mixed answer at k={k}: {scores / expected}")

    async def several() -> None:
        answers = await asyncio.gather(
            *(index.search(qs, 10, SearchFilter(), timeout_s=1.0) for _ in range(3))
        )
        for answer in answers:
            check(answer)

    def reader() -> None:
        while not stop.is_set():
            try:
                asyncio.run(several())
            except Exception as exc:  # reported below, not lost in the thread
                errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for k in range(2, 6):
            scaled = [IndexedItem(i.item_id, i.vector * k, i.payload) for i in base]
            asyncio.run(builder.build(scaled, DIM, CATALOGUE_FIELDS))
    finally:
        stop.set()
        for t in threads:
            t.join()
    asyncio.run(index.close())
    assert not errors, errors[:5]
    assert len(seen) >= 2, seen
    assert len(list((tmp_path / "generations").iterdir())) == 2


def test_edge_collects_dead_partials_only_when_stale(tmp_path: Path) -> None:
    import os
    import time

    from dpr_plugin.serving.index.edge import STALE_PARTIAL_S, EdgeIndexBuilder

    generations = tmp_path / "generations"
    dead, live = generations / ".partial-dead", generations / ".partial-live"
    for folder in (dead, live):
        folder.mkdir(parents=True)
    old = time.time() - STALE_PARTIAL_S - 60
    os.utime(dead, (old, old))
    items, _ = catalogue()
    name = asyncio.run(EdgeIndexBuilder(tmp_path).build(items, DIM, CATALOGUE_FIELDS))
    assert sorted(p.name for p in generations.iterdir()) == [".partial-live", name]


# --- server path only -------------------------------------------------------------------


def test_server_timeouts_and_unreachable_servers_are_unavailable() -> None:
    from dpr_plugin.serving.index.server import connect_server_index

    index, builder = connect_server_index(":memory:", "slow_items", 1.0)
    items, _ = catalogue()
    asyncio.run(builder.build(items, DIM, CATALOGUE_FIELDS))

    async def slow(*args: object, **kwargs: object) -> object:
        await asyncio.sleep(5)
        raise AssertionError("not cancelled")

    index.client.query_batch_points = slow  # type: ignore[method-assign]
    q = np.ones((1, DIM), np.float32)
    deadline = r"qdrant :memory: alias 'slow_items': no answer within the deadline"
    with pytest.raises(IndexUnavailableError, match=deadline):
        asyncio.run(index.search(q, 5, SearchFilter(), timeout_s=0.05))
    asyncio.run(index.close())

    down, down_builder = connect_server_index("http://127.0.0.1:9", "dpr_items", 1.0)
    where = r"qdrant http://127\.0\.0\.1:9 alias 'dpr_items'"
    with pytest.raises(IndexUnavailableError, match=where):
        asyncio.run(down.search(q, 5, SearchFilter(), timeout_s=2.0))
    with pytest.raises(IndexUnavailableError, match=where):
        asyncio.run(down_builder.build(items, DIM, CATALOGUE_FIELDS))
    asyncio.run(down.close())
    with pytest.raises(ConfigError, match="qdrant_url"):
        connect_server_index("localhost:6333", "dpr_items", 1.0)


def test_server_aliases_share_a_client_without_touching_each_other() -> None:
    """An alias that extends another's name ("items" / "items_v2") keeps its collections."""
    from qdrant_client import AsyncQdrantClient

    from dpr_plugin.serving.index.server import ServerIndexBuilder, ServerItemIndex

    client = AsyncQdrantClient(location=":memory:")
    items, _ = catalogue()
    flipped, table = catalogue(scale=-1.0)
    other = asyncio.run(ServerIndexBuilder(client, "items_v2").build(flipped, DIM, {}))
    mine = [
        asyncio.run(ServerIndexBuilder(client, "items").build(items, DIM, CATALOGUE_FIELDS))
        for _ in range(3)
    ]
    names = sorted(c.name for c in asyncio.run(client.get_collections()).collections)
    assert names == sorted([f"items_{mine[1]}", f"items_{mine[2]}", f"items_v2_{other}"])
    q = np.ones(DIM, np.float32)
    hits = asyncio.run(ServerItemIndex(client, "items_v2").search(q[None, :], 5, SearchFilter()))
    assert ids(hits[0]) == brute_force(table, flipped, q, lambda _: True, 5)
    asyncio.run(client.close())


def test_edge_auto_builds_a_graph_from_exact_below_points(tmp_path: Path) -> None:
    import json

    items, table = catalogue()
    for exact_below, expected in ((100, "hnsw"), (1000, "exact")):
        root = tmp_path / expected
        made = edge_backend(root, AnnSettings(exact_below=exact_below, full_scan_kb=1))
        name = build(made, items)
        meta = json.loads((root / "generations" / name / "meta.json").read_text())
        assert meta["index"] == expected and meta["points"] == N
        assert meta["build_s"] >= 0 and meta["peak_rss_mb"] > 0
        q = table[7]
        assert ids(search(made, q)) == brute_force(table, items, q, lambda _: True, 10)
        asyncio.run(made.index.close())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ann", "fast", r"^ann: one of \('auto', 'exact', 'hnsw'\), got 'fast'"),
        ("hnsw_ef", 0, r"^hnsw_ef: must be >= 1, got 0"),
        ("exact_below", -5, r"^exact_below: must be >= 1"),
    ],
)
def test_ann_settings_name_the_bad_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AnnSettings(**{field: value})


def test_a_generation_built_from_another_model_is_never_searched(backend: Backend) -> None:
    """The reader of model A refuses a generation recorded as built from model B: at start
    (unavailable), and, on the embedded engine, after a rebuild from the wrong export (the
    previous generation stays served)."""
    items, table = catalogue()
    backend.index.model_version = "model-a"  # type: ignore[attr-defined]
    asyncio.run(backend.builder.build(items, DIM, FIELDS, "model-b"))
    with pytest.raises(IndexUnavailableError, match="built from model model-b, the service"):
        search(backend, table[0])
    served = asyncio.run(backend.builder.build(items, DIM, FIELDS, "model-a"))
    assert asyncio.run(backend.index.info()).model_version == "model-a"
    assert search(backend, table[0])[0].item_id == brute_force(table, items, table[0], bool, 1)[0]
    if backend.kind == "edge":
        asyncio.run(backend.builder.build(items, DIM, FIELDS, "model-b"))
        assert asyncio.run(backend.index.info()).generation == served
