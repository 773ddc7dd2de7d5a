"""Repeats the two-deploys-at-once test on a loaded machine (issue 13: it must pass 10 times in a row).

    ./dev python benchmarks/concurrent_deploys.py [--attempts 10] [--load 2]

Two `inv deploy-qa` processes start at the same moment on one machine, sharing the fetched-bundle cache and
the sandbox's files; exactly one must proceed and the other must fail naming the lock's holder. --load busy
processes keep the cores saturated meanwhile (default: one per core), since a race shows under load. The
test's first deploy runs once; the attempts then run back to back in one pytest session. Prints how many
attempts passed; exits 1 unless all did.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST = "tests/integration/test_release_stages.py::test_of_two_deploys_started_at_once_exactly_one_proceeds_and_the_" \
       "other_names_it"


def _burn() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2, help="busy processes during the run")
    args = parser.parse_args()
    burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(args.load)]
    for burner in burners:
        burner.start()
    started = time.monotonic()
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", TEST, "-p", "no:cacheprovider", "-q", "-rA",
                              "--no-header"], cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "PARKING_CONCURRENT_DEPLOY_ATTEMPTS": str(args.attempts)})
    finally:
        for burner in burners:
            burner.terminate()
    passed = len(re.findall(r"^PASSED .*\[\d+\]", run.stdout, re.M))
    failed = re.findall(r"^(?:FAILED|ERROR) .*", run.stdout, re.M)
    print(f"two deploys at once, {args.attempts} attempts under {args.load} busy processes: {passed} passed, "
          f"{len(failed)} failed, {time.monotonic() - started:.0f}s")
    for line in failed:
        print(f"  {line}")
    if passed != args.attempts:
        print(run.stdout[-4000:], file=sys.stderr)
    return 0 if passed == args.attempts else 1


if __name__ == "__main__":
    sys.exit(main())
