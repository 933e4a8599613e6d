"""`make bench`: run every benchmark in turn; each rewrites its own section of docs/benchmarks.md."""
from __future__ import annotations

import sys

from bench import distribution, lazy_range, memory, mirror_pull, p2p_download, scheduler_rps, webhooks_preheat

BENCHMARKS = [("p2p_download", p2p_download.main), ("scheduler_rps", scheduler_rps.main), ("memory", memory.main),
              ("distribution", distribution.main), ("webhooks_preheat", webhooks_preheat.main),
              ("mirror_pull", mirror_pull.main), ("lazy_range", lazy_range.main)]


def main() -> int:
    for name, fn in BENCHMARKS:
        print(f"== {name}", flush=True)
        rc = fn([])
        if rc:
            print(f"{name} failed with {rc}", file=sys.stderr)
            return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
