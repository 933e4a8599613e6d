"""Write benchmark results: a JSON file under bench/results/ and a section of docs/benchmarks.md.

Each benchmark owns one section delimited by HTML comments, so benchmarks can be re-run one at a
time without touching the others' figures.
"""
from __future__ import annotations

import json
import os
import platform
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
RESULTS = os.path.join(ROOT, "bench", "results")
HEADER = """# Benchmarks

Figures written by `make bench` (the scripts in `bench/`). Each section names the command that reproduces it.
Timings come from a shared 2-core machine: compare rows within one run, not across machines.
"""


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load {load:.1f} at start, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def settle(max_load: float = 1.0, timeout: float = 120.0, poll: float = 5.0) -> float:
    """Wait until the machine's 1-minute load average is at most ``max_load`` (the previous benchmark's
    processes have exited and the kernel has flushed their files), at most ``timeout`` seconds; returns the
    seconds waited. For CPU-bound figures, which the load left behind by another run would lower."""
    if not hasattr(os, "getloadavg"):
        return 0.0
    start = time.monotonic()
    while os.getloadavg()[0] > max_load and time.monotonic() - start < timeout:
        time.sleep(poll)
    return time.monotonic() - start


def table(headers: list[str], rows: list[list]) -> str:
    def fmt(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def print_table(headers, rows) -> None:
    cells = [headers] + [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(headers))]
    for c in cells:
        print("  ".join(str(v).rjust(w) for v, w in zip(c, widths)))


def publish(markdown: str, data, json_path: str | None, section: str | None) -> None:
    """Print a benchmark's report; write its data to ``json_path`` if given, and its section of
    docs/benchmarks.md (with bench/results/<section>.json) if ``section`` is given."""
    print(markdown)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(data, f, indent=1)
    if section:
        write_section(section, markdown, data)


def write_section(name: str, markdown: str, data) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(data, f, indent=2)
    text = open(DOC, encoding="utf-8").read() if os.path.exists(DOC) else HEADER
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(text)
