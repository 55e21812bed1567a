"""Matching helpers for the edit operators and the fitness: how alike two names are, what a JSON
schema admits and how to make a value fit it. Reading values out of the task text is `tasktext`.

Pure functions of strings and JSON; nothing here knows about workflows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz

__all__ = [
    "IRREGULAR_PLURALS",
    "NO_VALUE",
    "abbreviates",
    "coerce",
    "enum_values",
    "json_type",
    "key_similarity",
    "name_similarity",
    "normalize",
    "prop_types",
    "properties",
    "required",
    "resolve_schema",
    "same_json",
    "singular_forms",
    "snap",
    "type_fits",
    "word_overlap",
    "words",
]


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()
"""Returned by value finders that found nothing (None is a JSON value, so it cannot say that)."""


def same_json(a: Any, b: Any) -> bool:
    """Equality as JSON: `1` and `true`, or `3` and `3.0`, differ."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


# -- names -------------------------------------------------------------------------------------------

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


# -- schemas -----------------------------------------------------------------------------------------


def resolve_schema(schema: Mapping[str, Any], node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return {**resolve_schema(schema, target), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def properties(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Argument name -> its schema, local `$ref`s resolved against `root` (default: the schema itself)."""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return {}
    return {str(name): resolve_schema(root or schema, prop) for name, prop in props.items()}


def required(schema: Mapping[str, Any]) -> list[str]:
    names = schema.get("required")
    return [str(n) for n in names] if isinstance(names, list) else []


def _variants(prop: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    alternatives = prop.get("anyOf") or prop.get("oneOf")
    if isinstance(alternatives, list):
        return [a for a in alternatives if isinstance(a, dict)]
    return [prop]


def prop_types(prop: Mapping[str, Any]) -> set[str]:
    """The JSON types a property admits (`anyOf`/`oneOf` members and enum values included)."""
    types: set[str] = set()
    for variant in _variants(prop):
        declared = variant.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(str(t) for t in declared)
        for value in variant.get("enum") or ():
            types.add(json_type(value))
    return types


def enum_values(prop: Mapping[str, Any]) -> list[Any] | None:
    for variant in _variants(prop):
        values = variant.get("enum")
        if isinstance(values, list) and values:
            return list(values)
    return None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def type_fits(value: Any, types: set[str]) -> bool:
    """Whether a literal has one of the JSON types (an empty set admits anything)."""
    kind = json_type(value)
    return not types or kind in types or (kind == "integer" and "number" in types)


# -- values against a schema ----------------------------------------------------------------------


_INT = re.compile(r"^\s*-?\d+\s*$")
_FLOAT = re.compile(r"^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_TRUE, _FALSE = {"true", "yes", "y", "1", "on"}, {"false", "no", "n", "0", "off"}
_PREFERENCE = ("integer", "number", "boolean", "array", "object", "string")


def _to(value: Any, kind: str, prop: Mapping[str, Any]) -> Any:
    """`value` converted to JSON type `kind`, or NO_VALUE (a null converts to nothing)."""
    if value is None:
        return NO_VALUE
    if isinstance(value, list) and len(value) == 1 and kind not in ("array", "string"):
        return _to(value[0], kind, prop)
    if kind in ("integer", "number"):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.match(value):
            return int(value)
        if isinstance(value, str) and _FLOAT.match(value):
            number = float(value)
            return int(number) if number.is_integer() else number if kind == "number" else NO_VALUE
        return NO_VALUE
    if kind == "boolean":
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        return True if text in _TRUE else False if text in _FALSE else NO_VALUE
    if kind == "string":
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            return value[0]
        return json.dumps(value, ensure_ascii=False) if value is not None else NO_VALUE
    if kind == "array":
        item = coerce(value, prop.get("items") or {})
        return [value if item is NO_VALUE else item]
    if kind == "object" and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return NO_VALUE
        return parsed if isinstance(parsed, dict) else NO_VALUE
    return NO_VALUE


def coerce(value: Any, prop: Mapping[str, Any]) -> Any:
    """`value` converted to a type the property admits ("3" -> 3, 3 -> "3", "true" -> true, x -> [x]),
    items of arrays included; NO_VALUE when it already fits or nothing fits."""
    types = prop_types(prop)
    items = prop.get("items")
    if isinstance(value, list) and "array" in types and isinstance(items, dict):
        fixed = [coerce(item, items) for item in value]
        if any(item is not NO_VALUE for item in fixed):
            return [old if new is NO_VALUE else new for old, new in zip(value, fixed, strict=True)]
    if not types or type_fits(value, types):
        return NO_VALUE
    for kind in sorted(types, key=lambda t: _PREFERENCE.index(t) if t in _PREFERENCE else 99):
        converted = _to(value, kind, prop)
        if converted is not NO_VALUE:
            return converted
    return NO_VALUE


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
    number = _to(value, "number", {})
    if numbers and (isinstance(number, int | float) or type_fits(value, {"number"})):
        target = float(value if number is NO_VALUE else number)
        return min(numbers, key=lambda o: abs(o - target))
    return options[0]
