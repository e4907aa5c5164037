"""Tokens of a prompt with their character spans, and the word normal form used for matching."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z0-9]+(?:['][a-z]+)*(?:-[a-z0-9]+(?:['][a-z]+)*)*[']?|[^\sa-z0-9]")


@dataclass(frozen=True)
class Token:
    """One word or punctuation mark: its lower-cased text and span in the original prompt."""

    text: str
    start: int
    end: int

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()


def fold(text: str) -> str:
    """Lower case, accents removed, typographic quotes made plain."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokens(prompt: str) -> list[Token]:
    """Words (hyphenated words and contractions kept whole) and punctuation, with spans into
    ``prompt``; anything else that is not a space (an emoji) is a punctuation token."""
    return [Token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(flat(prompt))]


def flat(prompt: str) -> str:
    """``fold(prompt)`` one character per input character, so that spans carry over."""
    out = []
    for char in prompt:
        folded = fold(char)
        out.append(folded[:1] if folded else " ")
    return "".join(out)


def lemma(word: str) -> str:
    """A crude normal form that maps singular and plural to one key ("comedies", "comedy" →
    "comedie"; "movies", "movie" → "movie"; "kids'" → "kid"). Applied alike to the
    vocabulary and the prompt, so only consistency matters."""
    word = word.strip("'")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 3 and word.endswith(("ches", "shes", "xes", "sses", "oes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 2 and word.endswith("y"):
        word = word[:-1] + "ie"
    return word


def lemmas(phrase: str) -> tuple[str, ...]:
    """The lemmas of a phrase's words (punctuation dropped)."""
    return tuple(lemma(t.text) for t in tokens(phrase) if t.is_word)
