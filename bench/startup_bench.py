#!/usr/bin/env python3
"""Start-up overhead of `dragon PROG` against running PROG directly, measured in
the same run: median wall time of N runs each.

    python3 bench/startup_bench.py [--build DIR] [--runs N] [--busy N] [--csv FILE]

Rows (TSV: metric, ours, baseline, ratio = ours / baseline, lower is better):
  python3 empty.py / /bin/true   `dragon PROG` (one node) against PROG alone
  dragon -N 16 empty.py          bring-up and teardown of 16 simulated nodes on this
                                 machine, against `python3 empty.py` alone; a second
                                 row with every node a separate host in its own network
                                 namespace (root only)
--busy N keeps N CPU-bound processes running during the measurements. The table also
goes to a CSV file (--csv FILE or $BENCH_CSV_DIR/startup_bench-<mode>.csv).
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
    bench_csv.add_argument(parser, busy=True)
    args = parser.parse_args()
    dragon = str(pathlib.Path(args.build) / "bin" / "dragon")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAGON_")}
    separate_hosts = dict(env, DRAGON_LAUNCHER_LOCAL_NETNS="1")

    with tempfile.TemporaryDirectory() as tmp:
        empty = pathlib.Path(tmp) / "empty.py"
        empty.write_text("")
        python = ["python3", str(empty)]
        rows = [
            ("python3 empty.py (ms)", [dragon, str(empty)], env, "python3 empty.py", python),
            ("/bin/true (ms)", [dragon, "/bin/true"], env, "/bin/true", ["/bin/true"]),
            ("dragon -N 16 empty.py (ms)", [dragon, "-N", "16", str(empty)], env,
             "python3 empty.py", python),
        ]
        if os.geteuid() == 0:
            rows.append(("dragon -N 16 empty.py, separate hosts (ms)",
                         [dragon, "-N", "16", str(empty)], separate_hosts, "python3 empty.py",
                         python))
        table = bench_csv.Table("startup_bench", args.busy, args.csv)
        with bench_csv.busy_neighbours(args.busy):
            print("metric\tours\tbaseline\tratio", flush=True)
            for metric, under, under_env, base_name, direct in rows:
                median_seconds(under, 2, under_env)  # warm the page cache
                d = median_seconds(direct, args.runs, env) * 1e3
                g = median_seconds(under, args.runs, under_env) * 1e3
                print("%s\t%.4g\t%.4g (%s)\t%.3g" % (metric, g, d, base_name, g / d), flush=True)
                table.add(metric, "ms", "lower", g, base_name, d)
    table.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
