"""Tool retrieval: the top-k tools of a large catalog that a small model's context can hold."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rapidfuzz import fuzz, process

from evoflux.servers.tools import ToolSpec

__all__ = ["ToolIndex", "rank_tools", "spread_by_server", "tokenize", "tool_document"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z]+|[0-9]+")
_STOP = frozenset(
    re.findall(
        r"\w+",
        """a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each even few for from further get got had
    has have having he her here hers him his how i if in into is it its itself just let like me more most
    my need no nor not now of off on once only or other our out over own please really same she should so
    some such than thanks that the their them then there these they this those through to too under until
    up us use using very via was we were what when where which while who whom why will with would you your
    yours hey hi im ive id dont cant want wondering trying also able lot sure ok okay""",
    )
)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")


def _stem(word: str) -> str:
    """A light suffix stripper: `searches`, `searching`, `searcher` -> `search`; `queries` -> `query`;
    `geocode`, `geocoding` -> `geocod`."""
    if len(word) <= 3:
        return word
    stem = word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                stem += "y"
            elif suffix == "s" and stem.endswith(("s", "u", "i")):  # `class`, `status`, `analysis`
                stem = word
            elif len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":  # `mapping` -> `map`
                stem = stem[:-1]
            break
    return stem[:-1] if len(stem) > 4 and stem.endswith("e") else stem


def tokenize(text: str) -> list[str]:
    """Words of `text`: camelCase/snake_case split, lowercased, stop words dropped, lightly stemmed."""
    words: list[str] = []
    for raw in _WORD.findall(_CAMEL.sub(" ", text)):
        word = raw.lower()
        if word not in _STOP and (len(word) > 1 or word.isdigit()):
            words.append(_stem(word))
    return words


_MAX_ENUM = 12


def _parameter_text(schema: dict[str, Any], depth: int = 0) -> Iterable[str]:
    """The names, descriptions and enum values of the parameters in an input schema, nested ones and
    local definitions (`$defs`) included: a unit or a mode named only in an enum still finds its tool."""
    if depth >= 4:
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and len(enum) <= _MAX_ENUM:  # long enums (time zones, codes) add only noise
        yield " ".join(v for v in enum if isinstance(v, str))
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            yield str(name)
            if isinstance(sub, dict):
                if isinstance(sub.get("description"), str):
                    yield sub["description"]
                yield from _parameter_text(sub, depth + 1)
    for key in ("items", "anyOf", "oneOf", "allOf", "$defs", "definitions"):
        sub = schema.get(key)
        subs = (
            sub
            if isinstance(sub, list)
            else list(sub.values())
            if key in ("$defs", "definitions") and isinstance(sub, dict)
            else [sub]
        )
        for one in subs:
            if isinstance(one, dict):
                yield from _parameter_text(one, depth + 1)


def tool_document(tool: ToolSpec, *, name_weight: int = 3) -> list[str]:
    """The words a tool is indexed under: its own and its server's name (counted `name_weight` times),
    its description, and its parameters' names and descriptions."""
    name = tokenize(f"{tool.tool} {tool.server}")
    params = tokenize(" ".join(_parameter_text(tool.input_schema)))
    return name * name_weight + tokenize(tool.description) + params


class ToolIndex:
    """A BM25 index over a fixed list of tools; build once, rank many tasks."""

    def __init__(
        self,
        tools: Sequence[ToolSpec],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        fuzzy_cutoff: float = 88.0,
        fuzzy_weight: float = 0.5,
        server_weight: float = 0.5,
    ) -> None:
        self.tools = list(tools)
        self.server_weight = server_weight
        self.k1, self.b = k1, b
        self.fuzzy_cutoff, self.fuzzy_weight = fuzzy_cutoff, fuzzy_weight
        documents = [tool_document(t) for t in self.tools]
        self._counts = [Counter(d) for d in documents]
        self._lengths = [len(d) for d in documents]
        self._average = sum(self._lengths) / len(self._lengths) if documents else 1.0
        frequency: Counter[str] = Counter()
        for counts in self._counts:
            frequency.update(counts.keys())
        n = len(documents)
        self._idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in frequency.items()}
        self._vocabulary = sorted(self._idf)

    def _query_weights(self, task: str) -> dict[str, float]:
        """Each catalog word the task names, with its weight (1 per occurrence, less for fuzzy matches)."""
        weights: dict[str, float] = {}
        for word, count in sorted(Counter(tokenize(task)).items()):
            if word in self._idf:
                weights[word] = weights.get(word, 0.0) + count
            elif len(word) >= 5 and self._vocabulary:
                match = process.extractOne(
                    word, self._vocabulary, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff
                )
                if match is not None:
                    near = match[0]
                    weights[near] = weights.get(near, 0.0) + count * self.fuzzy_weight
        return weights

    def scores(self, task: str) -> list[float]:
        """The score of every tool for the task, in catalog order: its BM25 score plus `server_weight`
        times the best BM25 score among its server's tools (a task that needs one tool of a server
        usually needs its siblings too)."""
        bm25 = self._bm25(task)
        best: dict[str, float] = {}
        for tool, score in zip(self.tools, bm25, strict=True):
            best[tool.server] = max(best.get(tool.server, 0.0), score)
        return [s + self.server_weight * best[t.server] for t, s in zip(self.tools, bm25, strict=True)]

    def _bm25(self, task: str) -> list[float]:
        weights = self._query_weights(task)
        result = []
        for counts, length in zip(self._counts, self._lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / self._average)
            score = 0.0
            for word, weight in weights.items():
                tf = counts.get(word, 0)
                if tf:
                    score += weight * self._idf[word] * tf * (self.k1 + 1) / (tf + norm)
            result.append(score)
        return result

    def rank(self, task: str, k: int) -> list[ToolSpec]:
        """The `k` best tools for the task, best first (all of them when there are fewer)."""
        scores = self.scores(task)
        order = sorted(range(len(self.tools)), key=lambda i: (-scores[i], self.tools[i].name))
        return [self.tools[i] for i in order[: max(k, 0)]]


def rank_tools(task: str, tools: Sequence[ToolSpec], k: int) -> list[ToolSpec]:
    """The `k` tools most relevant to the task by BM25, best first; deterministic."""
    return ToolIndex(tools).rank(task, k)


def spread_by_server(ranked: Sequence[ToolSpec], k: int) -> list[ToolSpec]:
    """`k` tools from a ranked list, the best tool of each of the first `k // 2` servers first, then the
    rest in rank order: one server's many near-identical tools (ten converters) must not crowd out the
    one tool of another server that does the part still missing (arithmetic, storage)."""
    firsts: dict[str, ToolSpec] = {}
    for spec in ranked:
        if len(firsts) >= max(1, k // 2):
            break
        firsts.setdefault(spec.server, spec)
    chosen = list(firsts.values())
    chosen += [spec for spec in ranked if spec not in chosen]
    return chosen[: max(k, 0)]
