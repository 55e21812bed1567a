"""Tool retrieval: tokenization, ranking, determinism and speed on a large catalog."""

from __future__ import annotations

import random
import time

from evoflux.servers.retrieval import ToolIndex, rank_tools, tokenize, tool_document
from evoflux.servers.tools import ToolSpec


def _tool(server: str, tool: str, description: str, **params: str) -> ToolSpec:
    schema = {
        "type": "object",
        "properties": {n: {"type": "string", "description": d} for n, d in params.items()},
    }
    return ToolSpec(
        name=f"{server}.{tool}", server=server, tool=tool, description=description, input_schema=schema
    )


CATALOG = [
    _tool("weather", "get_weather_forecast", "Daily forecast of temperature and rain.", city="City name"),
    _tool("weather", "get_current_weather", "Current conditions for a place.", location="Where"),
    _tool("maps", "maps_geocode", "Convert an address into coordinates.", address="Street address"),
    _tool(
        "maps",
        "maps_directions",
        "Driving or walking directions between two places.",
        origin="",
        destination="",
    ),
    _tool("papers", "searchArxiv", "Search arXiv preprints by keywords.", query="Search terms"),
    _tool("papers", "download_pdf", "Download the PDF of a paper.", paper_id="arXiv identifier"),
    _tool("math", "add", "Add two numbers."),
    _tool("nutrition", "get_fruit_nutrition", "Calories, sugar and vitamins of a fruit.", fruit_name="Fruit"),
]


def test_tokenize_splits_identifiers_drops_stop_words_and_stems() -> None:
    assert tokenize("getWeatherForecast") == ["weath", "forecast"]
    assert tokenize("maps_reverse_geocode for the HTTPServer") == ["map", "revers", "geocod", "http", "serv"]
    assert tokenize("Searching searches searcher") == ["search"] * 3
    assert tokenize("queries geocoding status") == ["query", "geocod", "status"]


def test_tool_document_includes_names_description_and_parameters() -> None:
    words = tool_document(CATALOG[4])
    assert words.count("arxiv") >= 3  # the tool name counts more than a word of the description
    assert {"preprint", "keyword", "query", "term"} <= set(words)


def test_the_relevant_tool_ranks_first() -> None:
    cases = {
        "Will it rain in Lisbon tomorrow? I need the forecast.": "weather.get_weather_forecast",
        "What are the coordinates of 10 Downing Street?": "maps.maps_geocode",
        "Find recent arxiv preprints about protein folding": "papers.searchArxiv",
        "How many calories in a banana?": "nutrition.get_fruit_nutrition",
        "How do I drive from Rome to Naples?": "maps.maps_directions",
    }
    for task, expected in cases.items():
        assert rank_tools(task, CATALOG, 1)[0].name == expected, task


def test_a_misspelled_word_still_matches() -> None:
    assert rank_tools("nutritoin facts please", CATALOG, 1)[0].name == "nutrition.get_fruit_nutrition"


def test_sibling_tools_of_the_best_server_come_next() -> None:
    top = [t.server for t in rank_tools("forecast for Oslo", CATALOG, 2)]
    assert top == ["weather", "weather"]


def test_k_bounds_the_result() -> None:
    assert len(rank_tools("anything", CATALOG, 3)) == 3
    assert len(rank_tools("anything", CATALOG, 100)) == len(CATALOG)
    assert rank_tools("anything", CATALOG, 0) == []
    assert rank_tools("anything", [], 5) == []


def test_ranking_is_deterministic_and_ties_go_to_the_name() -> None:
    shuffled = CATALOG[:]
    random.Random(3).shuffle(shuffled)
    task = "directions and forecast"
    assert [t.name for t in rank_tools(task, CATALOG, 8)] == [t.name for t in rank_tools(task, shuffled, 8)]
    unrelated = rank_tools("zzz qqq", CATALOG, 8)
    assert [t.name for t in unrelated] == sorted(t.name for t in CATALOG)


def test_a_250_tool_catalog_ranks_in_milliseconds() -> None:
    rng = random.Random(0)
    words = [
        "list",
        "get",
        "search",
        "create",
        "delete",
        "update",
        "file",
        "user",
        "issue",
        "repo",
        "weather",
        "price",
        "stock",
        "map",
        "note",
    ]
    tools = [
        _tool(
            f"server{i % 25}",
            f"{rng.choice(words)}_{rng.choice(words)}_{i}",
            " ".join(rng.choices(words, k=12)),
        )
        for i in range(250)
    ]
    started = time.perf_counter()
    index = ToolIndex(tools)
    for _ in range(20):
        index.rank("search the stock price of a user repo and update the note", 10)
    assert (time.perf_counter() - started) < 2.0


def test_a_unit_named_only_in_a_short_enum_finds_its_tool() -> None:
    def converter(tool: str, units: list[str]) -> ToolSpec:
        unit = {"type": "string", "enum": units}
        schema = {
            "type": "object",
            "properties": {"value": {"type": "number"}, "from_unit": unit, "to_unit": unit},
        }
        return ToolSpec(
            name=f"u.{tool}", server="u", tool=tool, description="Convert between units.", input_schema=schema
        )

    zones = [f"Zone/City{i}" for i in range(40)] + ["fahrenheit"]  # a long enum is not indexed
    tools = [
        converter("convert_angle", ["degrees", "radians"]),
        converter("convert_temperature", ["celsius", "fahrenheit", "kelvin"]),
        converter("convert_time_zone", zones),
    ]
    ranked = rank_tools("Convert 100 degrees Fahrenheit to Celsius", tools, 3)
    assert ranked[0].name == "u.convert_temperature"


def test_spread_by_server_keeps_the_best_tool_of_a_second_server() -> None:
    from evoflux.servers.retrieval import spread_by_server
    from evoflux.servers.tools import ToolSpec

    converters = [ToolSpec(name=f"units.convert_{i}", server="units", tool=f"convert_{i}") for i in range(8)]
    calculator = ToolSpec(name="calc.calculate", server="calc", tool="calculate")
    picked = spread_by_server([*converters, calculator], 4)
    assert [t.name for t in picked] == [
        "units.convert_0",
        "calc.calculate",
        "units.convert_1",
        "units.convert_2",
    ]
    assert spread_by_server([*converters, calculator], 1) == [converters[0]]
