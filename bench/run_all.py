"""`make bench`: run every benchmark in turn; each rewrites its own section of docs/benchmarks.md."""
from __future__ import annotations

import sys

from bench import p2p_download

BENCHMARKS = [("p2p_download", p2p_download.main)]


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
