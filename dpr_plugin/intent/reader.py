"""Prompt → Intent: clauses with a polarity and a target, by cheap rules plus zero-shot.

Reading happens in three passes over the prompt's tokens:

1. Targets: item titles after a reference cue ("more like Toy Story"), eras ("80s", "before
   1970", "recent"), then the vocabulary's synonyms (longest match first).
2. Segments: the prompt is cut at punctuation and connectives. A segment's starting polarity
   comes from its connective: "without", "except", "nor", "instead of" make it unwanted;
   "but", "though" and a sentence end make it wanted; "and", "or", "," carry the previous
   segment's polarity on ("no horror or gore"). Inside a segment a negation cue makes the
   targets after it unwanted, a wish cue after an unwanted target makes them wanted again, and
   a negation after the last target ("X is boring", "keep X away") makes that target unwanted.
   Wanted tag segments joined by "or" become one disjunction clause; ranges joined by "or"
   become their union.
3. Zero-shot: a segment with words but no target is handed back (``Draft.pending``); the caller
   embeds it with the frozen encoder and ``finish`` places it by its similarity to each tag's
   description, synonyms and phrases, or leaves it unread.

A negative one-sided era is stored as the positive complement ("nothing older than 2000"
→ year >= 2000), which a filter applies the same way. A negative amount stays negative (a
price is not whole: "nothing over $50" excludes price >= 50).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dpr_plugin.intent import cues
from dpr_plugin.intent.amounts import AmountReader
from dpr_plugin.intent.clauses import (
    Clause,
    Intent,
    ItemTarget,
    RangeTarget,
    Source,
    TagTarget,
    Target,
)
from dpr_plugin.intent.eras import find_eras
from dpr_plugin.intent.text import Token, flat, lemma, tokens
from dpr_plugin.intent.titles import TitleIndex
from dpr_plugin.intent.vocabulary import Vocabulary
from dpr_plugin.intent.zero_shot import ZeroShotTable

MAX_TITLE_WORDS = 12


@dataclass
class _Unit:
    """A token of the prompt, or a found target covering one or more tokens."""

    kind: str  # "word", "punct" or "target"
    text: str
    start: int
    end: int
    target: Target | None = None
    source: Source | None = None


@dataclass
class _Segment:
    connective: str
    units: list[_Unit] = field(default_factory=list)


@dataclass(frozen=True)
class _Pending:
    """A segment for the zero-shot reader: its text (cues removed), span and polarity."""

    text: str
    start: int
    end: int
    negative: bool
    connective: str


@dataclass(frozen=True)
class Draft:
    """What the rules read; ``pending`` texts wait for the encoder."""

    prompt: str
    clauses: tuple[Clause, ...]
    pending: tuple[_Pending, ...]

    @property
    def pending_texts(self) -> list[str]:
        return [p.text for p in self.pending]


class IntentReader:
    """Reads prompts for one export.

    Args:
        vocabulary: The export's vocabulary (tags, synonyms, item nouns).
        titles: The catalogue's titles, for item references; ``None``: no references.
        newest_year: The catalogue's newest value of ``range_field`` (for "recent"); ``None``:
            no eras are read.
        zero_shot: Embeddings of the vocabulary's texts; ``None``: rules only.
        range_field: The numeric payload field eras are ranges over.
        amounts: Reads comparisons over the catalogue's other numeric fields; ``None``: none.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        titles: TitleIndex | None = None,
        newest_year: int | None = None,
        zero_shot: ZeroShotTable | None = None,
        range_field: str = "year",
        amounts: AmountReader | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.titles = titles
        self.newest_year = newest_year
        self.zero_shot = zero_shot
        self.range_field = range_field
        self.amounts = amounts
        # a synonym listed under several tags names all of them ("rom-com")
        self._lexicon: dict[tuple[str, ...], tuple[str, ...]] = {}
        for term in vocabulary.terms:
            for synonym in (*term.synonyms, term.surface, term.tag):
                key = tuple(lemma(t.text) for t in tokens(synonym) if t.is_word)
                if key and term.tag not in self._lexicon.get(key, ()):
                    self._lexicon[key] = (*self._lexicon.get(key, ()), term.tag)
        self._longest = max((len(k) for k in self._lexicon), default=1)
        self._nouns = frozenset(lemma(n) for n in vocabulary.item_nouns)

    # -- reading ---------------------------------------------------------------------------

    def read(self, prompt: str, embed: Callable[[list[str]], np.ndarray] | None = None) -> Intent:
        """``finish(draft(prompt), embed(pending texts))`` in one call (tests, offline use)."""
        draft = self.draft(prompt)
        embeddings = None
        if draft.pending and embed is not None and self.zero_shot is not None:
            embeddings = embed(draft.pending_texts)
        return self.finish(draft, embeddings)

    def draft(self, prompt: str) -> Draft:
        """The rule-based reading; segments it could not place are left pending."""
        units = self._targets(prompt)
        clauses: list[Clause] = []
        pending: list[_Pending] = []
        previous_negative = False
        previous_clauses: list[int] = []  # indices into clauses of the previous segment's
        previous_explicit = True
        for segment in self._segments(units):
            negative = self._starting_polarity(segment.connective, previous_negative)
            mine: list[int] = []
            cued = False  # a cue of this segment decided the polarity
            pending_negation = False
            postfix = False
            words: list[_Unit] = []
            for i, unit in enumerate(segment.units):
                if unit.kind == "target":
                    assert unit.target is not None and unit.source is not None
                    clauses.append(
                        Clause(
                            prompt[unit.start : unit.end],
                            unit.start,
                            unit.end,
                            negative,
                            unit.target,
                            unit.source,
                        )
                    )
                    mine.append(len(clauses) - 1)
                    pending_negation = False
                    continue
                if unit.kind != "word":
                    continue
                word = unit.text
                if word in cues.NEGATION or word.endswith("n't"):
                    if mine and not any(u.kind == "target" for u in segment.units[i + 1 :]):
                        postfix = postfix or word in cues.POSTFIX_NEGATION or word == "not"
                    else:
                        negative, cued, pending_negation = True, True, True
                elif word in cues.POSTFIX_NEGATION and mine:
                    if not any(u.kind == "target" for u in segment.units[i + 1 :]):
                        postfix = True
                elif word in cues.WISH and not pending_negation:
                    if not (word in ("like", "love") and i > 0 and mine):
                        negative, cued = False, True
                elif (
                    word not in cues.FILLER
                    and lemma(word) not in self._nouns
                    and not word.isdigit()
                ):
                    words.append(unit)
            if postfix and not cued:
                for index in mine:
                    clauses[index] = _with_polarity(clauses[index], True)
                negative = True
            if not mine:
                if (
                    cued
                    and negative
                    and previous_clauses
                    and not previous_explicit
                    and (segment.connective in cues.SENTENCE_END or segment.connective == ",")
                ):
                    # "comedies? not today": a bare negation turns the wish before it around
                    for index in previous_clauses:
                        clauses[index] = _with_polarity(clauses[index], True)
                elif words:
                    start, end = words[0].start, words[-1].end
                    pending.append(
                        _Pending(prompt[start:end], start, end, negative, segment.connective)
                    )
            else:
                previous_clauses, previous_explicit = mine, cued
            previous_negative = negative
        return Draft(prompt, tuple(_combine(clauses, prompt)), tuple(pending))

    def finish(self, draft: Draft, embeddings: np.ndarray | None) -> Intent:
        """The intent: the draft's clauses plus the pending segments the zero-shot reader
        places (in prompt order); the others are listed as unread."""
        clauses = list(draft.clauses)
        unread = []
        for i, item in enumerate(draft.pending):
            reading = None
            if embeddings is not None and self.zero_shot is not None:
                reading = self.zero_shot.read(embeddings[i])
            if reading is None:
                unread.append(item.text)
                continue
            clauses.append(
                Clause(
                    item.text,
                    item.start,
                    item.end,
                    item.negative,
                    TagTarget(((reading.tag, reading.score),)),
                    Source.ZERO_SHOT,
                )
            )
        clauses.sort(key=lambda c: c.start)
        return Intent(tuple(_dedupe(clauses)), tuple(unread))

    # -- pass 1: targets ---------------------------------------------------------------------

    def _targets(self, prompt: str) -> list[_Unit]:
        toks = tokens(prompt)
        taken: list[_Unit] = []
        if self.titles is not None:
            taken.extend(self._references(toks))
        ranges = []  # (start, end, target, source): eras, then amounts
        if self.newest_year is not None:
            for era in find_eras(flat(prompt), self.newest_year):
                target = RangeTarget(self.range_field, era.gte, era.lte)
                ranges.append((era.start, era.end, target, Source.ERA))
        for amount in self.amounts.find(flat(prompt)) if self.amounts is not None else ():
            target = RangeTarget(amount.field, amount.gte, amount.lte)
            ranges.append((amount.start, amount.end, target, Source.AMOUNT))
        for start, end, target, source in ranges:
            if not any(start < u.end and u.start < end for u in taken):
                taken.append(_Unit("target", prompt[start:end], start, end, target, source))
        units: list[_Unit] = []
        run: list[Token] = []
        taken.sort(key=lambda u: u.start)
        cursor = 0
        for token in toks:
            if cursor < len(taken) and token.start >= taken[cursor].end:
                cursor += 1
            if cursor < len(taken) and taken[cursor].start <= token.start < taken[cursor].end:
                units.extend(self._lexical(run, prompt))
                run = []
                if not units or units[-1] is not taken[cursor]:
                    units.append(taken[cursor])
                continue
            run.append(token)
        units.extend(self._lexical(run, prompt))
        return units

    def _references(self, toks: list[Token]) -> list[_Unit]:
        """Titles after reference cues ("like", "similar to", ...)."""
        assert self.titles is not None
        words = [t.text for t in toks]
        found: list[_Unit] = []
        i = 0
        while i < len(toks):
            cue = next((c for c in cues.REFERENCE if tuple(words[i : i + len(c)]) == c), None)
            if cue is None or (cue == ("like",) and i > 0 and words[i - 1] in cues.VERB_SUBJECTS):
                i += 1
                continue
            first = i + len(cue)
            last = first
            while (
                last < len(toks)
                and last - first < MAX_TITLE_WORDS
                and (toks[last].is_word or toks[last].text in ":'&\"")
                and toks[last].text not in cues.CONTRAST
            ):
                last += 1
            span = [t for t in toks[first:last] if t.is_word]
            while span and span[-1].text in cues.TITLE_FILLER:
                span.pop()
            match = None
            names_tag = bool(span) and self._names_tag(span)
            for end in range(len(span), 0, -1):  # the longest name of a title first
                words = [t.text for t in span[:end]]
                if end > 1 or not names_tag:
                    match = self.titles.named(words)
                else:
                    match = self.titles.exact(words)
                if match is not None:
                    span = span[:end]
                    break
            if match is None and span and not names_tag:
                match = self.titles.fuzzy([t.text for t in span])
            if match is None:
                i += 1
                continue
            found.append(
                _Unit(
                    "target",
                    match.title,
                    toks[i].start,
                    span[-1].end,
                    ItemTarget(match.item_id, match.title, match.platform_id),
                    Source.TITLE,
                )
            )
            i = toks.index(span[-1]) + 1
        return found

    def _names_tag(self, span: Sequence[Token]) -> bool:
        """True when the words after a cue name a tag ("like comedies"), not a title."""
        return any(unit.kind == "target" for unit in self._lexical(list(span), ""))

    def _lexical(self, run: list[Token], prompt: str) -> list[_Unit]:
        """Synonym matches (longest first) in a run of tokens; other tokens as they are."""
        expanded: list[Token] = []
        for token in run:  # "pixar-style" → "pixar", "style" when the whole is no synonym
            whole = (lemma(token.text),)
            if "-" in token.text and whole not in self._lexicon:
                offset = token.start
                for part in token.text.split("-"):
                    expanded.append(Token(part, offset, offset + len(part)))
                    offset += len(part) + 1
            else:
                expanded.append(token)
        keys = [lemma(t.text) if t.is_word else t.text for t in expanded]
        units: list[_Unit] = []
        i = 0
        while i < len(expanded):
            named: tuple[str, ...] | None = None
            for size in range(min(self._longest, len(expanded) - i), 0, -1):
                named = self._lexicon.get(tuple(keys[i : i + size]))
                if named is not None and not self._verb(keys, i, size):
                    break
                named = None
            if named is None:
                token = expanded[i]
                units.append(
                    _Unit("word" if token.is_word else "punct", token.text, token.start, token.end)
                )
                i += 1
                continue
            start, end = expanded[i].start, expanded[i + size - 1].end
            for tag in named:
                units.append(
                    _Unit(
                        "target",
                        prompt[start:end] if prompt else "",
                        start,
                        end,
                        TagTarget(((tag, 1.0),)),
                        Source.LEXICON,
                    )
                )
            i += size
        return units

    @staticmethod
    def _verb(keys: list[str], i: int, size: int) -> bool:
        """A one-word synonym used as a verb after a subject ("I'd love ...", "we dance")."""
        return (
            size == 1 and i > 0 and keys[i] in cues.VERB_LIKE and keys[i - 1] in cues.VERB_SUBJECTS
        )

    # -- pass 2: segments --------------------------------------------------------------------

    @staticmethod
    def _segments(units: list[_Unit]) -> list[_Segment]:
        segments = [_Segment("")]
        i = 0
        while i < len(units):
            unit = units[i]
            words = [u.text if u.kind != "target" else "" for u in units[i : i + 2]]
            negating = next(
                (name for key, name in cues.NEGATING.items() if tuple(words[: len(key)]) == key),
                None,
            )
            if negating is not None:
                segments.append(_Segment(negating))
                i += len(negating.split())
                continue
            if unit.kind == "punct" and (
                unit.text in cues.SENTENCE_END or unit.text in cues.NEUTRAL
            ):
                segments.append(_Segment(unit.text))
            elif unit.kind == "word" and (unit.text in cues.CONTRAST or unit.text in cues.NEUTRAL):
                if unit.text == "either" and not segments[-1].units:
                    pass  # "either X or Y": the "or" cuts, not the "either"
                else:
                    segments.append(_Segment(unit.text))
            else:
                segments[-1].units.append(unit)
            i += 1
        return [s for s in segments if s.units or s.connective in cues.SENTENCE_END]

    @staticmethod
    def _starting_polarity(connective: str, previous_negative: bool) -> bool:
        if connective in {name for name in cues.NEGATING.values()}:
            return True
        if connective in cues.CONTRAST or connective in cues.SENTENCE_END or not connective:
            return False
        return previous_negative


def _with_polarity(clause: Clause, negative: bool) -> Clause:
    return Clause(clause.text, clause.start, clause.end, negative, clause.target, clause.source)


def _combine(clauses: list[Clause], prompt: str) -> list[Clause]:
    """Wanted tag clauses joined by "or" → one disjunction; wanted ranges next to each other
    ("or", "and", ",") → their union."""
    out: list[Clause] = []
    for clause in clauses:
        if out:
            last = out[-1]
            between = prompt[last.end : clause.start].lower().split()
            wanted = not clause.negative and not last.negative
            joined_by_or = "or" in between and wanted
            if (
                joined_by_or
                and isinstance(last.target, TagTarget)
                and isinstance(clause.target, TagTarget)
            ):
                tags = dict(last.target.tags)
                tags.update(clause.target.tags)
                out[-1] = Clause(
                    prompt[last.start : clause.end],
                    last.start,
                    clause.end,
                    False,
                    TagTarget(tuple(tags.items()), any_of=True),
                    last.source,
                )
                continue
            # "the 60s and 70s": two eras asked together mean either (both cannot hold)
            if (
                wanted
                and isinstance(last.target, RangeTarget)
                and isinstance(clause.target, RangeTarget)
            ):
                out[-1] = Clause(
                    prompt[last.start : clause.end],
                    last.start,
                    clause.end,
                    False,
                    _union(last.target, clause.target),
                    Source.ERA,
                )
                continue
        out.append(clause)
    return out


def _union(a: RangeTarget, b: RangeTarget) -> RangeTarget:
    gte = None if a.gte is None or b.gte is None else min(a.gte, b.gte)
    lte = None if a.lte is None or b.lte is None else max(a.lte, b.lte)
    return RangeTarget(a.field, gte, lte)


def _complement(target: RangeTarget) -> RangeTarget | None:
    """The wanted range equal to not wanting a one-sided ``target`` (None for two-sided)."""
    if target.gte is None and target.lte is not None:
        return RangeTarget(target.field, target.lte + 1, None)
    if target.lte is None and target.gte is not None:
        return RangeTarget(target.field, None, target.gte - 1)
    return None


def _dedupe(clauses: list[Clause]) -> list[Clause]:
    """One clause per (polarity, target); a negative one-sided era becomes its positive
    complement; a tag both wanted and unwanted keeps its first reading."""
    out: list[Clause] = []
    seen: set[tuple[bool, object]] = set()
    for clause in clauses:
        target = clause.target
        if clause.negative and isinstance(target, RangeTarget) and clause.source is Source.ERA:
            complement = _complement(target)  # years are whole: "not before 2000" is >= 2000
            if complement is not None:
                clause = Clause(
                    clause.text, clause.start, clause.end, False, complement, clause.source
                )
        key: object = clause.target
        if isinstance(clause.target, TagTarget):
            key = (clause.target.names, clause.target.any_of)
        if (clause.negative, key) in seen or (not clause.negative, key) in seen:
            continue
        seen.add((clause.negative, key))
        out.append(clause)
    return out
