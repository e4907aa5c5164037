"""Tests of the MIND TSV loader on a tiny hand-made file in the official format."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpr_plugin.data.mind import load_mind
from dpr_plugin.errors import DataFormatError

NEWS = (
    "N1\tsports\tfootball\tCup final tonight\tabstract\thttp://x\t[]\t[]\n"
    "N2\tnews\tworld\tElection results\t\thttp://x\t[]\t[]\n"
    "N3\tlifestyle\tfood\tTen soups\t\thttp://x\t[]\t[]\n"
    "N4\tsports\ttennis\tOpen begins\t\thttp://x\t[]\t[]\n"
)


def _files(tmp_path: Path, behaviors: str) -> tuple[Path, Path]:
    (tmp_path / "news.tsv").write_text(NEWS)
    (tmp_path / "behaviors.tsv").write_text(behaviors)
    return tmp_path / "behaviors.tsv", tmp_path / "news.tsv"


def test_load_mind_appends_clicks_in_time_order_after_history(tmp_path: Path) -> None:
    behaviors, news = _files(
        tmp_path,
        "2\tU1\t11/15/2019 10:00:00 AM\tN1 N2\tN4-1 N3-0\n"
        "1\tU1\t11/15/2019 8:55:22 AM\tN1 N2\tN3-1 N4-0\n"
        "3\tU2\t11/14/2019 1:00:00 PM\tN3\tN1-1\n",
    )
    ds = load_mind(behaviors, news)
    u1 = ds.sequences[ds.user_ids.index("U1")]
    assert [ds.item_ids[i - 1] for i in u1] == ["N1", "N2", "N3", "N4"]
    assert ds.item_tags[ds.item_ids.index("N4")] == ("sports",)
    assert ds.item_titles[ds.item_ids.index("N2")] == "Election results"


@pytest.mark.parametrize(
    ("behaviors", "message"),
    [
        ("1\tU1\tyesterday\tN1\tN2-1\n", r"behaviors.tsv:1: field 'time'"),
        ("1\tU1\t11/15/2019 8:55:22 AM\tN1\tN2-x\n", r"behaviors.tsv:1: impression entry 'N2-x'"),
        (
            "1\tU1\t11/15/2019 8:55:22 AM\tN9\tN2-1\n",
            r"behaviors.tsv:1: news id N9 is not in news.tsv",
        ),
        ("1\tU1\t11/15/2019 8:55:22 AM\tN1\n", r"behaviors.tsv:1: expected 5 fields"),
    ],
)
def test_load_mind_names_file_and_line_when_malformed(
    tmp_path: Path, behaviors: str, message: str
) -> None:
    with pytest.raises(DataFormatError, match=message):
        load_mind(*_files(tmp_path, behaviors))


def test_load_mind_names_line_when_news_malformed(tmp_path: Path) -> None:
    (tmp_path / "news.tsv").write_text(NEWS + "N5\tsports\n")
    (tmp_path / "behaviors.tsv").write_text("1\tU1\t11/15/2019 8:55:22 AM\tN1\tN2-1\n")
    with pytest.raises(DataFormatError, match=r"news.tsv:5: expected 8 fields"):
        load_mind(tmp_path / "behaviors.tsv", tmp_path / "news.tsv")
