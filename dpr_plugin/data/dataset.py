"""The one internal dataset form: per-user chronological item sequences, item tags, titles and
the catalogue's declared fields.

Internal item id 0 is padding; real items are numbered 1..num_items.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dpr_plugin.data.item_fields import FieldKind, FieldValue, ItemField


@dataclass(frozen=True)
class ItemMeta:
    """Metadata of one item as a loader reads it.

    Attributes:
        title: Human-readable title.
        tags: Genres (MovieLens) or categories (MIND), in source order.
        fields: Values of the catalogue's declared fields (``item_fields``); a field the
            item lacks is absent.
    """

    title: str
    tags: tuple[str, ...]
    fields: Mapping[str, FieldValue] = field(default_factory=dict)


@dataclass
class SequenceDataset:
    """Interactions of every user as chronological sequences of internal item ids.

    Attributes:
        name: Short dataset name (``ml-1m``, ``ml-latest-small``, ``mind``...).
        item_ids: External id of internal item ``i`` at position ``i - 1``.
        item_titles: Title of internal item ``i`` at position ``i - 1``.
        item_tags: Tags of internal item ``i`` at position ``i - 1``.
        user_ids: External user ids, aligned with ``sequences``.
        sequences: One int64 array of internal item ids per user, oldest first.
        preprocessing: Human-readable record of every step applied since loading.
        item_fields: The declared fields, one value per item in internal-id order.
    """

    name: str
    item_ids: list[str]
    item_titles: list[str]
    item_tags: list[tuple[str, ...]]
    user_ids: list[str]
    sequences: list[np.ndarray]
    preprocessing: list[str] = field(default_factory=list)
    item_fields: dict[str, ItemField] = field(default_factory=dict)

    @classmethod
    def from_interactions(
        cls,
        name: str,
        interactions: Iterable[tuple[str, str]],
        items: Mapping[str, ItemMeta],
        source: str,
        field_kinds: Mapping[str, FieldKind] | None = None,
    ) -> SequenceDataset:
        """Builds a dataset from (user, item) pairs already in chronological order per user.

        Only items that occur in an interaction enter the catalogue; they are numbered in
        ascending order of their external id (numerically when every id is a number).

        Args:
            name: Dataset name.
            interactions: (external user id, external item id) pairs, each user's in time order.
            items: Metadata for every external item id that occurs.
            source: Description of where the data came from, recorded in ``preprocessing``.
            field_kinds: The declared fields (``ItemMeta.fields``) and their kinds.
        """
        per_user: dict[str, list[str]] = {}
        for user, item in interactions:
            per_user.setdefault(user, []).append(item)
        used = {item for seq in per_user.values() for item in seq}
        numeric = all(i.isdigit() for i in used)
        ordered = sorted(used, key=int if numeric else str)
        index = {ext: pos + 1 for pos, ext in enumerate(ordered)}
        users = sorted(per_user, key=int if all(u.isdigit() for u in per_user) else str)
        return cls(
            name=name,
            item_ids=ordered,
            item_titles=[items[i].title for i in ordered],
            item_tags=[items[i].tags for i in ordered],
            user_ids=users,
            sequences=[np.array([index[i] for i in per_user[u]], dtype=np.int64) for u in users],
            preprocessing=[f"loaded {source}"],
            item_fields={
                name: ItemField(kind, tuple(items[i].fields.get(name) for i in ordered))
                for name, kind in (field_kinds or {}).items()
            },
        )

    @property
    def num_items(self) -> int:
        """Number of real items (the padding id is not counted)."""
        return len(self.item_ids)

    @property
    def num_users(self) -> int:
        """Number of users."""
        return len(self.user_ids)

    @property
    def num_interactions(self) -> int:
        """Total number of interactions over all users."""
        return int(sum(len(s) for s in self.sequences))

    @property
    def tag_names(self) -> list[str]:
        """All tags in a fixed order (sorted), the "tag order" of the evaluation rules."""
        return sorted({t for tags in self.item_tags for t in tags})

    def tag_matrix(self) -> np.ndarray:
        """Boolean matrix ``[num_items + 1, num_tags]``; row 0 (padding) is all False."""
        names = self.tag_names
        col = {t: j for j, t in enumerate(names)}
        matrix = np.zeros((self.num_items + 1, len(names)), dtype=bool)
        for pos, tags in enumerate(self.item_tags):
            for t in tags:
                matrix[pos + 1, col[t]] = True
        return matrix

    def stats(self) -> dict[str, object]:
        """Dataset statistics, with the preprocessing record, as a JSON-ready dict."""
        lengths = np.array([len(s) for s in self.sequences], dtype=np.int64)
        return {
            "name": self.name,
            "users": self.num_users,
            "items": self.num_items,
            "interactions": self.num_interactions,
            "tags": len(self.tag_names),
            "sequence_length": {
                "min": int(lengths.min()) if len(lengths) else 0,
                "median": float(np.median(lengths)) if len(lengths) else 0.0,
                "mean": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
                "max": int(lengths.max()) if len(lengths) else 0,
            },
            "preprocessing": "; ".join(self.preprocessing),
        }

    def subset_users(self, keep: Sequence[int], note: str) -> SequenceDataset:
        """Returns a copy keeping only the users at the given positions (items unchanged)."""
        return SequenceDataset(
            name=self.name,
            item_ids=self.item_ids,
            item_titles=self.item_titles,
            item_tags=self.item_tags,
            user_ids=[self.user_ids[k] for k in keep],
            sequences=[self.sequences[k] for k in keep],
            preprocessing=[*self.preprocessing, note],
            item_fields=self.item_fields,
        )
