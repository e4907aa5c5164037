"""Loader for the MIND news dataset's official TSV format (``behaviors.tsv`` + ``news.tsv``).

Tags are the news categories. A user's sequence is the click history recorded in their
earliest impression, followed by the articles they clicked in impressions, in time order.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dpr_plugin.data.dataset import ItemMeta, SequenceDataset
from dpr_plugin.data.records import parse_int, split_fields
from dpr_plugin.errors import DataFormatError

_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def read_news(path: Path) -> dict[str, ItemMeta]:
    """Reads ``news.tsv``: id, category, subcategory, title, abstract, url, two entity columns."""
    news: dict[str, ItemMeta] = {}
    for number, fields in split_fields(path, "utf-8", "\t", 8):
        news_id, category, title = fields[0], fields[1], fields[3]
        if not news_id or not category:
            raise DataFormatError(path, number, "news id and category must not be empty")
        news[news_id] = ItemMeta(title=title, tags=(category,))
    if not news:
        raise DataFormatError(path, None, "no news found")
    return news


def load_mind(behaviors: Path, news: Path) -> SequenceDataset:
    """Loads MIND ``behaviors.tsv`` (impression id, user id, time, history, impressions).

    Args:
        behaviors: Path of ``behaviors.tsv``.
        news: Path of ``news.tsv``.
    """
    meta = read_news(news)
    events: list[tuple[datetime, int, str, list[str], list[str]]] = []
    for number, (impression, user, stamp, history, shown) in split_fields(
        behaviors, "utf-8", "\t", 5
    ):
        parse_int(behaviors, number, "impression id", impression)
        try:
            when = datetime.strptime(stamp, _TIME_FORMAT)
        except ValueError:
            raise DataFormatError(
                behaviors, number, f"field 'time' is not like 11/15/2019 8:55:22 AM: {stamp!r}"
            ) from None
        clicked = []
        for entry in shown.split():
            news_id, _, label = entry.rpartition("-")
            if label not in ("0", "1") or not news_id:
                raise DataFormatError(
                    behaviors, number, f"impression entry {entry!r} is not NEWSID-0 or NEWSID-1"
                )
            if label == "1":
                clicked.append(news_id)
        past = history.split()
        for news_id in (*past, *clicked):
            if news_id not in meta:
                raise DataFormatError(behaviors, number, f"news id {news_id} is not in {news.name}")
        events.append((when, number, user, past, clicked))
    if not events:
        raise DataFormatError(behaviors, None, "no impressions found")
    events.sort(key=lambda e: (e[0], e[1]))
    sequences: dict[str, list[str]] = {}
    for _, _, user, past, clicked in events:
        seq = sequences.setdefault(user, list(past))
        seen = set(seq)
        for news_id in clicked:
            if news_id not in seen:
                seq.append(news_id)
                seen.add(news_id)
    pairs = [(user, item) for user, seq in sequences.items() for item in seq]
    return SequenceDataset.from_interactions("mind", pairs, meta, f"MIND TSV ({behaviors})")
