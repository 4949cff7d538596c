#!/usr/bin/env python3
"""The house from its imports: which top-level package imports which, the floors that
follows from that (a package stands one floor above the highest it imports), and the rules
of the layout (docs/architecture.md) checked against the code.

    python3 scripts/layers.py            # floors and arrows, then the rules (exit 1 if one is broken)
    python3 scripts/layers.py --json     # the same as one JSON object

Every import counts, also those inside functions (heavy libraries are imported lazily, and
so are some of our own modules): a lazy import is still a dependency.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Rooms of the house: packages, and the entry points as rooms of their own.
PACKAGES = ("folio", "partition", "enrich", "index", "review", "answer", "pipeline", "commands",
            "export", "ui", "bench")
ENTRY_POINTS = ("ingest", "serve")
MAX_FLOORS = 6
MAX_LINES = 400
# (importer, imported) pairs the layout forbids, beyond "no circle".
FORBIDDEN = [
    *((room, "pipeline") for room in ("answer", "ui", "export", "serve", "index", "enrich", "partition",
                                        "review", "folio")),
    ("index", "enrich"), ("enrich", "index"), ("partition", "enrich"), ("partition", "index"),
    ("enrich", "partition"), ("index", "partition"),
    *((room, stage) for room in ("folio",) for stage in PACKAGES if stage != "folio"),
    ("answer", "ui"), ("answer", "export"), ("answer", "review"),
]


def room_of(path: Path) -> str | None:
    rel = path.relative_to(REPO)
    top = rel.parts[0]
    if len(rel.parts) == 1 and path.stem in ENTRY_POINTS:
        return path.stem
    return top if top in PACKAGES else None


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def source_files() -> list[Path]:
    files = [REPO / f"{e}.py" for e in ENTRY_POINTS]
    for pkg in PACKAGES:
        files += sorted((REPO / pkg).rglob("*.py"))
    return [f for f in files if f.is_file()]


def measure() -> dict[str, object]:
    rooms = set(PACKAGES) | set(ENTRY_POINTS)
    arrows: dict[str, set[str]] = {r: set() for r in rooms}
    long_modules: list[tuple[str, int]] = []
    for f in source_files():
        room = room_of(f)
        if room is None:
            continue
        arrows[room] |= {m for m in imports_of(f) if m in rooms and m != room}
        lines = len(f.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and room != "bench":
            long_modules.append((str(f.relative_to(REPO)), lines))
    floors: dict[str, int] = {}
    circles: list[list[str]] = []

    def floor(room: str, stack: tuple[str, ...] = ()) -> int:
        if room in stack:
            circles.append([*stack[stack.index(room):], room])
            return 0
        if room not in floors:
            below = [floor(d, (*stack, room)) for d in sorted(arrows[room])]
            floors[room] = 1 + max(below, default=0)
        return floors[room]

    for r in sorted(rooms):
        floor(r)
    broken = sorted(f"{a} imports {b}" for a, b in FORBIDDEN if b in arrows.get(a, set()))
    return {
        "floors": {r: floors[r] for r in sorted(rooms, key=lambda r: (floors[r], r))},
        "arrows": {r: sorted(arrows[r]) for r in sorted(rooms)},
        "height": max(floors.values()),
        "circles": circles,
        "forbidden": broken,
        "long_modules": sorted(long_modules),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    m = measure()
    if args.json:
        sys.stdout.write(json.dumps(m, indent=2) + "\n")
    else:
        floors: dict[str, int] = m["floors"]  # type: ignore[assignment]
        arrows: dict[str, list[str]] = m["arrows"]  # type: ignore[assignment]
        for level in range(int(m["height"]), 0, -1):  # type: ignore[call-overload]
            here = [r for r, f in floors.items() if f == level]
            sys.stdout.write(f"floor {level}: " + "   ".join(
                f"{r} -> {', '.join(arrows[r]) or '-'}" for r in here) + "\n")
        sys.stdout.write(f"height {m['height']} (at most {MAX_FLOORS}); circles {m['circles'] or 'none'}; "
                         f"forbidden imports {m['forbidden'] or 'none'}; modules over {MAX_LINES} lines "
                         f"{m['long_modules'] or 'none'}\n")
    ok = (int(m["height"]) <= MAX_FLOORS and not m["circles"]  # type: ignore[call-overload]
          and not m["forbidden"] and not m["long_modules"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
