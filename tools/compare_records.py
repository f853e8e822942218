"""Compare the figures two runs recorded: `python tools/compare_records.py BEFORE AFTER`.

BEFORE and AFTER are `build/records` folders (one `lesson_NN.json` each). Timings
(units s, x, h; speed-ups and time estimates) are left out: they are never expected to repeat. Exit 1 when a figure
differs, appears or disappears.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

TIMING_UNITS = ("s", "ms", "x", "h", "s/epoch", "images/s")


def figures(folder: Path) -> dict[tuple[str, str], object]:
    found = {}
    for path in sorted(folder.glob("lesson_*.json")):
        record = json.loads(path.read_text())
        for fig in record["figures"]:
            timing = fig.get("unit") in TIMING_UNITS or fig["name"].endswith(("speedup", "_estimate_h", "_epoch_ratio"))
            if not timing:
                found[(record["lesson"], fig["name"])] = fig["value"]
    return found


def main(argv: list[str]) -> int:
    before, after = (figures(Path(a)) for a in argv[1:3])
    changed = [key for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)]
    for lesson, name in changed:
        print(f"{lesson} {name}: {before.get((lesson, name), '(none)')!r} -> {after.get((lesson, name), '(none)')!r}")
    print(f"{len(before.keys() & after.keys()) - sum(k in before and k in after for k in changed)} figures equal, "
          f"{len(changed)} differ")
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
