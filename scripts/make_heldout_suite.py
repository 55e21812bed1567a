"""Build the held-out suite, benchmarks/heldout.jsonl: tasks of the dev suite's kinds that no change was
ever tuned on.

The dev suite's "unseen" tasks stopped being unseen once their failures were studied to find what to fix
next. These twenty were written afterwards, in the same style and over the same example servers, and are
for measuring only: a change is judged on them, never designed from their failures (study the dev suite
for that). Same machinery as scripts/make_dev_suite.py: every expected value is what the real servers
return for the task's reference calls, each task in a fresh temporary workspace.

    .venv/bin/python scripts/make_heldout_suite.py [--out benchmarks/heldout.jsonl] [--only ID ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio
from make_dev_suite import FRESH_FILES, FRESH_MEMORY, NO_DST, Expect, Ref, Task, main, task

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "heldout.jsonl"
HELDOUT: list[Task] = []

# --- two-step chains --------------------------------------------------------------------------------


@task(
    "h01-flour-left",
    "chain2",
    "unit_converter calculator",
    "A bag of flour weighs 2.5 kilograms. Convert its weight to pounds, then subtract the 1.2 pounds "
    "used for baking to get what is left in pounds.",
    into=HELDOUT,
)
async def _h01(r: Ref) -> Expect:
    pounds = await r.convert("mass", 2.5, "kilogram", "pound")
    return Expect([await r.calc(f"{pounds!r} - 1.2")])


@task(
    "h02-pool-drain-rate",
    "chain2",
    "unit_converter calculator",
    "A pool holds 45 cubic meters of water and drains evenly in 12 hours. Convert the volume to liters, "
    "then divide it by 12 to get the liters drained per hour.",
    into=HELDOUT,
)
async def _h02(r: Ref) -> Expect:
    liters = await r.convert("volume", 45, "cubic meter", "liter")
    return Expect([await r.calc(f"{liters!r} / 12")])


@task(
    "h03-walking-miles",
    "chain2",
    "unit_converter calculator",
    "A person walks at 5 kilometers per hour. Convert this speed to miles per hour, then multiply it "
    "by 3 to get the miles walked in 3 hours.",
    into=HELDOUT,
)
async def _h03(r: Ref) -> Expect:
    mph = await r.convert("speed", 5, "kilometers per hour", "miles per hour")
    return Expect([await r.calc(f"{mph!r} * 3")])


@task(
    "h04-angle-quarter",
    "chain2",
    "unit_converter calculator",
    "Convert an angle of 270 degrees to radians, then divide the result by 4.",
    into=HELDOUT,
)
async def _h04(r: Ref) -> Expect:
    radians = await r.convert("angle", 270, "degrees", "radians")
    return Expect([await r.calc(f"{radians!r} / 4")])


# --- three- and four-step dependencies --------------------------------------------------------------


@task(
    "h05-garden-square-feet",
    "dependent",
    "unit_converter calculator",
    "A garden is 20 meters long and 8 meters wide. Convert both sides to feet, then multiply them to "
    "get the garden's area in square feet.",
    "The two conversions may be one batch conversion.",
    into=HELDOUT,
)
async def _h05(r: Ref) -> Expect:
    long = await r.convert("length", 20, "meter", "foot")
    wide = await r.convert("length", 8, "meter", "foot")
    return Expect([await r.calc(f"{long!r} * {wide!r}")])


@task(
    "h06-heater-energy",
    "dependent",
    "unit_converter calculator",
    "A 500 watt heater runs for 3 hours. Convert 3 hours to seconds, multiply 500 by that number of "
    "seconds to get the energy in joules, then convert the joules to kilowatt hours.",
    into=HELDOUT,
)
async def _h06(r: Ref) -> Expect:
    seconds = await r.convert("time", 3, "hours", "seconds")
    joules = await r.calc(f"500 * {seconds!r}")
    return Expect([await r.convert("energy", joules, "joule", "kilowatt hour")])


@task(
    "h07-two-parcels",
    "dependent",
    "unit_converter calculator",
    "One parcel weighs 12 ounces and another weighs 1.5 pounds. Convert both weights to grams and add "
    "them to get the total weight in grams.",
    "The two conversions may be one batch conversion.",
    into=HELDOUT,
)
async def _h07(r: Ref) -> Expect:
    first = await r.convert("mass", 12, "ounce", "gram")
    second = await r.convert("mass", 1.5, "pound", "gram")
    return Expect([await r.calc(f"{first!r} + {second!r}")])


@task(
    "h08-fahrenheit-to-kelvin",
    "dependent",
    "unit_converter calculator",
    "Convert 100 degrees Fahrenheit to Celsius, subtract 20 from it, and convert the result to kelvin.",
    into=HELDOUT,
)
async def _h08(r: Ref) -> Expect:
    celsius = await r.convert("temperature", 100, "fahrenheit", "celsius")
    cooler = await r.calc(f"{celsius!r} - 20")
    return Expect([await r.convert("temperature", cooler, "celsius", "kelvin")])


@task(
    "h09-trail-speed",
    "dependent",
    "unit_converter calculator",
    "A hiking trail is 8 miles long and the hike takes 2.5 hours. Convert the distance to kilometers, "
    "divide it by 2.5 to get the average speed in kilometers per hour, then convert that speed to meters "
    "per second.",
    into=HELDOUT,
)
async def _h09(r: Ref) -> Expect:
    km = await r.convert("length", 8, "mile", "kilometer")
    kmh = await r.calc(f"{km!r} / 2.5")
    return Expect([await r.convert("speed", kmh, "kilometers per hour", "meters per second")])


@task(
    "h10-backup-copy-time",
    "dependent",
    "unit_converter calculator",
    "A 6 gigabyte backup is copied at 50 megabytes per second. Convert 6 gigabytes to megabytes, divide "
    "by 50 to get the number of seconds the copy takes, then convert those seconds to minutes.",
    "The converter uses binary prefixes (1 GB = 1024 MB).",
    into=HELDOUT,
)
async def _h10(r: Ref) -> Expect:
    megabytes = await r.convert("computer_data", 6, "gigabytes", "megabytes")
    seconds = await r.calc(f"{megabytes!r} / 50")
    return Expect([await r.convert("time", seconds, "seconds", "minutes")])


# --- several servers, files and memory --------------------------------------------------------------


@task(
    "h11-second-word",
    "multi_server",
    "filesystem",
    "Write 'alpha beta gamma' into a file named words.txt, read the file back, and tell me its second word.",
    FRESH_FILES,
    into=HELDOUT,
)
async def _h11(r: Ref) -> Expect:
    await r.call("filesystem.write_file", {"path": "words.txt", "content": "alpha beta gamma"})
    await r.call("filesystem.read_text_file", {"path": "words.txt"})
    return Expect(contains=["beta"])


@task(
    "h12-area-from-file",
    "multi_server",
    "filesystem calculator",
    "Save the text 'length 12.5, width 4' in a file named dims.txt. Read it back and use the calculator "
    "to compute the area, length times width.",
    FRESH_FILES,
    into=HELDOUT,
)
async def _h12(r: Ref) -> Expect:
    await r.call("filesystem.write_file", {"path": "dims.txt", "content": "length 12.5, width 4"})
    await r.call("filesystem.read_text_file", {"path": "dims.txt"})
    return Expect([await r.calc("12.5 * 4")])


@task(
    "h13-reports-folder",
    "multi_server",
    "filesystem",
    "Create a folder called reports, write 'Q3 revenue up 12 percent' into a file summary.txt inside it, "
    "then read reports/summary.txt back to check it.",
    FRESH_FILES + " The folder must be created first: writing does not create parent folders.",
    into=HELDOUT,
)
async def _h13(r: Ref) -> Expect:
    await r.call("filesystem.create_directory", {"path": "reports"})
    await r.call(
        "filesystem.write_file", {"path": "reports/summary.txt", "content": "Q3 revenue up 12 percent"}
    )
    await r.call("filesystem.read_text_file", {"path": "reports/summary.txt"})
    return Expect(contains=["revenue up"])


@task(
    "h14-mountain-heights",
    "multi_server",
    "memory calculator",
    "Create two memory entities of type mountain: Everest with the observation 'height 8849 m' and K2 "
    "with the observation 'height 8611 m'. Open both entities, then compute how many meters taller "
    "Everest is than K2.",
    FRESH_MEMORY,
    into=HELDOUT,
)
async def _h14(r: Ref) -> Expect:
    await r.call(
        "memory.create_entities",
        {
            "entities": [
                {"name": "Everest", "entityType": "mountain", "observations": ["height 8849 m"]},
                {"name": "K2", "entityType": "mountain", "observations": ["height 8611 m"]},
            ]
        },
    )
    await r.call("memory.open_nodes", {"names": ["Everest", "K2"]})
    return Expect([await r.calc("8849 - 8611")])


@task(
    "h15-curie-polonium",
    "multi_server",
    "memory",
    "Create a memory entity Marie Curie of type person with the observation 'won two Nobel prizes'. "
    "Add the observation 'discovered polonium' to her, then search the memory for 'polonium' and say "
    "which entity matches.",
    FRESH_MEMORY,
    into=HELDOUT,
)
async def _h15(r: Ref) -> Expect:
    await r.call(
        "memory.create_entities",
        {
            "entities": [
                {"name": "Marie Curie", "entityType": "person", "observations": ["won two Nobel prizes"]}
            ]
        },
    )
    await r.call(
        "memory.add_observations",
        {"observations": [{"entityName": "Marie Curie", "contents": ["discovered polonium"]}]},
    )
    await r.call("memory.search_nodes", {"query": "polonium"})
    return Expect(contains=["Marie Curie"])


@task(
    "h16-bogota-tokyo-meeting",
    "multi_server",
    "time unit_converter",
    "A meeting starts at 09:00 in Bogota (America/Bogota). What time is it then in Tokyo (Asia/Tokyo), "
    "as 24-hour HH:MM? The meeting lasts 2.5 hours: convert that duration to minutes.",
    NO_DST,
    into=HELDOUT,
)
async def _h16(r: Ref) -> Expect:
    hhmm, _ = await r.clock("America/Bogota", "09:00", "Asia/Tokyo")
    return Expect([await r.convert("time", 2.5, "hours", "minutes")], [hhmm])


@task(
    "h17-weight-to-file",
    "multi_server",
    "unit_converter filesystem",
    "Convert 5 pounds to kilograms, write the converted number into a file named weight.txt, and read "
    "the file back.",
    FRESH_FILES + " The file content is whatever the plan writes; the answer must report the kilograms.",
    into=HELDOUT,
)
async def _h17(r: Ref) -> Expect:
    kg = await r.convert("mass", 5, "pound", "kilogram")
    await r.call("filesystem.write_file", {"path": "weight.txt", "content": f"{kg:g}"})
    await r.call("filesystem.read_text_file", {"path": "weight.txt"})
    return Expect([kg])


@task(
    "h18-standup-in-memory",
    "multi_server",
    "time memory",
    "Convert 15:00 UTC to Kathmandu time (Asia/Kathmandu) as 24-hour HH:MM. Then create a memory entity "
    "named Standup of type meeting with the observation 'starts at <time> Kathmandu time' (the converted "
    "time), and open the Standup entity.",
    NO_DST + " " + FRESH_MEMORY + " Kathmandu is UTC+05:45.",
    into=HELDOUT,
)
async def _h18(r: Ref) -> Expect:
    hhmm, _ = await r.clock("UTC", "15:00", "Asia/Kathmandu")
    await r.call(
        "memory.create_entities",
        {
            "entities": [
                {
                    "name": "Standup",
                    "entityType": "meeting",
                    "observations": [f"starts at {hhmm} Kathmandu time"],
                }
            ]
        },
    )
    await r.call("memory.open_nodes", {"names": ["Standup"]})
    return Expect(contains=[hhmm])


@task(
    "h19-dubai-shanghai-minutes",
    "multi_server",
    "time calculator",
    "It is 07:45 in Dubai (Asia/Dubai). What time is it in Shanghai (Asia/Shanghai), as 24-hour HH:MM? "
    "Then compute how many minutes after midnight that Shanghai time is.",
    NO_DST,
    into=HELDOUT,
)
async def _h19(r: Ref) -> Expect:
    hhmm, _ = await r.clock("Asia/Dubai", "07:45", "Asia/Shanghai")
    h, m = hhmm.split(":")
    return Expect([await r.calc(f"{int(h)} * 60 + {int(m)}")], [hhmm])


@task(
    "h20-team-owner",
    "multi_server",
    "filesystem memory",
    "Write 'owner: Lena' into a file named team.txt and read it back. Then create a memory entity Lena "
    "of type person with the observation 'owns team.txt', and search the memory for 'team' to confirm "
    "it is stored.",
    FRESH_FILES + " " + FRESH_MEMORY,
    into=HELDOUT,
)
async def _h20(r: Ref) -> Expect:
    await r.call("filesystem.write_file", {"path": "team.txt", "content": "owner: Lena"})
    await r.call("filesystem.read_text_file", {"path": "team.txt"})
    await r.call(
        "memory.create_entities",
        {"entities": [{"name": "Lena", "entityType": "person", "observations": ["owns team.txt"]}]},
    )
    await r.call("memory.search_nodes", {"query": "team"})
    return Expect(contains=["Lena"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL file")
    parser.add_argument("--only", nargs="*", default=[], help="task ids (or id prefixes like h03) to build")
    sys.exit(anyio.run(main, parser.parse_args(), HELDOUT))
