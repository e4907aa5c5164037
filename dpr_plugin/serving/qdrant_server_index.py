"""The item index on a Qdrant server or cluster, through ``qdrant-client`` (production path).

Each build is a collection ``<alias>_<generation>``; the served one is reached through the
alias, switched in one ``update_collection_aliases`` call (delete + create, atomic on the
server), so readers see the old or the new collection, never a partial one. The collection's
metadata records the dim and the indexed payload fields. Tested against qdrant-client's local
mode, which speaks the same API (it ignores payload indexes but filters the same way).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

from dpr_plugin.serving.item_index import (
    FieldKind,
    Hit,
    IndexedItem,
    IndexInfo,
    IndexQueryError,
    IndexUnavailableError,
    Match,
    Range,
    SearchFilter,
    check_filter_fields,
    check_query,
    to_hits,
    validate_item,
)
from dpr_plugin.serving.qdrant_edge_index import KEEP_GENERATIONS, new_generation_name

_SCHEMAS = {
    "keyword": qm.PayloadSchemaType.KEYWORD,
    "integer": qm.PayloadSchemaType.INTEGER,
    "float": qm.PayloadSchemaType.FLOAT,
}
_UPSERT_BATCH = 512
INFO_TTL_S = 1.0


def _condition(cond: Match | Range) -> qm.FieldCondition:
    if isinstance(cond, Match):
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


class ServerIndexBuilder:
    """Builds ``<alias>_<generation>`` collections and switches the alias."""

    def __init__(self, client: AsyncQdrantClient, alias: str = "dpr_items") -> None:
        self.client = client
        self.alias = alias

    async def build(
        self, items: Iterable[IndexedItem], dim: int, fields: Mapping[str, FieldKind]
    ) -> str:
        """Writes a complete collection, then points the alias at it in one call."""
        for field, kind in fields.items():
            if kind not in _SCHEMAS:
                raise IndexQueryError(f"fields[{field!r}]: unknown kind {kind!r}")
        generation = new_generation_name()
        name = f"{self.alias}_{generation}"
        await self.client.create_collection(
            name,
            vectors_config=qm.VectorParams(size=dim, distance=qm.Distance.DOT),
            metadata={"dim": dim, "fields": dict(fields), "generation": generation},
        )
        try:
            seen: set[int] = set()
            batch: list[qm.PointStruct] = []
            for item in items:
                validate_item(item, dim, seen)
                batch.append(
                    qm.PointStruct(
                        id=item.item_id, vector=item.vector.tolist(), payload=dict(item.payload)
                    )
                )
                if len(batch) == _UPSERT_BATCH:
                    await self.client.upsert(name, batch, wait=True)
                    batch = []
            if batch:
                await self.client.upsert(name, batch, wait=True)
            for field, kind in fields.items():
                await self.client.create_payload_index(name, field, _SCHEMAS[kind], wait=True)
            previous = await self._aliased()
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
            await self.client.update_collection_aliases(change_aliases_operations=operations)
        except BaseException:
            await self.client.delete_collection(name)
            raise
        await self._collect()
        return generation

    async def _aliased(self) -> str | None:
        aliases = await self.client.get_aliases()
        for alias in aliases.aliases:
            if alias.alias_name == self.alias:
                return alias.collection_name
        return None

    async def _collect(self) -> None:
        served = await self._aliased()
        collections = (await self.client.get_collections()).collections
        ours = sorted(c.name for c in collections if c.name.startswith(f"{self.alias}_"))
        for old in ours[:-KEEP_GENERATIONS]:
            if old != served:
                await self.client.delete_collection(old)


class ServerItemIndex:
    """Queries the collection behind ``alias``."""

    def __init__(
        self, client: AsyncQdrantClient, alias: str = "dpr_items", where: str = ""
    ) -> None:
        self.client = client
        self.alias = alias
        self.where = where or alias
        self._info: IndexInfo | None = None
        self._info_at = 0.0

    async def _cached_info(self, timeout_s: float | None) -> IndexInfo:
        """info(), re-read at most once a second (an alias switch shows within 1 s)."""
        now = time.monotonic()
        if self._info is None or now - self._info_at > INFO_TTL_S:
            self._info = await asyncio.wait_for(self.info(), timeout_s)
            self._info_at = now
        return self._info

    def _down(self, exc: BaseException) -> IndexUnavailableError:
        return IndexUnavailableError(f"qdrant {self.where}: {type(exc).__name__}: {exc}")

    async def info(self) -> IndexInfo:
        """The collection the alias points at now."""
        try:
            collection = await self.client.get_collection(self.alias)
        except (ValueError, KeyError) as exc:  # local mode: unknown collection
            raise IndexUnavailableError(
                f"qdrant {self.where}: alias {self.alias!r} not found (run `dpr index`)"
            ) from exc
        except Exception as exc:  # connection errors of httpx/grpc, server errors
            raise self._down(exc) from exc
        meta = collection.config.metadata or {}
        if "generation" not in meta:
            raise IndexUnavailableError(f"qdrant {self.where}: {self.alias!r} not built by dpr")
        return IndexInfo(
            collection.points_count or 0, int(meta["dim"]), meta["generation"], meta["fields"]
        )

    async def search(
        self,
        vectors: np.ndarray,
        limit: int,
        where: SearchFilter,
        payload_fields: Sequence[str] = (),
        with_vectors: bool = False,
        timeout_s: float | None = None,
    ) -> list[list[Hit]]:
        """Top ``limit`` by dot product per row, one filter for all rows, within timeout_s."""
        try:
            info = await self._cached_info(timeout_s)
        except TimeoutError as exc:
            raise IndexUnavailableError(f"qdrant {self.where}: no answer in {timeout_s}s") from exc
        vectors = check_query(vectors, limit, info.dim)
        query_filter = server_filter(where, info.fields)
        requests = [
            qm.QueryRequest(
                query=row.tolist(),
                limit=limit,
                filter=query_filter,
                with_payload=list(payload_fields) if payload_fields else False,
                with_vector=with_vectors,
            )
            for row in vectors
        ]
        try:
            answers = await asyncio.wait_for(
                self.client.query_batch_points(self.alias, requests), timeout_s
            )
        except TimeoutError as exc:
            raise IndexUnavailableError(
                f"qdrant {self.where}: no answer within {timeout_s:.3f}s"
            ) from exc
        except Exception as exc:
            raise self._down(exc) from exc
        return [to_hits(answer.points, with_vectors) for answer in answers]

    async def close(self) -> None:
        """Closes the client."""
        await self.client.close()


def connect_server_index(
    url: str, alias: str = "dpr_items", timeout_s: float = 1.0
) -> tuple[ServerItemIndex, ServerIndexBuilder]:
    """A reader and a builder sharing one client: ``http(s)://host:port`` or ``:memory:``."""
    if url == ":memory:":
        client = AsyncQdrantClient(location=":memory:")
    else:
        client = AsyncQdrantClient(url=url, timeout=max(1, int(np.ceil(timeout_s))))
    return ServerItemIndex(client, alias, url), ServerIndexBuilder(client, alias)
