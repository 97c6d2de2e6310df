"""The README's Performance table from a benchmark JSON file.

    .venv/bin/python -m bench.markdown [bench/results/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/markdown.py`
    sys.path.insert(0, str(REPO))

from bench.run import DEFAULT_JSON, fmt  # noqa: E402


def render(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    out = [f"Measured {meta['when'][:10]} at commit {meta['commit']} on a {meta['cpus']}-core "
           f"machine (load average {meta['load_average_start'][0]:.1f} at start, "
           f"{meta['load_average_end'][0]:.1f} at end), median of {meta['runs']} runs "
           "(`python -m bench.run`).", "",
           "| figure | median | min | max |", "| --- | ---: | ---: | ---: |"]
    for row in doc["rows"]:
        label = row["label"].strip()
        if row.get("median") is None:
            reason = (row.get("error") or "not measured").splitlines()[0]
            out.append(f"| {label} | n/a ({reason}) | | |")
            continue
        unit = row["unit"]
        out.append(f"| {label} | {fmt(row['median'], unit)} | {fmt(row['min'], unit)} | "
                   f"{fmt(row['max'], unit)} |")
    out += ["", "| target | measured | result |", "| --- | --- | --- |"]
    for t in doc["targets"]:
        note = f" ({t['note']})" if t.get("note") else ""
        out.append(f"| {t['label'].strip()} | {t['value']}{note} | {t['result']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_JSON
    print(render(json.loads(path.read_text("utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
