"""Cold items in an export: items of the catalogue's items table that have no interactions
(they arrived after training) get a vector from the backbone's tag table
(``models/cold_items.py``) and are appended after the trained items, marked ``cold = 1``.

The exported backbone is unchanged (it knows only the trained items); the service indexes
and returns cold items but never reads one in a history (``ModelBundle.model_items``).
Measured on ML-1M (``benchmarks/cold_items.py``): tag vectors place cold items far below
where training puts them, so a platform may want ``must_not cold`` or a cap; see
``docs/your_catalogue.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from dpr_plugin.data.dataset import ItemMeta
from dpr_plugin.data.item_fields import COLD_FIELD, ItemField, check_value
from dpr_plugin.errors import ConfigError
from dpr_plugin.models.backbone import SequentialBackbone
from dpr_plugin.models.cold_items import (
    DEFAULT_OWN_ROW,
    ColdItemTables,
    cold_item_vectors,
    tag_order,
)
from dpr_plugin.training.checkpoint import Catalogue

log = logging.getLogger(__name__)


def with_cold_items(
    backbone: SequentialBackbone,
    catalogue: Catalogue,
    table: np.ndarray,
    items: Mapping[str, ItemMeta],
) -> tuple[Catalogue, np.ndarray]:
    """The catalogue and item table with ``items`` that are not trained appended as cold.

    An item none of whose tags the backbone knows cannot be placed and is left out (counted
    in the log); its fields are checked against the catalogue's declared kinds.

    Raises:
        ConfigError: the backbone has no tag table, or a cold item's field does not fit the
            field's kind (naming item and field).
    """
    trained = set(catalogue.item_ids)
    known_tags = set(tag_order(catalogue.tags))
    fresh = [(item, meta) for item, meta in items.items() if item not in trained]
    placed = [(i, m) for i, m in fresh if m.tags and set(m.tags) <= known_tags]
    if len(placed) < len(fresh):
        left = [i for i, m in fresh if not (m.tags and set(m.tags) <= known_tags)]
        log.warning(
            "cold items: %d of %d left out, no tags or tags the backbone does not know (first: %s)",
            len(left),
            len(fresh),
            ", ".join(left[:5]),
        )
    ids = [item for item, _ in placed]
    tables = ColdItemTables.of(backbone, catalogue.tags, catalogue.interactions)
    vectors = cold_item_vectors(tables, [m.tags for _, m in placed], DEFAULT_OWN_ROW, ids)
    fields: dict[str, ItemField] = {}
    for name, column in catalogue.fields.items():
        if name == COLD_FIELD:
            raise ConfigError(f"cold_items: the catalogue already has cold items ({name!r})")
        values = []
        for item, meta in placed:
            try:
                values.append(check_value(f"{item}.{name}", column.kind, meta.fields.get(name)))
            except ValueError as exc:
                raise ConfigError(f"cold_items: {exc}") from None
        fields[name] = ItemField(column.kind, (*column.values, *values))
    flags = (0,) * len(catalogue.item_ids) + (1,) * len(placed)
    fields[COLD_FIELD] = ItemField("integer", flags)
    extended = Catalogue(
        [*catalogue.item_ids, *ids],
        [*catalogue.titles, *(m.title for _, m in placed)],
        [*catalogue.tags, *(list(m.tags) for _, m in placed)],
        [*catalogue.interactions, *([0] * len(placed))] if catalogue.interactions else [],
        fields,
    )
    log.info("cold items: %d appended after %d trained items", len(placed), len(trained))
    return extended, np.vstack([table, vectors]).astype(np.float32)
