"""The item index on a Qdrant server or cluster, through ``qdrant-client`` (production path).

Each build is a collection ``<alias>_<generation>``; readers query the alias, which a build
switches in one ``update_collection_aliases`` call (delete the old link + create the new one,
atomic on the server), so a query sees the old or the new collection, never a partial one.
The previous collection is kept, older ones are deleted.

A reader learns the served generation (dim, indexed payload fields) from the collection the
alias names, cached per collection and looked up again at most every ``refresh_interval_s``.
The indexed fields come from the collection's ``payload_schema``; qdrant-client's local mode
(``:memory:``, used by the tests) keeps no payload indexes and reports an empty schema, so the
fields the build asked for, recorded in the collection's metadata, stand in there.

Search is exact or HNSW (``AnnSettings``). A collection is created without a graph (``m=0``:
the bulk upload builds nothing), filled, given its payload indexes, and only then, when it is
large enough, given its HNSW parameters; the build waits for the server's optimizers to finish
(collection status green) before the alias moves, so a served collection is always complete.
The metadata records ``index`` and ``hnsw_ef``, which readers search with. Shards, replication
factor, on-disk vectors and int8 quantization are settings of the collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import UnexpectedResponse

from dpr_plugin.errors import ConfigError, DprError, IndexQueryError, IndexUnavailableError
from dpr_plugin.serving.index.base import (
    AnnSettings,
    FieldKind,
    Hit,
    IndexedItem,
    IndexInfo,
    Match,
    Range,
    SearchFilter,
    check_filter_fields,
    check_model_version,
    check_query,
    to_hits,
    validate_item,
)
from dpr_plugin.serving.index.edge import (
    GENERATION_PATTERN,
    check_fields,
    new_generation_name,
)

_SCHEMAS: dict[FieldKind, qm.PayloadSchemaType] = {
    "keyword": qm.PayloadSchemaType.KEYWORD,
    "integer": qm.PayloadSchemaType.INTEGER,
    "float": qm.PayloadSchemaType.FLOAT,
}
_KINDS: dict[str, FieldKind] = {schema.value: kind for kind, schema in _SCHEMAS.items()}
_UPSERT_BATCH = 512
#: HTTP statuses that mean "the server is busy or slow", not "the request is wrong".
_RETRYABLE = {404, 408, 429}
OPTIMIZE_TIMEOUT_S = 3600.0
"""Longest a build waits for the server to finish building a collection's graph."""

T = TypeVar("T")


def _condition(cond: Match | Range) -> qm.FieldCondition:
    if isinstance(cond, Match):
        # MatchAny on a list payload matches when any element is one of the values
        return qm.FieldCondition(key=cond.field, match=qm.MatchAny(any=list(cond.values)))
    return qm.FieldCondition(key=cond.field, range=qm.Range(gte=cond.gte, lte=cond.lte))


def server_filter(where: SearchFilter, fields: Mapping[str, FieldKind]) -> qm.Filter | None:
    """The qdrant-client Filter of a SearchFilter; IndexQueryError for a field not indexed."""
    if where.is_empty():
        return None
    check_filter_fields(where, fields)
    must_not: list[qm.Condition] = [_condition(c) for c in where.must_not]
    if where.exclude_ids:
        must_not.append(qm.HasIdCondition(has_id=sorted(where.exclude_ids)))
    return qm.Filter(must=[_condition(c) for c in where.must] or None, must_not=must_not or None)


def _server_error(exc: Exception, where: str) -> DprError:
    """IndexQueryError when the server rejected the request as malformed, else (connection,
    timeout, server error, unknown collection) IndexUnavailableError."""
    if isinstance(exc, DprError):
        return exc
    if isinstance(exc, UnexpectedResponse):
        status = exc.status_code
        detail = exc.content.decode(errors="replace")[:300]
        if status == 404:
            return IndexUnavailableError(f"{where}: not found (run `dpr index`): {detail}")
        if status is not None and 400 <= status < 500 and status not in _RETRYABLE:
            return IndexQueryError(f"{where}: rejected ({status}): {detail}")
        return IndexUnavailableError(f"{where}: HTTP {status}: {detail}")
    if isinstance(exc, ValueError):  # local mode raises ValueError for what a server answers
        if "not found" in str(exc):
            return IndexUnavailableError(f"{where}: {exc} (run `dpr index`)")
        return IndexQueryError(f"{where}: {exc}")
    return IndexUnavailableError(f"{where}: {type(exc).__name__}: {exc}")


async def _guarded(call: Coroutine[Any, Any, T], where: str, deadline: float | None = None) -> T:
    """Awaits one client call, within ``deadline`` (``time.monotonic()``) if given, mapping its
    failures to the index's errors."""
    remaining = None if deadline is None else deadline - time.monotonic()
    if remaining is not None and remaining <= 0:
        call.close()
        raise IndexUnavailableError(f"{where}: no answer within the deadline")
    try:
        return await asyncio.wait_for(call, remaining)
    except TimeoutError as exc:
        raise IndexUnavailableError(f"{where}: no answer within the deadline") from exc
    except Exception as exc:
        raise _server_error(exc, where) from exc


class ServerIndexBuilder:
    """Builds ``<alias>_<generation>`` collections and switches the alias.

    Args:
        client: The client (shared with a ServerItemIndex if wanted).
        alias: The alias readers query; also the collections' name prefix.
        where: How to name the server in error messages (its URL).
        ann: Exact or HNSW search, the graph's parameters, and the collection's layout.
        progress: Called with the points written so far, every 100,000 points.
    """

    def __init__(
        self,
        client: AsyncQdrantClient,
        alias: str = "dpr_items",
        where: str = "",
        ann: AnnSettings | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.ann = ann or AnnSettings()
        self.progress = progress
        self.alias = alias
        self.where = f"qdrant {where or 'client'} alias {alias!r}"
        self._ours = re.compile(re.escape(alias) + "_(" + GENERATION_PATTERN.pattern + ")")

    async def build(
        self,
        items: Iterable[IndexedItem],
        dim: int,
        fields: Mapping[str, FieldKind],
        model_version: str = "",
    ) -> str:
        """Writes a complete collection, then points the alias at it in one call.

        Args:
            items: The points; ids >= 1 and unique, finite float vectors of shape [dim].
            dim: Embedding width.
            fields: Payload fields to index, with their kinds.
            model_version: The model version of the export the items come from (recorded in
                the collection's metadata).

        Returns:
            The new generation's name (the collection is ``<alias>_<generation>``).

        Raises:
            IndexQueryError: naming the item or field that is invalid.
            IndexUnavailableError: when the server cannot be reached.
            On any failure the alias is unchanged and the new collection is deleted.
        """
        if dim < 1:
            raise IndexQueryError(f"dim: must be >= 1, got {dim}")
        check_fields(fields)
        generation = new_generation_name()
        name = f"{self.alias}_{generation}"
        previous = await self._aliased()
        ann = self.ann
        await _guarded(
            self.client.create_collection(
                name,
                vectors_config=qm.VectorParams(
                    size=dim, distance=qm.Distance.DOT, on_disk=ann.on_disk or None
                ),
                shard_number=ann.shards,
                replication_factor=ann.replication_factor,
                # no graph while the points go in; set once the size is known
                hnsw_config=qm.HnswConfigDiff(m=0, full_scan_threshold=ann.full_scan_kb),
                quantization_config=(
                    qm.ScalarQuantization(
                        scalar=qm.ScalarQuantizationConfig(
                            type=qm.ScalarType.INT8, quantile=0.99, always_ram=True
                        )
                    )
                    if ann.quantization
                    else None
                ),
                metadata={
                    "dim": dim,
                    "fields": dict(fields),
                    "generation": generation,
                    "model_version": model_version,
                    "index": "exact",
                    "hnsw_ef": ann.hnsw_ef,
                    "quantization": ann.quantization,
                },
            ),
            self.where,
        )
        try:
            points = await self._fill(name, items, dim, fields)
            if ann.uses_hnsw(points):
                await self._build_graph(name, dim, fields, (generation, model_version))
            operations: list[qm.AliasOperations] = []
            if previous is not None:
                operations.append(
                    qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=self.alias))
                )
            operations.append(
                qm.CreateAliasOperation(
                    create_alias=qm.CreateAlias(collection_name=name, alias_name=self.alias)
                )
            )
            await _guarded(
                self.client.update_collection_aliases(change_aliases_operations=operations),
                self.where,
            )
        except BaseException:
            with contextlib.suppress(Exception):  # the first failure is the one to report
                await self.client.delete_collection(name)
            raise
        await self._collect(name, previous)
        return generation

    async def _build_graph(
        self, name: str, dim: int, fields: Mapping[str, FieldKind], record: tuple[str, str]
    ) -> None:
        """Gives the filled collection its HNSW parameters (payload links included, the
        payload indexes exist by now) and waits for the server to build the graph."""
        ann = self.ann
        generation, model_version = record
        await _guarded(
            self.client.update_collection(
                name,
                hnsw_config=qm.HnswConfigDiff(
                    m=ann.hnsw_m, ef_construct=ann.hnsw_ef_construct, payload_m=ann.hnsw_m
                ),
                optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=1),
                metadata={
                    "dim": dim,
                    "fields": dict(fields),
                    "generation": generation,
                    "model_version": model_version,
                    "index": "hnsw",
                    "hnsw_ef": ann.hnsw_ef,
                    "quantization": ann.quantization,
                },
            ),
            self.where,
        )
        deadline = time.monotonic() + OPTIMIZE_TIMEOUT_S
        while True:
            collection = await _guarded(self.client.get_collection(name), self.where)
            if collection.status == qm.CollectionStatus.GREEN:
                return
            if collection.status == qm.CollectionStatus.RED or time.monotonic() > deadline:
                raise IndexUnavailableError(
                    f"{self.where}: {name}: the graph was not built ({collection.status})"
                )
            await asyncio.sleep(0.5)

    async def _fill(
        self, name: str, items: Iterable[IndexedItem], dim: int, fields: Mapping[str, FieldKind]
    ) -> int:
        """Writes the points and the payload indexes; returns the point count."""
        seen: set[int] = set()
        batch: list[qm.PointStruct] = []
        for item in items:
            vector = validate_item(item, dim, seen)
            batch.append(
                qm.PointStruct(id=item.item_id, vector=vector.tolist(), payload=dict(item.payload))
            )
            if len(batch) == _UPSERT_BATCH:
                await _guarded(self.client.upsert(name, batch, wait=True), self.where)
                batch = []
            if self.progress is not None and len(seen) % 100_000 == 0:
                self.progress(len(seen))
        if batch:
            await _guarded(self.client.upsert(name, batch, wait=True), self.where)
        if not seen:
            raise IndexQueryError("items: nothing to index (an empty index serves no one)")
        for field, kind in fields.items():
            await _guarded(
                self.client.create_payload_index(name, field, _SCHEMAS[kind], wait=True),
                self.where,
            )
        return len(seen)

    async def _aliased(self) -> str | None:
        response = await _guarded(self.client.get_aliases(), self.where)
        for alias in response.aliases:
            if alias.alias_name == self.alias:
                return alias.collection_name
        return None

    async def _collect(self, served: str, previous: str | None) -> None:
        """Deletes this alias's collections older than ``served``, except ``previous``."""
        where = f"{self.where}: built {served}, cleanup"
        collections = (await _guarded(self.client.get_collections(), where)).collections
        for collection in collections:
            name = collection.name
            if self._ours.fullmatch(name) and name < served and name != previous:
                await _guarded(self.client.delete_collection(name), where)


class ServerItemIndex:
    """Queries the collection behind ``alias``.

    Args:
        client: The client; ``close`` closes it.
        alias: The alias a ServerIndexBuilder switches.
        where: How to name the server in error messages (its URL).
        refresh_interval_s: How often, at most, the alias is resolved again to learn the
            served generation's dim and indexed fields.
        model_version: The served export's model version: a generation recorded as built
            from another model is refused (IndexUnavailableError) instead of searched.
    """

    def __init__(
        self,
        client: AsyncQdrantClient,
        alias: str = "dpr_items",
        where: str = "",
        refresh_interval_s: float = 1.0,
        model_version: str = "",
    ) -> None:
        if refresh_interval_s < 0:
            raise ConfigError(f"refresh_interval_s: must be >= 0, got {refresh_interval_s}")
        self.client = client
        self.alias = alias
        self.where = f"qdrant {where or 'client'} alias {alias!r}"
        self.refresh_interval_s = refresh_interval_s
        self.model_version = model_version
        self.last_info: IndexInfo | None = None
        """The generation the latest search ran on."""
        self._generations: dict[str, IndexInfo] = {}  # collection name -> its info
        self._params: qm.SearchParams | None = None
        self._served: IndexInfo | None = None
        self._resolved_at = float("-inf")

    async def _collection(self) -> str:
        for alias in (await self.client.get_aliases()).aliases:
            if alias.alias_name == self.alias:
                return alias.collection_name
        raise IndexUnavailableError(f"{self.where}: no such alias (run `dpr index`)")

    async def _read_info(self) -> IndexInfo:
        """Resolves the alias; reads the collection's info unless cached for that name."""
        name = await self._collection()
        info = self._generations.get(name)
        if info is None:
            collection = await self.client.get_collection(name)
            vectors = collection.config.params.vectors
            if not isinstance(vectors, qm.VectorParams):
                raise IndexUnavailableError(f"{self.where}: {name} has named vectors, not dpr's")
            meta = collection.config.metadata or {}
            fields: dict[str, FieldKind] = {
                field: _KINDS[str(schema.data_type)]
                for field, schema in (collection.payload_schema or {}).items()
                if str(schema.data_type) in _KINDS
            } or dict(meta.get("fields", {}))
            generation = name.removeprefix(f"{self.alias}_")
            info = IndexInfo(
                collection.points_count or 0,
                vectors.size,
                generation,
                fields,
                str(meta.get("model_version", "")),
            )
            self._generations = {name: info}  # one generation served at a time
            self._params = _search_params(meta)
        check_model_version(info, self.model_version, self.where)
        self._served = info
        self._resolved_at = time.monotonic()
        return info

    async def _served_info(self, deadline: float | None) -> IndexInfo:
        if self._served is not None and (
            time.monotonic() - self._resolved_at < self.refresh_interval_s
        ):
            return self._served
        return await _guarded(self._read_info(), self.where, deadline)

    async def info(self) -> IndexInfo:
        """The collection the alias names now (resolved afresh).

        Raises:
            IndexUnavailableError: when unreachable, or no generation is built.
        """
        return await _guarded(self._read_info(), self.where)

    async def search(
        self,
        vectors: np.ndarray,
        limit: int,
        where: SearchFilter,
        payload_fields: Sequence[str] = (),
        with_vectors: bool = False,
        timeout_s: float | None = None,
    ) -> list[list[Hit]]:
        """Top ``limit`` by dot product per row, one filter for all rows, within timeout_s.

        ``timeout_s`` bounds the whole call (alias lookup included) with ``asyncio.wait_for``
        and is also sent to the server (rounded up to whole seconds, its unit).

        Raises:
            IndexQueryError: for a wrong vector shape, a filter on a field the served
                generation does not index (the message names it), or a rejected request.
            IndexUnavailableError: when unreachable, not built, or past ``timeout_s``.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        info = await self._served_info(deadline)
        self.last_info = info
        vectors = check_query(vectors, limit, info.dim)
        query_filter = server_filter(where, info.fields)
        requests = [
            qm.QueryRequest(
                query=row.tolist(),
                limit=limit,
                filter=query_filter,
                params=self._params,
                with_payload=list(payload_fields) if payload_fields else False,
                with_vector=with_vectors,
            )
            for row in vectors
        ]
        server_timeout = None if timeout_s is None else max(1, math.ceil(timeout_s))
        try:
            answers = await _guarded(
                self.client.query_batch_points(self.alias, requests, timeout=server_timeout),
                self.where,
                deadline,
            )
        except DprError:
            self._resolved_at = float("-inf")  # the alias may have moved: look again
            raise
        return [to_hits(answer.points, with_vectors) for answer in answers]

    async def close(self) -> None:
        """Closes the client (the builder sharing it too)."""
        await self.client.close()


def _search_params(meta: Mapping[str, Any]) -> qm.SearchParams | None:
    """How a collection is searched, from the metadata its build recorded."""
    if meta.get("index") != "hnsw":
        return None
    rescore = qm.QuantizationSearchParams(rescore=True, oversampling=2.0)
    return qm.SearchParams(
        hnsw_ef=int(meta.get("hnsw_ef", 128)),
        quantization=rescore if meta.get("quantization") else None,
    )


def connect_server_index(
    url: str,
    alias: str = "dpr_items",
    timeout_s: float = 1.0,
    ann: AnnSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[ServerItemIndex, ServerIndexBuilder]:
    """A reader and a builder sharing one client.

    Args:
        url: ``http(s)://host:port`` for a server, or ``:memory:`` for qdrant-client's local
            mode (in-process, for tests).
        alias: The alias served and switched.
        timeout_s: The client's own per-request timeout (whole seconds, rounded up).
        ann, progress: The builder's; see ServerIndexBuilder.

    Raises:
        ConfigError: for a URL of another form.
    """
    if url == ":memory:":
        client = AsyncQdrantClient(location=":memory:")
    elif re.fullmatch(r"https?://[^/\s]+(:\d+)?/?", url):
        client = AsyncQdrantClient(url=url, timeout=max(1, math.ceil(timeout_s)))
    else:
        raise ConfigError(f"qdrant_url: expected http(s)://host:port or :memory:, got {url!r}")
    return ServerItemIndex(client, alias, url), ServerIndexBuilder(
        client, alias, url, ann, progress
    )
