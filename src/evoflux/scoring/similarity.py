"""How alike two names are: identifiers, output keys and enum values compared by words, edit ratio and
abbreviation. Pure functions of strings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rapidfuzz import fuzz

from evoflux.servers.argschema import NO_VALUE, convert, same_json, type_fits

__all__ = [
    "IRREGULAR_PLURALS",
    "SNAP_SIMILARITY",
    "abbreviates",
    "key_similarity",
    "name_similarity",
    "normalize",
    "singular_forms",
    "snap",
    "word_overlap",
    "words",
]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalize(name: str) -> str:
    """`getCurrentTime`, `get_current-time` and `time.get_current_time` -> space-separated lowercase words."""
    return " ".join(re.split(r"[^a-z0-9]+", _CAMEL.sub(" ", name).lower())).strip()


def abbreviates(short: str, long: str) -> bool:
    """`km` abbreviates `kilometer`, `mph` `milesperhour`: same first letter, the rest in order."""
    if not short or short[0] != long[0] or len(short) >= len(long):
        return False
    rest = iter(long)
    return all(ch in rest for ch in short)


def _abbreviation_score(short: str, long: str) -> float:
    """`tz` ~ `timezone`, `src_tz` ~ `source_timezone`: each short word abbreviates a long word, in order."""
    short_words, long_words = normalize(short).split(), normalize(long).split()
    if not short_words or not long_words:
        return 0.0
    if len(short_words) == 1 and abbreviates(short_words[0], "".join(long_words)):
        return 0.6 + 0.3 * (1 if len(long_words) == 1 else 0.5)
    matched, start = 0, 0
    for word in short_words:
        hit = next((i for i in range(start, len(long_words)) if abbreviates(word, long_words[i])), None)
        if hit is None:
            return 0.0
        matched, start = matched + 1, hit + 1
    return 0.6 + 0.3 * matched / len(long_words)


_STOP = frozenset(
    ["a", "an", "the", "of", "to", "in", "for", "and", "or", "get", "is", "on", "by", "with", "from", "at"]
)


def words(text: str) -> set[str]:
    """The content words of a name or a description."""
    return {w for w in normalize(text).split() if w not in _STOP and len(w) > 1}


def word_overlap(wanted: set[str], have: set[str]) -> float:
    """Share of `wanted` words found in `have` (a shared 4-letter stem counts)."""
    if not wanted:
        return 0.0
    return sum(any(w == q or (len(q) >= 4 and w.startswith(q[:4])) for w in have) for q in wanted) / len(
        wanted
    )


def key_similarity(wanted: str, key: str) -> float:
    """`name_similarity` for output keys, reading compounds by their head (last) word: asked for
    `time`, `datetime` (a kind of time) gains and `timezone` (a kind of zone) loses."""
    score = name_similarity(wanted, key)
    head, whole = normalize(wanted).replace(" ", ""), normalize(key).replace(" ", "")
    if head and whole != head:
        if whole.endswith(head):
            score = min(1.0, score + 0.1)
        elif whole.startswith(head):
            score = max(0.0, score - 0.2)
    return score


def name_similarity(a: str, b: str) -> float:
    """Similarity of two identifiers in [0, 1]: edit ratio, word-set overlap and abbreviation."""
    na, nb = normalize(a), normalize(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    score = max(fuzz.ratio(na, nb), 0.95 * fuzz.token_set_ratio(na, nb)) / 100
    return max(score, _abbreviation_score(a, b), _abbreviation_score(b, a))


SNAP_SIMILARITY = 0.75
"""How alike a string must be to an enum value to be snapped to it (`miles` -> `mile` is 0.9)."""


IRREGULAR_PLURALS = {"foot": "feet", "tooth": "teeth", "man": "men", "woman": "women", "person": "people"}
"""English plurals no suffix rule makes (those of units and people)."""


def singular_forms(word: str) -> list[str]:
    """The singulars `word` may be the plural of, lower-cased, likeliest first (`miles` -> `mile`,
    `boxes` -> `boxe`/`box`, `centuries` -> `century`, `feet` -> `foot`); [] without a plural ending."""
    low = word.lower()
    forms = [single for single, plural in IRREGULAR_PLURALS.items() if plural == low]
    if low.endswith("s") and not low.endswith("ss") and len(low) > 2:
        forms.append(low[:-1])
    if low.endswith("es") and len(low) > 3:
        forms.append(low[:-2])
    if low.endswith("ies") and len(low) > 4:
        forms.append(low[:-3] + "y")
    return forms


def snap(value: Any, options: Sequence[Any]) -> Any:
    """The enum value nearest to `value`: the option `value` is the plural of (`miles` -> `mile`, not
    the nearer spelling `mil`), else names by similarity; numbers by distance."""
    if any(same_json(value, o) for o in options):
        return NO_VALUE
    strings = [o for o in options if isinstance(o, str)]
    if isinstance(value, str) and strings:
        for form in singular_forms(value.strip()):
            if match := next((o for o in strings if o.lower() == form), None):
                return match
        best = max(strings, key=lambda o: (name_similarity(value, o), fuzz.WRatio(value.lower(), o.lower())))
        # a distant option is another meaning, not a spelling (megabytes -> megatonne): leave it be
        return best if name_similarity(value, best) >= SNAP_SIMILARITY else NO_VALUE
    numbers = [o for o in options if isinstance(o, int | float) and not isinstance(o, bool)]
    number = convert(value, "number", {})
    if numbers and (isinstance(number, int | float) or type_fits(value, {"number"})):
        target = float(value if number is NO_VALUE else number)
        return min(numbers, key=lambda o: abs(o - target))
    return options[0]
