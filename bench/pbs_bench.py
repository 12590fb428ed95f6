#!/usr/bin/env python3
"""Bring-up and teardown of `dragon` through the pbs_pals launcher against the bare
mpiexec, in a fake PBS job under the PALS stand-in (tests/pbs/mpiexec: PALS' flags, the
ranks under Open MPI's mpirun as the PMIx server, every "host" this machine), with 2 and
4 nodes, in the same run. No PBS or PALS exists here: this measures what Dragon adds to
whatever its mpiexec costs, not what a real PALS costs. Needs openmpi-bin.

    python3 bench/pbs_bench.py [--build DIR] [--runs N] [--nodes 2,4] [--csv FILE]

In a job of K hosts, medians of N runs of:
  mpiexec --np K ... true   the stand-in's own launch of K ranks (the baseline)
  dragon true               one dragon-node per host through mpiexec --pmi=pmix, wire-up
                            over the transport, /bin/true as the head program, teardown
  SIGINT -> dragon exit     dragon running `sleep` as the head program on K nodes: from
                            the signal to dragon's exit (every node stopped)
Prints a TSV table (metric, ours, baseline, ratio; milliseconds) and, with --csv or
BENCH_CSV_DIR, the CSV the other benches write.
"""

import argparse
import os
import pathlib
import shutil
import sys
import tempfile

import bench_csv
from slurm_bench import median_seconds, sigint_teardown

REPO = pathlib.Path(__file__).resolve().parents[1]
STANDIN = REPO / "tests" / "pbs" / "mpiexec"


def fake_job(directory, nodes, build):
    """The environment of a PBS job of `nodes` hosts (one slot each) under the stand-in."""
    nodefile = pathlib.Path(directory) / f"nodefile-{nodes}"
    nodefile.write_text("".join(f"bench-host-{k}\n" for k in range(nodes)))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DRAGON_", "SLURM_", "PBS_")) and k != "NCPUS"}
    env.update(PBS_JOBID=f"{nodes}.bench", PBS_NODEFILE=str(nodefile),
               DRAGON_LAUNCHER_PBS_PALS_MPIEXEC=str(STANDIN),
               PYTHONPATH=str(pathlib.Path(build) / "lib" / "python3" / "site-packages"))
    return env


def measure(build, nodes, runs, directory):
    env = fake_job(directory, nodes, build)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # median_seconds and sigint_teardown run in this environment
    try:
        dragon = str(pathlib.Path(build) / "bin" / "dragon")
        hosts = ",".join(f"bench-host-{k}" for k in range(nodes))
        bare = [str(STANDIN), "--np", str(nodes), "--ppn", "1", "--cpu-bind", "none", "--hosts",
                hosts, "--pmi=pmix", "--line-buffer", "true"]
        median_seconds(bare, 1)  # warm the page cache
        median_seconds([dragon, "true"], 1)
        return {"mpiexec": median_seconds(bare, runs),
                "dragon": median_seconds([dragon, "true"], runs),
                "sigint": sigint_teardown(dragon, runs)}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.environ.get("DRAGON_BUILD_DIR", REPO / "build"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--nodes", default="2,4")
    bench_csv.add_argument(parser)
    args = parser.parse_args()
    if shutil.which("mpirun") is None:
        print("pbs_bench: skipped: the PALS stand-in needs Open MPI's mpirun (openmpi-bin)")
        return 0
    table = bench_csv.Table("pbs_bench", 0, args.csv)
    print("metric\tours\tbaseline\tratio")
    with tempfile.TemporaryDirectory(prefix="pbs-bench-") as directory:
        for k in [int(n) for n in args.nodes.split(",")]:
            m = measure(args.build, k, args.runs, directory)
            print(f"{k} nodes: dragon true vs mpiexec true (ms)\t{m['dragon'] * 1e3:.0f}\t"
                  f"{m['mpiexec'] * 1e3:.0f}\t{m['dragon'] / m['mpiexec']:.2f}", flush=True)
            print(f"{k} nodes: SIGINT to exit (ms)\t{m['sigint'] * 1e3:.0f}\t\t", flush=True)
            table.add(f"{k} nodes: dragon true", "ms", "lower", m["dragon"] * 1e3,
                      "stand-in mpiexec true", m["mpiexec"] * 1e3)
            table.add(f"{k} nodes: SIGINT to exit", "ms", "lower", m["sigint"] * 1e3, "", None)
    table.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
