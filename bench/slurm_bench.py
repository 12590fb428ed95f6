#!/usr/bin/env python3
"""Bring-up and teardown of `dragon` under Slurm against `srun -N K true`, on the real
multi-node test cluster (tests/slurm/slurm_cluster.py: one slurmd per network namespace),
with 2 and 4 nodes, in the same run. Needs root and slurm-wlm (ci/install-deps.sh).

    python3 bench/slurm_bench.py [--build DIR] [--runs N] [--nodes 2,4] [--csv FILE]

Inside one allocation of K nodes, medians of N runs of:
  srun -N K true          Slurm's own step launch on K nodes (the baseline)
  dragon true             one dragon-node per node through srun --mpi=pmix, wire-up over
                          the transport, /bin/true as the head program, and the teardown
  SIGINT -> dragon exit   dragon running `sleep` as the head program on K nodes: from the
                          signal to dragon's exit (every node stopped, step ended)
The cluster's own bring-up and teardown are printed too.
"""

import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import time

import bench_csv

REPO = pathlib.Path(__file__).resolve().parents[1]


def median_seconds(cmd, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=60)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sigint_teardown(dragon, runs):
    times = []
    for _ in range(runs):
        p = subprocess.Popen([dragon, "/bin/sh", "-c", "echo ready; exec sleep 60"],
                             stdout=subprocess.PIPE, text=True)
        if p.stdout.readline().strip() != "ready":
            p.kill()
            raise RuntimeError("dragon's head program did not start")
        t0 = time.perf_counter()
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def inner(args):
    """Runs inside the allocation (salloc runs this script again with --inner)."""
    nodes = os.environ["SLURM_JOB_NUM_NODES"]
    dragon = str(pathlib.Path(args.build) / "bin" / "dragon")
    srun = ["srun", "-N", nodes, "-n", nodes, "true"]
    median_seconds(srun, 1)  # warm the page cache
    median_seconds([dragon, "true"], 1)
    print(json.dumps({
        "srun": median_seconds(srun, args.runs),
        "dragon": median_seconds([dragon, "true"], args.runs),
        "sigint": sigint_teardown(dragon, args.runs),
    }))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.environ.get("DRAGON_BUILD_DIR", REPO / "build"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--nodes", default="2,4")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    bench_csv.add_argument(parser)
    args = parser.parse_args()
    if args.inner:
        return inner(args)

    sys.path.insert(0, str(REPO / "tests" / "slurm"))
    import slurm_cluster
    why = slurm_cluster.unavailable_reason()
    if why:
        print(f"slurm_bench: skipped: {why}")
        return 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAGON_")}
    env["PYTHONPATH"] = str(pathlib.Path(args.build) / "lib" / "python3" / "site-packages")
    table = bench_csv.Table("slurm_bench", 0, args.csv)
    print(f"{'nodes':>5}{'cluster up (s)':>16}{'srun true (ms)':>16}{'dragon true (ms)':>18}"
          f"{'ratio':>7}{'SIGINT->exit (ms)':>19}{'cluster down (s)':>18}")
    for k in [int(n) for n in args.nodes.split(",")]:
        cluster = slurm_cluster.SlurmCluster(nodes=k)
        with cluster:
            r = subprocess.run(["salloc", "-N", str(k), sys.executable, __file__, "--inner",
                                "--build", str(args.build), "--runs", str(args.runs)],
                               env=cluster.env(env), capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                print(r.stdout, r.stderr, file=sys.stderr)
                return 1
            m = json.loads(r.stdout.strip().splitlines()[-1])
            t0 = time.perf_counter()
        down = time.perf_counter() - t0
        print(f"{k:>5}{cluster.startup_seconds:>16.2f}{m['srun'] * 1e3:>16.0f}"
              f"{m['dragon'] * 1e3:>18.0f}{m['dragon'] / m['srun']:>7.2f}"
              f"{m['sigint'] * 1e3:>19.0f}{down:>18.2f}")
        table.add(f"{k} nodes: dragon true", "ms", "lower", m["dragon"] * 1e3, "srun true",
                  m["srun"] * 1e3)
        table.add(f"{k} nodes: SIGINT to exit", "ms", "lower", m["sigint"] * 1e3, "", None)
    table.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
