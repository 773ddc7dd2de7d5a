"""Benchmark of issue 4 (so far): wall time of `sandbox.up` from cold (no state) and warm (state kept),
and of `sandbox.down`, in a temporary home.

    ./dev python benchmarks/sandbox_up.py [--runs 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "release-toolkit" / "src")]

from sandbox.lifecycle import down, reset, up  # noqa: E402


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cold, warm, stop = [], [], []
    for _ in range(args.runs):
        home = Path(tempfile.mkdtemp(prefix="sandbox-bench-")) / "home"
        try:
            cold.append(timed(lambda: up(home, REPO)))
            stop.append(timed(lambda: down(home)))
            warm.append(timed(lambda: up(home, REPO)))
        finally:
            reset(home)
    print(f"sandbox.up cold (first start: certificates, identities): median {statistics.median(cold):.2f}s "
          f"of {args.runs}")
    print(f"sandbox.up warm (state kept):                            median {statistics.median(warm):.2f}s")
    print(f"sandbox.down:                                            median {statistics.median(stop):.2f}s")
    print(f"bar: up under 10 s without Spark: {'PASS' if max(cold + warm) < 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
