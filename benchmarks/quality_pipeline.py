"""Benchmarks of issue 2: task-listing start-up, and the data application's throughput.

    ./dev python benchmarks/quality_pipeline.py [--runs 10] [--scales 1,10,100]

1. `inv --list` wall time against a bare `python -c pass` (bar: `inv --list` under 0.5 s).
2. Rows per second of standardize + transform (the pipeline functions the notebooks call) on the
   sample extracts scaled 1x, 10x, 100x (new bay ids and markers per copy), on local Spark, and
   how the time grows with the rows.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "src"), str(REPO / "release-toolkit" / "src")]

from tasks.repository import SAMPLE_DATA  # noqa: E402


def median_wall_time(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_startup(runs: int) -> dict:
    bare = median_wall_time([sys.executable, "-c", "pass"], runs)
    listing = median_wall_time([sys.executable, "-m", "invoke", "--list"], runs)
    return {"python_c_pass_s": round(bare, 3), "inv_list_s": round(listing, 3),
            "overhead_s": round(listing - bare, 3), "bar_s": 0.5, "passed": listing < 0.5}


def scaled_extracts(factor: int, folder: Path) -> tuple[int, int]:
    sensors = json.loads((SAMPLE_DATA / "MelbParkingSensorData.json").read_text(encoding="utf-8-sig"))
    bays = json.loads((SAMPLE_DATA / "MelbParkingBayData.json").read_text(encoding="utf-8-sig"))
    out_sensors, out_bays = [], []
    for copy in range(factor):
        offset = copy * 1_000_000
        for r in sensors:
            lat = float(r["lat"]) - copy * 1e-4
            out_sensors.append({**r, "bay_id": str(int(r["bay_id"]) + offset),
                                "st_marker_id": f"{r['st_marker_id']}-{copy}", "lat": repr(lat)})
        out_bays += [{**r, "bay_id": str(int(r["bay_id"]) + offset)} for r in bays]
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("MelbParkingSensorData.json", out_sensors), ("MelbParkingBayData.json", out_bays)):
        (folder / name).write_bytes(b"\xef\xbb\xbf" + json.dumps(rows).encode())
    return len(out_sensors), len(out_bays)


def bench_throughput(scales: list[int]) -> list[dict]:
    from parking_sensors import pipeline
    from parking_sensors.load import Load
    from parking_sensors.tables import Lake
    from sandbox.notebook.spark import local_spark_session

    spark = local_spark_session("benchmark")
    results = []
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        # Warm-up: the first Spark jobs of a JVM pay for class loading and JIT.
        warm = Lake(str(work / "warm"), "parquet")
        scaled_extracts(1, work / "warm" / "lnd")
        load = Load.parse("warm", "2026-11-26T00:00:00Z")
        pipeline.standardize(spark, warm, str(work / "warm" / "lnd"), load)
        pipeline.transform(spark, warm, load)
        for factor in scales:
            lake = Lake(str(work / f"x{factor}"), "parquet")
            sensors, bays = scaled_extracts(factor, work / f"x{factor}" / "lnd")
            load = Load.parse(f"x{factor}", "2026-11-26T10:15:30Z")
            started = time.perf_counter()
            pipeline.standardize(spark, lake, str(work / f"x{factor}" / "lnd"), load)
            standardized = time.perf_counter()
            pipeline.transform(spark, lake, load)
            done = time.perf_counter()
            rows = sensors + bays
            results.append({"scale": factor, "input_rows": rows, "standardize_s": round(standardized - started, 2),
                            "transform_s": round(done - standardized, 2), "total_s": round(done - started, 2),
                            "rows_per_s": round(rows / (done - started))})
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)
    base = results[0]
    for r in results:
        r["time_x_vs_first"] = round(r["total_s"] / base["total_s"], 2)
        r["rows_x_vs_first"] = round(r["input_rows"] / base["input_rows"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per start-up command (median reported)")
    parser.add_argument("--scales", default="1,10,100", help="comma-separated multiples of the sample data")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    startup = bench_startup(args.runs)
    throughput = bench_throughput([int(s) for s in args.scales.split(",")])
    if args.json:
        print(json.dumps({"startup": startup, "throughput": throughput}, indent=2))
        return
    print(f"inv --list: {startup['inv_list_s']:.3f} s median of {args.runs}; python -c pass: "
          f"{startup['python_c_pass_s']:.3f} s; overhead {startup['overhead_s']:.3f} s; "
          f"bar < 0.5 s: {'PASS' if startup['passed'] else 'FAIL'}")
    print(f"{'scale':>5} {'input rows':>10} {'standardize s':>13} {'transform s':>11} {'total s':>8} "
          f"{'rows/s':>8} {'time x':>7} {'rows x':>7}")
    for r in throughput:
        print(f"{r['scale']:>5} {r['input_rows']:>10} {r['standardize_s']:>13} {r['transform_s']:>11} "
              f"{r['total_s']:>8} {r['rows_per_s']:>8} {r['time_x_vs_first']:>7} {r['rows_x_vs_first']:>7}")


if __name__ == "__main__":
    main()
