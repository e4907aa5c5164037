"""The one place an item index (and its builder) is chosen: a Qdrant server when a URL is
given, else Qdrant's engine embedded in a directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dpr_plugin.serving.index.base import AnnSettings, IndexBuilder, ItemIndex


def open_index(
    qdrant_url: str,
    qdrant_alias: str,
    index_dir: Path,
    timeout_s: float,
    model_version: str = "",
) -> ItemIndex:
    """The reader of the index the settings name (nothing is contacted yet).

    Args:
        qdrant_url: ``http(s)://host:port`` of a Qdrant server (``:memory:`` for tests), or
            empty for the embedded engine.
        qdrant_alias: Collection alias a server index is served under.
        index_dir: The embedded index's directory.
        timeout_s: Longest a server search may take.
        model_version: The served export's; a generation built from another model is never
            searched.
    """
    if qdrant_url:
        from dpr_plugin.serving.index.server import connect_server_index

        index, _ = connect_server_index(qdrant_url, qdrant_alias, timeout_s)
        index.model_version = model_version
        return index
    from dpr_plugin.serving.index.edge import EdgeItemIndex

    return EdgeItemIndex(Path(index_dir), model_version=model_version)


def open_index_pair(
    qdrant_url: str,
    qdrant_alias: str,
    index_dir: Path,
    timeout_s: float,
    ann: AnnSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[IndexBuilder, ItemIndex]:
    """A builder and a reader of the same index (``dpr index`` builds, then reads back what
    it built); close the reader when done. ``ann`` decides exact or HNSW search; ``progress``
    is told the points written so far."""
    if qdrant_url:
        from dpr_plugin.serving.index.server import connect_server_index

        index, builder = connect_server_index(qdrant_url, qdrant_alias, timeout_s, ann, progress)
        return builder, index
    from dpr_plugin.serving.index.edge import EdgeIndexBuilder, EdgeItemIndex

    return EdgeIndexBuilder(Path(index_dir), ann, progress), EdgeItemIndex(Path(index_dir))
