"""Prompt templates for positive ("more X") and negative ("no X") steering, per tag.

A fixed subset of phrasings (``HELD_OUT``) is never used in training; evaluation reports it
separately to show whether steering follows phrasing it never saw. The first 16 phrasings of
each polarity are the original set (three of them held out); the 17 after them widen what the
polarity reader learns from. The last three of each polarity are contrast pairs ("not X
tonight" / "X tonight"): they teach that the word "not" flips a wish, which the original set
showed only once ("not in the mood for X"). In a one-off comparison (token attention reader,
300 steps, three seeds) the reader got the held-out "X? not today" right for 0.78-1.00 of the
tags with them, 0.11-0.50 without; on ML-1M ``benchmarks.prompt_reading`` measures 0.89.
None of the added phrasings repeats a held-out one or one of ``benchmarks.prompt_reading``'s
novel phrasings, which no training code sees.
"""

from __future__ import annotations

from dataclasses import dataclass

POSITIVE_TEMPLATES: tuple[str, ...] = (
    "more {tag}",
    "show me more {tag}",
    "I want {tag} tonight",
    "something from {tag} please",
    "recommend me {tag}",
    "I'm in the mood for {tag}",
    "give me {tag}",
    "let's watch {tag}",
    "more of the {tag} kind",
    "I feel like {tag} today",
    "only {tag} for now",
    "focus on {tag}",
    "can I get some {tag}?",
    "{tag}, please",
    "I'd love some {tag}",
    "steer towards {tag}",
    "I'd like to see {tag}",
    "bring on the {tag}",
    "put on some {tag}",
    "lots of {tag}",
    "{tag} sounds great",
    "find me {tag}",
    "I'm craving {tag}",
    "suggest {tag}",
    "{tag} would be nice",
    "I love {tag}",
    "a night of {tag}",
    "definitely {tag}",
    "yes to {tag}",
    "more and more {tag}",
    "{tag} tonight",
    "{tag} again",
    "{tag} is what I want",
)

NEGATIVE_TEMPLATES: tuple[str, ...] = (
    "no {tag}",
    "no {tag} please",
    "nothing from {tag}",
    "I don't want {tag}",
    "skip {tag}",
    "not in the mood for {tag}",
    "avoid {tag}",
    "less {tag}",
    "I'm tired of {tag}",
    "anything but {tag}",
    "keep {tag} away",
    "without {tag} tonight",
    "stop showing me {tag}",
    "{tag}? not today",
    "I've had enough {tag}",
    "exclude {tag}",
    "I'd rather skip {tag}",
    "hold the {tag}",
    "fewer {tag}",
    "{tag} is boring",
    "spare me the {tag}",
    "I hate {tag}",
    "never {tag}",
    "{tag} would be awful",
    "I can't stand {tag}",
    "no more {tag} ever",
    "drop the {tag}",
    "definitely no {tag}",
    "enough of {tag}",
    "zero {tag}",
    "not {tag} tonight",
    "not {tag} again",
    "{tag} is not what I want",
)

HELD_OUT: frozenset[int] = frozenset({3, 8, 13})
"""Template indices (in both lists) reserved for evaluation; 30 of 33 phrasings are trained."""

# How a genre or category reads inside a sentence; unknown tags are lower-cased as they are.
SURFACE: dict[str, str] = {
    "Action": "action movies",
    "Adventure": "adventure films",
    "Animation": "animated movies",
    "Children's": "kids' movies",
    "Children": "kids' movies",
    "Comedy": "comedies",
    "Crime": "crime films",
    "Documentary": "documentaries",
    "Drama": "dramas",
    "Fantasy": "fantasy",
    "Film-Noir": "film noir",
    "Horror": "horror",
    "IMAX": "IMAX films",
    "Musical": "musicals",
    "Mystery": "mysteries",
    "Romance": "romance",
    "Sci-Fi": "sci-fi",
    "Thriller": "thrillers",
    "War": "war movies",
    "Western": "westerns",
}


@dataclass(frozen=True)
class Prompt:
    """One prompt with what it asks for.

    Attributes:
        text: The sentence.
        tag: The tag it names.
        negative: True for "no X" prompts.
        template: Index of the template within its polarity's list.
    """

    text: str
    tag: str
    negative: bool
    template: int

    @property
    def held_out(self) -> bool:
        """True when this phrasing is reserved for evaluation."""
        return self.template in HELD_OUT


def surface(tag: str) -> str:
    """How ``tag`` reads inside a sentence."""
    return SURFACE.get(tag, tag.lower())


def render(tag: str, negative: bool, template: int) -> Prompt:
    """The prompt of one template for one tag."""
    templates = NEGATIVE_TEMPLATES if negative else POSITIVE_TEMPLATES
    return Prompt(templates[template].format(tag=surface(tag)), tag, negative, template)


def template_ids(negative: bool, held_out: bool) -> list[int]:
    """Indices of the trained (``held_out=False``) or held-out templates of one polarity."""
    count = len(NEGATIVE_TEMPLATES if negative else POSITIVE_TEMPLATES)
    return [i for i in range(count) if (i in HELD_OUT) == held_out]
