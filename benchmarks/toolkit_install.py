"""Benchmark of issue 15: installing the release toolkit from a bundle, as a release job does.

    ./dev python benchmarks/toolkit_install.py [--bundle DIR] [--keep-cache] [--json]

Takes a bundle (default: the last `inv build`'s, dist/bundle/<version>), makes a fresh virtual environment, and
times `pip install -r toolkit/requirements.txt` plus `pip install --no-deps toolkit/<wheel>`, with the
dependencies from the package registry (pip's cache is bypassed unless --keep-cache). Then it measures the
environment's size against ./dev's (.venv) and checks what it holds. Bars: install under 60 s; size under a
third of ./dev's; no pyspark or werkzeug; `parking-release --list` runs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def last_bundle() -> Path:
    info = json.loads((REPO / "dist" / "build-info.json").read_text())
    return REPO / "dist" / info["bundle"]


def measure(bundle: Path, keep_cache: bool) -> dict:
    [wheel] = sorted((bundle / "toolkit").glob("parking_release-*.whl"))
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if not keep_cache:
        environment["PIP_NO_CACHE_DIR"] = "1"
    with tempfile.TemporaryDirectory(prefix="toolkit-install-") as scratch:
        venv = Path(scratch) / "venv"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(bundle / "toolkit" / "requirements.txt")], check=True, env=environment)
        subprocess.run([*pip, "--no-deps", str(wheel)], check=True, env=environment)
        seconds = time.monotonic() - started
        listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
                                capture_output=True, text=True, check=True, env=environment)
        packages = sorted(p["name"].lower() for p in json.loads(listed.stdout))
        tasks = subprocess.run([str(venv / "bin" / "parking-release"), "--list"], capture_output=True, text=True,
                               env=environment, cwd=scratch)
        size = folder_size(venv)
    dev_size = folder_size(REPO / ".venv")
    return {"wheel": wheel.name, "install_seconds": round(seconds, 1), "size_mb": round(size / 1e6, 1),
            "dev_size_mb": round(dev_size / 1e6, 1), "size_ratio": round(size / dev_size, 3),
            "packages": len(packages), "forbidden": [p for p in packages if p in ("pyspark", "werkzeug")],
            "lists_tasks": tasks.returncode == 0 and "deploy-qa" in tasks.stdout, "pip_cache": keep_cache}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, help="a bundle folder (default: the last build's)")
    parser.add_argument("--keep-cache", action="store_true", help="let pip use its cache (a warm agent)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    found = measure(args.bundle or last_bundle(), args.keep_cache)
    if args.json:
        print(json.dumps(found, indent=2))
        return
    passed = (found["install_seconds"] < 60 and found["size_ratio"] < 1 / 3 and not found["forbidden"]
              and found["lists_tasks"])
    print(f"{found['wheel']}: installed in {found['install_seconds']}s ({found['packages']} packages, pip cache "
          f"{'on' if found['pip_cache'] else 'off'}); {found['size_mb']} MB, {found['size_ratio']:.0%} of ./dev's "
          f"{found['dev_size_mb']} MB; pyspark/werkzeug: {found['forbidden'] or 'none'}; `parking-release --list` "
          f"{'runs' if found['lists_tasks'] else 'FAILS'} (bars: under 60 s, under a third: "
          f"{'PASS' if passed else 'FAIL'})")


if __name__ == "__main__":
    main()
