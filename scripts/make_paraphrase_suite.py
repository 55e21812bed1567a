"""Write benchmarks/paraphrase.jsonl: every held-out task in two other styles a real user writes, with the
held-out task's checks (issue 23's generality measurement).

    .venv/bin/python scripts/make_paraphrase_suite.py

Style `w` (words): numbers and clock times in words, city names instead of IANA zone names, no "then",
the steps left for the planner to find. Style `t` (terse): notes and questions, symbols (kg, °, ->), and
read-only questions that use words like recorded, stored, logged. The numbers and texts to find are
those of the original task; where a paraphrase leaves the route open (an area converted as an area, an
energy worked out without unit conversions), the tool check accepts the other route too, and says so.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PARAPHRASES: dict[str, tuple[str, str]] = {
    "h01-flour-left": (
        "I have a bag of flour that weighs two and a half kilograms and I used one point two pounds of it "
        "for baking. How many pounds of flour are left?",
        "Flour on hand: 2.5 kg bag, 1.2 lb recorded as used for baking. Remaining amount in lb?",
    ),
    "h02-pool-drain-rate": (
        "Our pool holds forty-five cubic meters of water and takes twelve hours to drain at a steady rate. "
        "How many liters run out every hour?",
        "Litres per hour leaving a 45 m³ pool that empties evenly in 12 h?",
    ),
    "h03-walking-miles": (
        "If someone walks at five kilometers an hour, how many miles do they cover in three hours?",
        "Walking pace stored in my notes: 5 km/h. Distance in miles after 3 hours at that pace?",
    ),
    "h04-angle-quarter": (
        "What is a quarter of an angle of two hundred seventy degrees, expressed in radians?",
        "Logged angle: 270°. Its value in radians, split into 4 equal parts: size of one part?",
    ),
    "h05-garden-square-feet": (
        "My garden measures twenty meters by eight meters. What is its area in square feet?",
        "Garden 20 m x 8 m. Area in ft²?",
    ),
    "h06-heater-energy": (
        "A five hundred watt heater was left on for three hours. How much energy did it use, in kilowatt "
        "hours?",
        "Energy recorded for a 500 W heater over 3 h, in kWh?",
    ),
    "h07-two-parcels": (
        "One parcel weighs twelve ounces and the other weighs a pound and a half. What do they weigh "
        "together in grams?",
        "Total mass in g of two parcels logged at 12 oz and 1.5 lb?",
    ),
    "h08-fahrenheit-to-kelvin": (
        "Take a hundred degrees Fahrenheit in Celsius, knock twenty degrees off it, and tell me what that "
        "comes to in kelvin.",
        "Kelvin value of (100 °F expressed in °C, minus 20)?",
    ),
    "h09-trail-speed": (
        "We hiked an eight mile trail in two and a half hours. What was our average speed in meters per "
        "second?",
        "Average speed in m/s for 8 miles covered in 2.5 h (via km and km/h)?",
    ),
    "h10-backup-copy-time": (
        "How many minutes does it take to copy a six gigabyte backup at fifty megabytes a second, using "
        "the converter for the units?",
        "Backup 6 GB, transfer rate 50 MB/s. Copy duration in minutes (units via the converter)?",
    ),
    "h11-second-word": (
        "Put the words alpha beta gamma in a file called words.txt, open it again and tell me which word "
        "comes second.",
        "words.txt should contain 'alpha beta gamma'. Once saved, what's the 2nd word in the file?",
    ),
    "h12-area-from-file": (
        "Store the text 'length 12.5, width 4' in dims.txt, and once it is there, read it and have the "
        "calculator work out length times width.",
        "dims.txt <- 'length 12.5, width 4'. Area (length x width) from the file's contents, calculator?",
    ),
    "h13-reports-folder": (
        "I need a reports folder with a summary.txt in it that reads 'Q3 revenue up 12 percent'. Show me "
        "what the file says once it is saved.",
        "New folder reports; new file reports/summary.txt with 'Q3 revenue up 12 percent'. Read it back.",
    ),
    "h14-mountain-heights": (
        "Add two mountains to the memory, Everest with the note 'height 8849 m' and K2 with the note "
        "'height 8611 m'. Look both of them up and tell me how much taller Everest is, in meters.",
        "Memory: mountain entities Everest ('height 8849 m') and K2 ('height 8611 m'). Height difference "
        "Everest - K2 in m, from the stored entities?",
    ),
    "h15-curie-polonium": (
        "Remember Marie Curie as a person who won two Nobel prizes, and also note that she discovered "
        "polonium. Which entity comes up when you search the memory for polonium?",
        "Memory: person Marie Curie, observation 'won two Nobel prizes'; add observation 'discovered "
        "polonium'. Entity found searching for 'polonium'?",
    ),
    "h16-bogota-tokyo-meeting": (
        "A meeting starts at nine in the morning in Bogota. What time is that in Tokyo on a 24-hour clock, "
        "and how many minutes does the meeting last if it runs two and a half hours?",
        "9:00 Bogota meeting: Tokyo time (HH:MM, 24h)? Duration 2.5 h in minutes?",
    ),
    "h17-weight-to-file": (
        "Work out five pounds in kilograms, save the number in weight.txt, and read the file to make sure "
        "it is there.",
        "weight.txt should hold 5 lb in kg. Write it, read it back.",
    ),
    "h18-standup-in-memory": (
        "What is three in the afternoon UTC in Kathmandu, on a 24-hour clock? Add a meeting called Standup "
        "to the memory with the note 'starts at <that time> Kathmandu time' and pull it up again.",
        "3pm UTC -> Kathmandu local time (HH:MM)? Store as memory entity Standup (type meeting), "
        "observation 'starts at <time> Kathmandu time'; open Standup.",
    ),
    "h19-dubai-shanghai-minutes": (
        "It is quarter to eight in the morning in Dubai. What time is it in Shanghai on a 24-hour clock, and "
        "how many minutes past midnight is that?",
        "Dubai 7:45 -> Shanghai HH:MM? Minutes since midnight for that Shanghai time?",
    ),
    "h20-team-owner": (
        "Save 'owner: Lena' in team.txt and check what it says. Also remember Lena as a person who owns "
        "team.txt, and search the memory for team to make sure she is in there.",
        "team.txt := 'owner: Lena' (read back). Memory entity Lena (person), observation 'owns team.txt'. "
        "Who comes up searching the memory for 'team'?",
    ),
}

OPEN_ROUTES: dict[str, list[str]] = {
    "h05-garden-square-feet": [
        "unit_converter.convert_length|unit_converter.convert_area|unit_converter.convert_batch"
    ],
    "h06-heater-energy": ["calculator.calculate|unit_converter.convert_energy|unit_converter.convert_batch"],
    "h09-trail-speed": [
        "unit_converter.convert_length|unit_converter.convert_speed|unit_converter.convert_batch",
        "calculator.calculate",
    ],
}
"""Tool checks widened where a paraphrase leaves the route open (the original prescribes the steps)."""


def main() -> None:
    lines = []
    for line in (ROOT / "benchmarks" / "heldout.jsonl").read_text(encoding="utf-8").splitlines():
        task = json.loads(line)
        for style, text in zip(("w", "t"), PARAPHRASES[task["id"]], strict=True):
            checks = dict(task["checks"])
            note = f"paraphrase ({'words' if style == 'w' else 'terse'}) of {task['id']}"
            if task["id"] in OPEN_ROUTES:
                checks["tools"] = OPEN_ROUTES[task["id"]]
                note += "; the tool check accepts other routes"
            row = {**task, "id": f"p{style}-{task['id']}", "task": text, "checks": checks, "notes": note}
            lines.append(json.dumps(row, ensure_ascii=False))
    (ROOT / "benchmarks" / "paraphrase.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} tasks")


if __name__ == "__main__":
    main()
