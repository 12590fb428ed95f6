#!/usr/bin/env python3
"""Start-up overhead of `dragon PROG` against running PROG directly, measured in
the same run: median wall time of N runs each, and the difference.

    python3 bench/startup_bench.py [--build DIR] [--runs N] [--csv FILE]

The table also goes to a CSV file (--csv FILE or
$BENCH_CSV_DIR/startup_bench-quiet.csv; bench/bench_csv.py).
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import bench_csv


def median_seconds(cmd, runs, env):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, timeout=60)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    repo = pathlib.Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.environ.get("DRAGON_BUILD_DIR", repo / "build"))
    parser.add_argument("--runs", type=int, default=15)
    bench_csv.add_argument(parser)
    args = parser.parse_args()
    dragon = str(pathlib.Path(args.build) / "bin" / "dragon")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAGON_")}

    with tempfile.TemporaryDirectory() as tmp:
        empty = pathlib.Path(tmp) / "empty.py"
        empty.write_text("")
        rows = [
            ("python3 empty.py", ["python3", str(empty)], [dragon, str(empty)]),
            ("/bin/true", ["/bin/true"], [dragon, "/bin/true"]),
        ]
        table = bench_csv.Table("startup_bench", 0, args.csv)
        print(f"{'program':<20}{'direct (ms)':>14}{'dragon (ms)':>14}{'overhead (ms)':>16}{'ratio':>8}")
        for name, direct, under in rows:
            median_seconds(under, 2, env)  # warm the page cache
            d = median_seconds(direct, args.runs, env)
            g = median_seconds(under, args.runs, env)
            print(f"{name:<20}{d * 1e3:>14.1f}{g * 1e3:>14.1f}{(g - d) * 1e3:>16.1f}{g / d:>8.2f}")
            table.add(name, "ms", "lower", g * 1e3, "direct", d * 1e3)
    table.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
