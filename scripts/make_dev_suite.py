"""Build the dev benchmark suite, benchmarks/dev.jsonl, by running each task's reference calls.

Every task is a natural-language request plus the reference tool calls that answer it. The calls are
made against the real example servers (src/evoflux/data/servers.json), each task in a fresh temporary
workspace, so the expected values in the file are what the servers actually return. A reference call
that fails (an error result, or a batch conversion with a failed item) stops the script with a non-zero
exit status and nothing is written.

    .venv/bin/python scripts/make_dev_suite.py [--out benchmarks/dev.jsonl] [--only ID ...]

Each output line is one JSON object:
    {"id", "task", "servers", "checks": {"numbers": [{"value", "tol"}], "contains": [...], "tools": [...]},
     "min_steps", "notes"}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import load_servers

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "dev.jsonl"
CALL_TIMEOUT = 30.0

# Zones whose UTC offset never changes (no daylight saving time), so a fixed HH:MM converts the same
# way on every date. Only these may appear in time tasks.
FIXED_OFFSET_ZONES = frozenset(
    {
        "UTC",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Asia/Singapore",
        "Asia/Dubai",
        "Asia/Kathmandu",
        "Asia/Shanghai",
        "Africa/Nairobi",
        "America/Bogota",
    }
)

# Tools that another tool can stand in for: a check passes if any one of them was called successfully.
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "filesystem.read_text_file": (
        "filesystem.read_text_file",
        "filesystem.read_file",
        "filesystem.read_multiple_files",
    ),
    "filesystem.list_directory": (
        "filesystem.list_directory",
        "filesystem.list_directory_with_sizes",
        "filesystem.directory_tree",
        "filesystem.search_files",
    ),
    "memory.search_nodes": ("memory.search_nodes", "memory.open_nodes", "memory.read_graph"),
    "memory.open_nodes": ("memory.open_nodes", "memory.search_nodes", "memory.read_graph"),
}
for _kind in (
    "temperature", "length", "mass", "volume", "area", "speed", "energy", "power",
    "pressure", "angle", "computer_data", "time", "force", "density",
):  # fmt: skip
    ALTERNATIVES[f"unit_converter.convert_{_kind}"] = (
        f"unit_converter.convert_{_kind}",
        "unit_converter.convert_batch",
    )

KINDS = ("single", "chain2", "dependent", "multi_server")


class ReferenceError_(RuntimeError):
    """A reference call failed: the suite cannot be built from it."""


@dataclass
class Expect:
    """What a correct final answer must show."""

    numbers: list[float] = field(default_factory=list)
    contains: list[str] = field(default_factory=list)


@dataclass
class Ref:
    """Makes a task's reference calls on a live catalog and records them."""

    task_id: str
    catalog: Any
    calls: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        """Call `tool`; return its structured output (else its text); raise on any failure."""
        result = await self.catalog.call_tool(tool, args, timeout=CALL_TIMEOUT)
        where = f"task {self.task_id}: reference call {tool}({json.dumps(args)})"
        if result.is_error:
            raise ReferenceError_(f"{where} failed [{result.error_kind}]: {result.text}")
        value = result.structured if result.structured is not None else result.text
        if tool == "unit_converter.convert_batch":  # per-item failures do not set is_error
            failed = [r for r in value.get("batch_results", []) if not r.get("success")]
            if failed:
                raise ReferenceError_(f"{where} had failed items: {failed}")
        self.calls.append(tool)
        self.texts.append(result.text)
        return value

    async def convert(self, kind: str, value: float, from_unit: str, to_unit: str) -> float:
        out = await self.call(
            f"unit_converter.convert_{kind}", {"value": value, "from_unit": from_unit, "to_unit": to_unit}
        )
        return float(out["converted_value"])

    async def calc(self, expression: str) -> float:
        out = await self.call("calculator.calculate", {"expression": expression})
        return float(out["result"] if isinstance(out, dict) else out)

    async def clock(self, source: str, hhmm: str, target: str) -> tuple[str, float]:
        """Convert HH:MM between fixed-offset zones: the target HH:MM and the offset in hours."""
        for zone in (source, target):
            if zone not in FIXED_OFFSET_ZONES:
                raise ReferenceError_(f"task {self.task_id}: {zone} is not a fixed-offset zone")
        out = await self.call(
            "time.convert_time", {"source_timezone": source, "time": hhmm, "target_timezone": target}
        )
        match = re.search(r"T(\d\d:\d\d)", out["target"]["datetime"])
        if match is None:
            raise ReferenceError_(f"task {self.task_id}: unexpected convert_time output {out}")
        return match.group(1), float(out["time_difference"].rstrip("h"))


Reference = Callable[[Ref], Awaitable[Expect]]


@dataclass(frozen=True)
class Task:
    id: str
    kind: str
    servers: tuple[str, ...]
    task: str
    notes: str
    reference: Reference


TASKS: list[Task] = []


def task(
    id: str, kind: str, servers: str, text: str, notes: str = "", *, into: list[Task] = TASKS
) -> Callable[[Reference], Reference]:
    """Register a task whose reference calls are the decorated coroutine (in `into`: the dev suite, else
    another suite that reuses this machinery, such as scripts/make_heldout_suite.py).

    `servers` is the space-separated list of servers the reference calls use, in order of first use.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")

    def register(fn: Reference) -> Reference:
        into.append(Task(id, kind, tuple(servers.split()), " ".join(text.split()), notes, fn))
        return fn

    return register


FRESH_FILES = (
    "Needs a fresh workspace per task: the file server sees only ${EVOFLUX_FILES}, paths are relative."
)
FRESH_MEMORY = (
    "Needs a fresh workspace per task: the memory graph (${EVOFLUX_STATE}/memory.jsonl) starts empty."
)
NO_DST = (
    "Zones have no DST, so the clock time is date-independent; the time server stamps today's date, "
    "so the date and weekday are not checked."
)

# --- single-step ----------------------------------------------------------------------------------


@task("s01-fahrenheit-to-celsius", "single", "unit_converter", "What is 72 degrees Fahrenheit in Celsius?")
async def _s01(r: Ref) -> Expect:
    return Expect([await r.convert("temperature", 72, "fahrenheit", "celsius")])


@task(
    "s02-megabytes-to-kilobytes",
    "single",
    "unit_converter",
    "How many kilobytes are there in 3.5 megabytes?",
    "The converter uses binary prefixes (1 MB = 1024 KB).",
)
async def _s02(r: Ref) -> Expect:
    return Expect([await r.convert("computer_data", 3.5, "megabytes", "kilobytes")])


@task("s03-percentage", "single", "calculator", "Work out 18.5 percent of 2640.")
async def _s03(r: Ref) -> Expect:
    return Expect([await r.calc("2640 * 18.5 / 100")])


@task(
    "s04-singapore-to-kolkata",
    "single",
    "time",
    "If it is 16:20 in Singapore (Asia/Singapore), what time is it in India (Asia/Kolkata)? "
    "Give the time in 24-hour HH:MM format.",
    NO_DST,
)
async def _s04(r: Ref) -> Expect:
    hhmm, _ = await r.clock("Asia/Singapore", "16:20", "Asia/Kolkata")
    return Expect(contains=[hhmm])


# --- two-step chains --------------------------------------------------------------------------------


@task(
    "c01-celsius-doubled",
    "chain2",
    "unit_converter calculator",
    "Convert 25 degrees Celsius to Fahrenheit, then multiply the result by 2.",
)
async def _c01(r: Ref) -> Expect:
    f = await r.convert("temperature", 25, "celsius", "fahrenheit")
    return Expect([await r.calc(f"{f!r} * 2")])


@task(
    "c02-marathon-quarters",
    "chain2",
    "unit_converter calculator",
    "A marathon is 26.2 miles long. Convert that distance to kilometers and divide it by 4 "
    "to get the length of each quarter in kilometers.",
)
async def _c02(r: Ref) -> Expect:
    km = await r.convert("length", 26.2, "mile", "kilometer")
    return Expect([await r.calc(f"{km!r} / 4")])


@task(
    "c03-suitcase-overweight",
    "chain2",
    "unit_converter calculator",
    "My suitcase weighs 50 pounds. Convert its weight to kilograms, then tell me by how many "
    "kilograms it exceeds the 20 kg airline limit.",
)
async def _c03(r: Ref) -> Expect:
    kg = await r.convert("mass", 50, "pound", "kilogram")
    return Expect([await r.calc(f"{kg!r} - 20")])


@task(
    "c04-fuel-cost",
    "chain2",
    "unit_converter calculator",
    "I put 5 US gallons of fuel in the car. How many liters is that, and what does it cost "
    "at 1.85 per liter?",
    "Both the liters and the cost are checked.",
)
async def _c04(r: Ref) -> Expect:
    liters = await r.convert("volume", 5, "gallon (US)", "liter")
    return Expect([liters, await r.calc(f"{liters!r} * 1.85")])


@task(
    "c05-engine-energy",
    "chain2",
    "unit_converter calculator",
    "An engine delivers 150 horsepower. Convert that to kilowatts, then compute how many "
    "kilowatt hours it produces running flat out for 3 hours.",
)
async def _c05(r: Ref) -> Expect:
    kw = await r.convert("power", 150, "horsepower", "kilowatt")
    return Expect([await r.calc(f"{kw!r} * 3")])


@task(
    "c06-acre-plots",
    "chain2",
    "unit_converter calculator",
    "A 2 acre field is split into 40 equal garden plots. Convert the field's area to square meters "
    "and work out the area of one plot in square meters.",
)
async def _c06(r: Ref) -> Expect:
    m2 = await r.convert("area", 2, "acre", "square meter")
    return Expect([await r.calc(f"{m2!r} / 40")])


@task(
    "c07-speed-distance",
    "chain2",
    "unit_converter calculator",
    "A train moves at 100 kilometers per hour. Express that speed in meters per second, then "
    "work out how many meters it covers in 45 seconds.",
)
async def _c07(r: Ref) -> Expect:
    mps = await r.convert("speed", 100, "kilometers per hour", "meters per second")
    return Expect([await r.calc(f"{mps!r} * 45")])


@task(
    "c08-kcal-per-meal",
    "chain2",
    "unit_converter calculator",
    "My daily food energy is 2000 kilocalories spread evenly over 4 meals. Convert the daily "
    "total to kilojoules and tell me how many kilojoules each meal has.",
)
async def _c08(r: Ref) -> Expect:
    kj = await r.convert("energy", 2000, "kilocalorie", "kilojoule")
    return Expect([await r.calc(f"{kj!r} / 4")])


@task(
    "c09-tyre-pressure",
    "chain2",
    "unit_converter calculator",
    "The recommended tyre pressure is 32 psi. Convert it to kilopascals and then compute 90% of "
    "that value in kilopascals.",
)
async def _c09(r: Ref) -> Expect:
    kpa = await r.convert("pressure", 32, "psi", "kilopascal")
    return Expect([await r.calc(f"{kpa!r} * 0.9")])


@task(
    "c10-sine-of-right-angle",
    "chain2",
    "unit_converter calculator",
    "Convert an angle of 90 degrees to radians, then compute the sine of that radian value.",
    "sin(pi/2) = 1.",
)
async def _c10(r: Ref) -> Expect:
    rad = await r.convert("angle", 90, "degrees", "radians")
    return Expect([await r.calc(f"sin({rad!r})")])


@task(
    "c11-singapore-call-two-zones",
    "chain2",
    "time",
    "A video call starts at 18:00 Singapore time (Asia/Singapore). What is the local start time "
    "in Dubai (Asia/Dubai) and in Nairobi (Africa/Nairobi)? Use 24-hour HH:MM times.",
    NO_DST,
)
async def _c11(r: Ref) -> Expect:
    dubai, _ = await r.clock("Asia/Singapore", "18:00", "Asia/Dubai")
    nairobi, _ = await r.clock("Asia/Singapore", "18:00", "Africa/Nairobi")
    return Expect(contains=[dubai, nairobi])


@task(
    "c12-backup-dvds",
    "chain2",
    "unit_converter calculator",
    "A backup of 1.5 terabytes must go onto 4.7 gigabyte DVDs. Convert the backup size to gigabytes, "
    "then work out how many whole DVDs are needed (round up).",
    "Binary prefixes: 1.5 TB = 1536 GB; 1536 / 4.7 = 326.8, rounded up to 327.",
)
async def _c12(r: Ref) -> Expect:
    gb = await r.convert("computer_data", 1.5, "terabytes", "gigabytes")
    return Expect([await r.calc(f"ceil({gb!r} / 4.7)")])


# --- three-to-four-step dependent tasks ------------------------------------------------------------

BATCH_NOTE = "The independent conversions may also be done in one batch conversion (fewer steps)."


@task(
    "d01-pound-foot-product",
    "dependent",
    "unit_converter calculator",
    "Convert 10 pounds to kilograms and 3 feet to meters, then multiply the two converted numbers together.",
    BATCH_NOTE,
)
async def _d01(r: Ref) -> Expect:
    kg = await r.convert("mass", 10, "pound", "kilogram")
    m = await r.convert("length", 3, "foot", "meter")
    return Expect([await r.calc(f"{kg!r} * {m!r}")])


@task(
    "d02-room-tiles",
    "dependent",
    "unit_converter calculator",
    "A room measures 12 feet by 15 feet. Convert both sides to meters, then work out how many "
    "floor tiles of 0.25 square meters each are needed to cover the floor (a fractional answer "
    "is fine).",
    BATCH_NOTE,
)
async def _d02(r: Ref) -> Expect:
    a = await r.convert("length", 12, "foot", "meter")
    b = await r.convert("length", 15, "foot", "meter")
    return Expect([await r.calc(f"{a!r} * {b!r} / 0.25")])


@task(
    "d03-fuel-economy",
    "dependent",
    "unit_converter calculator",
    "My car went 240 miles on 8 US gallons of fuel. Convert the distance to kilometers and the fuel "
    "to liters, then compute the fuel economy in kilometers per liter.",
    BATCH_NOTE,
)
async def _d03(r: Ref) -> Expect:
    km = await r.convert("length", 240, "mile", "kilometer")
    liters = await r.convert("volume", 8, "gallon (US)", "liter")
    return Expect([await r.calc(f"{km!r} / {liters!r}")])


@task(
    "d04-fever-roundtrip",
    "dependent",
    "unit_converter calculator",
    "A body temperature of 98.6 degrees Fahrenheit rises by 1.5 degrees Celsius. Convert 98.6 F to "
    "Celsius, add 1.5 to it, and convert the new temperature back to Fahrenheit.",
    "Strictly sequential: each step uses the previous result.",
)
async def _d04(r: Ref) -> Expect:
    c = await r.convert("temperature", 98.6, "fahrenheit", "celsius")
    c2 = await r.calc(f"{c!r} + 1.5")
    return Expect([await r.convert("temperature", c2, "celsius", "fahrenheit")])


@task(
    "d05-recipe-volume",
    "dependent",
    "unit_converter calculator",
    "A recipe uses 3 cups of milk and 4 tablespoons of cream. Convert each to milliliters, add them "
    "up, and then express the total in US fluid ounces.",
    "Both the milliliter total and the fluid-ounce total are checked. " + BATCH_NOTE,
)
async def _d05(r: Ref) -> Expect:
    milk = await r.convert("volume", 3, "cup", "milliliter")
    cream = await r.convert("volume", 4, "tablespoon", "milliliter")
    total = await r.calc(f"{milk!r} + {cream!r}")
    return Expect([total, await r.convert("volume", total, "milliliter", "fluid ounce (US)")])


@task(
    "d06-cycling-nautical",
    "dependent",
    "unit_converter calculator",
    "A cyclist holds 18 miles per hour for 2.5 hours. Convert the speed to kilometers per hour, "
    "compute the distance ridden in kilometers, then convert that distance to nautical miles.",
    "Both the kilometers and the nautical miles are checked.",
)
async def _d06(r: Ref) -> Expect:
    kmh = await r.convert("speed", 18, "miles per hour", "kilometers per hour")
    km = await r.calc(f"{kmh!r} * 2.5")
    return Expect([km, await r.convert("length", km, "kilometer", "nautical mile")])


@task(
    "d07-marathon-pace",
    "dependent",
    "unit_converter calculator",
    "A runner finishes a 26.2 mile marathon in 3.5 hours. Convert the distance to kilometers and the "
    "time to minutes, then find the average pace in minutes per kilometer.",
    BATCH_NOTE,
)
async def _d07(r: Ref) -> Expect:
    km = await r.convert("length", 26.2, "mile", "kilometer")
    minutes = await r.convert("time", 3.5, "hours", "minutes")
    return Expect([await r.calc(f"{minutes!r} / {km!r}")])


@task(
    "d08-bmi",
    "dependent",
    "unit_converter calculator",
    "Someone weighs 165 pounds and is 70 inches tall. Convert the weight to kilograms and the height "
    "to meters, then compute the body mass index (kilograms divided by meters squared).",
    BATCH_NOTE,
)
async def _d08(r: Ref) -> Expect:
    kg = await r.convert("mass", 165, "pound", "kilogram")
    m = await r.convert("length", 70, "inch", "meter")
    return Expect([await r.calc(f"{kg!r} / {m!r} ** 2")])


@task(
    "d09-bulb-energy",
    "dependent",
    "calculator unit_converter",
    "A 60 watt bulb burns 5 hours a day for 30 days. Compute the energy used in watt hours, convert "
    "it to kilowatt hours, and also express it in megajoules.",
    "Both kilowatt hours and megajoules are checked (watt hours -> megajoules is one direct "
    "conversion, but the task asks for both).",
)
async def _d09(r: Ref) -> Expect:
    wh = await r.calc("60 * 5 * 30")
    kwh = await r.convert("energy", wh, "watt hour", "kilowatt hour")
    return Expect([kwh, await r.convert("energy", kwh, "kilowatt hour", "megajoule")])


@task(
    "d10-tank-volume",
    "dependent",
    "calculator unit_converter",
    "A rectangular water tank is 1.2 m long, 0.5 m wide and 0.4 m deep. Compute its volume in cubic "
    "meters, convert that to liters, and then to US gallons.",
    "Both liters and US gallons are checked.",
)
async def _d10(r: Ref) -> Expect:
    m3 = await r.calc("1.2 * 0.5 * 0.4")
    liters = await r.convert("volume", m3, "cubic meter", "liter")
    return Expect([liters, await r.convert("volume", liters, "liter", "gallon (US)")])


@task(
    "d11-wheel-arc",
    "dependent",
    "unit_converter calculator",
    "A wheel with a radius of 0.35 meters turns 2.5 full turns. Convert the 2.5 turns to radians, "
    "multiply by the radius to get the distance rolled in meters, then convert that distance to feet.",
    "Both the meters and the feet are checked.",
)
async def _d11(r: Ref) -> Expect:
    rad = await r.convert("angle", 2.5, "turns", "radians")
    meters = await r.calc(f"{rad!r} * 0.35")
    return Expect([meters, await r.convert("length", meters, "meter", "foot")])


@task(
    "d12-land-in-acres",
    "dependent",
    "unit_converter calculator",
    "I own a 3.5 hectare plot and my neighbour owns 12 acres. Convert both areas to square meters, "
    "add them together, and tell me the combined area in acres.",
    "Both the square-meter total and the acres are checked. " + BATCH_NOTE,
)
async def _d12(r: Ref) -> Expect:
    a = await r.convert("area", 3.5, "hectare", "square meter")
    b = await r.convert("area", 12, "acre", "square meter")
    total = await r.calc(f"{a!r} + {b!r}")
    return Expect([total, await r.convert("area", total, "square meter", "acre")])


# --- multi-server and stateful tasks ---------------------------------------------------------------


@task(
    "m01-write-read-shopping",
    "multi_server",
    "filesystem",
    "Create a file called shopping.txt containing the text 'apples, lavender honey, oat milk', then "
    "read the file back and tell me what it says.",
    FRESH_FILES,
)
async def _m01(r: Ref) -> Expect:
    await r.call(
        "filesystem.write_file", {"path": "shopping.txt", "content": "apples, lavender honey, oat milk"}
    )
    await r.call("filesystem.read_text_file", {"path": "shopping.txt"})
    return Expect(contains=["lavender honey"])


@task(
    "m02-folder-listing",
    "multi_server",
    "filesystem",
    "Make a folder named projects, write the text 'status: green' into a file alpha.txt inside it, "
    "then list what the projects folder contains.",
    FRESH_FILES + " The folder must be created first: writing does not create parent folders.",
)
async def _m02(r: Ref) -> Expect:
    await r.call("filesystem.create_directory", {"path": "projects"})
    await r.call("filesystem.write_file", {"path": "projects/alpha.txt", "content": "status: green"})
    await r.call("filesystem.list_directory", {"path": "projects"})
    return Expect(contains=["alpha.txt"])


@task(
    "m03-edit-meeting-day",
    "multi_server",
    "filesystem",
    "Write 'The meeting is on Tuesday' to a file named meeting.txt. Then edit the file so that Tuesday "
    "becomes Thursday, and read the file to confirm the new day.",
    FRESH_FILES,
)
async def _m03(r: Ref) -> Expect:
    await r.call("filesystem.write_file", {"path": "meeting.txt", "content": "The meeting is on Tuesday"})
    await r.call(
        "filesystem.edit_file",
        {"path": "meeting.txt", "edits": [{"oldText": "Tuesday", "newText": "Thursday"}]},
    )
    await r.call("filesystem.read_text_file", {"path": "meeting.txt"})
    return Expect(contains=["Thursday"])


@task(
    "m04-order-total-from-file",
    "multi_server",
    "filesystem calculator",
    "Save an order note in order.txt with the text 'unit price 48.50, quantity 7'. Read the note back "
    "and use the calculator to compute the order total.",
    FRESH_FILES,
)
async def _m04(r: Ref) -> Expect:
    await r.call("filesystem.write_file", {"path": "order.txt", "content": "unit price 48.50, quantity 7"})
    await r.call("filesystem.read_text_file", {"path": "order.txt"})
    return Expect([await r.calc("48.50 * 7")])


@task(
    "m05-temperature-to-file",
    "multi_server",
    "unit_converter filesystem",
    "Convert 30 degrees Celsius to Fahrenheit, save the converted number in a file named temp.txt, "
    "and read the file back to confirm what was saved.",
    FRESH_FILES + " The file content is whatever the plan writes; the answer must report 86.",
)
async def _m05(r: Ref) -> Expect:
    f = await r.convert("temperature", 30, "celsius", "fahrenheit")
    await r.call("filesystem.write_file", {"path": "temp.txt", "content": f"{f:g}"})
    await r.call("filesystem.read_text_file", {"path": "temp.txt"})
    return Expect([f])


@task(
    "m06-memory-lovelace",
    "multi_server",
    "memory",
    "Remember that Ada Lovelace is a person who wrote the first published algorithm, and that the "
    "Analytical Engine is a machine. Record that Ada Lovelace wrote notes on the Analytical Engine. "
    "Then search the memory for 'algorithm' and tell me which entity matches.",
    FRESH_MEMORY,
)
async def _m06(r: Ref) -> Expect:
    await r.call(
        "memory.create_entities",
        {
            "entities": [
                {
                    "name": "Ada Lovelace",
                    "entityType": "person",
                    "observations": ["wrote the first published algorithm"],
                },
                {"name": "Analytical Engine", "entityType": "machine", "observations": []},
            ]
        },
    )
    await r.call(
        "memory.create_relations",
        {
            "relations": [
                {"from": "Ada Lovelace", "to": "Analytical Engine", "relationType": "wrote notes on"}
            ]
        },
    )
    found = await r.call("memory.search_nodes", {"query": "algorithm"})
    names = [e["name"] for e in found["entities"]]
    if names != ["Ada Lovelace"]:
        raise ReferenceError_(f"task m06: search found {names}, expected only Ada Lovelace")
    return Expect(contains=["Ada Lovelace"])


@task(
    "m07-memory-city-population",
    "multi_server",
    "memory calculator",
    "Store two cities in memory as entities of type city: Reykjavik with the observation "
    "'population 139000' and Tromso with the observation 'population 77000'. Then look both cities "
    "up in memory and compute their combined population.",
    FRESH_MEMORY,
)
async def _m07(r: Ref) -> Expect:
    await r.call(
        "memory.create_entities",
        {
            "entities": [
                {"name": "Reykjavik", "entityType": "city", "observations": ["population 139000"]},
                {"name": "Tromso", "entityType": "city", "observations": ["population 77000"]},
            ]
        },
    )
    await r.call("memory.open_nodes", {"names": ["Reykjavik", "Tromso"]})
    return Expect([await r.calc("139000 + 77000")])


@task(
    "m08-memory-add-observation",
    "multi_server",
    "memory",
    "Create a memory entity called Project Falcon of type project with the observation 'deadline in "
    "March'. Then add the observation 'owner is Priya' to it, and open the entity to show all of its "
    "observations.",
    FRESH_MEMORY,
)
async def _m08(r: Ref) -> Expect:
    await r.call(
        "memory.create_entities",
        {
            "entities": [
                {"name": "Project Falcon", "entityType": "project", "observations": ["deadline in March"]}
            ]
        },
    )
    await r.call(
        "memory.add_observations",
        {"observations": [{"entityName": "Project Falcon", "contents": ["owner is Priya"]}]},
    )
    await r.call("memory.open_nodes", {"names": ["Project Falcon"]})
    return Expect(contains=["Priya", "March"])


@task(
    "m09-utc-to-kolkata-minutes",
    "multi_server",
    "time calculator",
    "Convert 09:00 UTC to India time (Asia/Kolkata), give it as 24-hour HH:MM, and then work out how "
    "many minutes after midnight that local time is.",
    NO_DST,
)
async def _m09(r: Ref) -> Expect:
    hhmm, _ = await r.clock("UTC", "09:00", "Asia/Kolkata")
    h, m = hhmm.split(":")
    return Expect([await r.calc(f"{int(h)} * 60 + {int(m)}")], [hhmm])


@task(
    "m10-kolkata-tokyo-offset",
    "multi_server",
    "time calculator",
    "It is 22:15 in Asia/Kolkata. What time is it then in Asia/Tokyo (24-hour HH:MM)? Also take the "
    "number of hours Tokyo is ahead of Kolkata and multiply it by 60 to express the gap in minutes.",
    NO_DST + " Tokyo's clock shows the next day.",
)
async def _m10(r: Ref) -> Expect:
    hhmm, hours = await r.clock("Asia/Kolkata", "22:15", "Asia/Tokyo")
    return Expect([await r.calc(f"{hours!r} * 60")], [hhmm])


@task(
    "m11-codename-file-to-memory",
    "multi_server",
    "filesystem memory",
    "Write the codename Kestrel into a file called codename.txt and read it back. Then create a memory "
    "entity named Kestrel of type project with the observation 'codename stored in codename.txt', and "
    "search the memory for kestrel to confirm it is there.",
    FRESH_FILES + " " + FRESH_MEMORY,
)
async def _m11(r: Ref) -> Expect:
    await r.call("filesystem.write_file", {"path": "codename.txt", "content": "Kestrel"})
    await r.call("filesystem.read_text_file", {"path": "codename.txt"})
    await r.call(
        "memory.create_entities",
        {
            "entities": [
                {
                    "name": "Kestrel",
                    "entityType": "project",
                    "observations": ["codename stored in codename.txt"],
                }
            ]
        },
    )
    await r.call("memory.search_nodes", {"query": "kestrel"})
    return Expect(contains=["Kestrel"])


@task(
    "m12-kathmandu-job-hours",
    "multi_server",
    "time unit_converter calculator",
    "A backup job in Kathmandu (Asia/Kathmandu) runs at 08:00 local time. What time is that in UTC "
    "(24-hour HH:MM)? The job runs once a day for 3 weeks and each run takes 45 minutes: convert the "
    "3 weeks to days, then compute the total running time in hours.",
    NO_DST + " Kathmandu is UTC+05:45.",
)
async def _m12(r: Ref) -> Expect:
    hhmm, _ = await r.clock("Asia/Kathmandu", "08:00", "UTC")
    days = await r.convert("time", 3, "weeks", "days")
    return Expect([await r.calc(f"{days!r} * 45 / 60")], [hhmm])


@task(
    "m13-distance-log-file",
    "multi_server",
    "unit_converter filesystem",
    "Convert 13.1 miles to kilometers, write the line 'half marathon: <kilometers> km' (with the "
    "converted distance) into a file named run_log.txt, then list the files in the folder to confirm "
    "that run_log.txt exists.",
    FRESH_FILES,
)
async def _m13(r: Ref) -> Expect:
    km = await r.convert("length", 13.1, "mile", "kilometer")
    await r.call("filesystem.write_file", {"path": "run_log.txt", "content": f"half marathon: {km:.1f} km"})
    await r.call("filesystem.list_directory", {"path": "."})
    return Expect([km], ["run_log.txt"])


# --- building ---------------------------------------------------------------------------------------


def tolerance(value: float) -> float:
    """About 0.5% of the value (allows for rounding in the answer), at least 0.01."""
    return max(0.01, float(f"{abs(value) * 0.005:.2g}"))


def tidy(value: float) -> float:
    """Drop float noise (e.g. 4.535923700000001) without losing meaningful digits."""
    return float(f"{value:.10g}")


async def build(t: Task) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"evoflux-dev-{t.id}-") as ws:
        config = load_servers(workspace=ws)
        async with open_catalog(config.select(t.servers), call_timeout=CALL_TIMEOUT) as catalog:
            ref = Ref(t.id, catalog)
            expect = await t.reference(ref)
    used = list(dict.fromkeys(c.split(".", 1)[0] for c in ref.calls))
    if used != list(t.servers):
        raise ReferenceError_(f"task {t.id}: declared servers {list(t.servers)} but the calls used {used}")
    text_blob = "\n".join(ref.texts).lower()
    for s in expect.contains:
        if s.lower() not in text_blob:
            raise ReferenceError_(f"task {t.id}: expected substring {s!r} appears in no reference result")
    if not expect.numbers and not expect.contains:
        raise ReferenceError_(f"task {t.id}: nothing to check")
    tools = ["|".join(ALTERNATIVES.get(c, (c,))) for c in dict.fromkeys(ref.calls)]
    notes = f"kind={t.kind}; reference calls: {' -> '.join(ref.calls)}."
    if t.notes:
        notes += " " + t.notes
    return {
        "id": t.id,
        "task": t.task,
        "servers": used,
        "checks": {
            "numbers": [{"value": tidy(v), "tol": tolerance(v)} for v in expect.numbers],
            "contains": expect.contains,
            "tools": tools,
        },
        "min_steps": len(ref.calls),
        "notes": notes,
    }


async def main(args: argparse.Namespace, tasks: list[Task] = TASKS) -> int:
    ids = [t.id for t in tasks]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate task ids")
    chosen = [t for t in tasks if not args.only or t.id in args.only or t.id.split("-", 1)[0] in args.only]
    rows: list[dict[str, Any]] = []
    for t in chosen:
        try:
            row = await build(t)
        except ReferenceError_ as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        rows.append(row)
        shown = [n["value"] for n in row["checks"]["numbers"]] + row["checks"]["contains"]
        print(f"{t.id:32s} steps={row['min_steps']} expect={shown}", file=sys.stderr)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    kinds = {k: sum(t.kind == k for t in chosen) for k in KINDS}
    print(f"wrote {len(rows)} tasks to {out} ({kinds})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL file")
    parser.add_argument("--only", nargs="*", default=[], help="task ids (or id prefixes like d03) to build")
    sys.exit(anyio.run(main, parser.parse_args()))
