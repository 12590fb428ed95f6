#!/usr/bin/env python3
"""Pipe (or Queue) ping-pong of several builds under the same conditions: runs
alternate between the builds (and stock start methods), so that other jobs'
load on a shared machine falls on all of them alike, and medians are compared.
For finding when a figure changed (bisecting with a build tree per commit) and
for before/after figures of a change.

    python3 bench/build_ab.py [--runs 5] [--rounds 20000] [--busy N] [--kind pipe|queue]
                              [--stock spawn] [--csv FILE] NAME=BUILD_DIR [NAME=BUILD_DIR...]

The first build is "ours" in the CSV table (bench_csv.py), every other build and
stock method a baseline. Each run is one `BUILD_DIR/bin/dragon` job; before it,
the runnable threads of other processes are sampled for 0.3 s (the
"others-runnable" column: the data plane's waits poll only while the machine has
a CPU to spare, framework/dataplane/cpu_to_spare.hpp).
"""

import argparse
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

import bench_csv

JOB = '''
import multiprocessing as mp
import sys
import time

import dragon  # noqa: F401


def echo(kind, a, b, n):
    if kind == 'pipe':
        for _ in range(n):
            a.send_bytes(a.recv_bytes())
    else:
        for _ in range(n):
            b.put(a.get())


if __name__ == '__main__':
    kind, method, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = mp.get_context(method)
    if kind == 'pipe':
        mine, theirs = ctx.Pipe()
        args = (theirs, None, n)
        send, recv = mine.send_bytes, mine.recv_bytes
    else:
        inq, outq = ctx.Queue(), ctx.Queue()
        args = (inq, outq, n)
        send, recv = inq.put, outq.get
    p = ctx.Process(target=echo, args=(kind,) + args)
    p.start()
    send(b'x' * 8)
    recv()                      # the child is up: not timed
    t0 = time.perf_counter()
    for _ in range(n - 1):
        send(b'x' * 8)
        recv()
    t = time.perf_counter() - t0
    p.join(60)
    print('us/round trip %.3f' % (t / (n - 1) * 1e6), flush=True)
'''


def others_runnable(seconds=0.3):
    '''Mean runnable threads of other processes (/proc/loadavg counts this one too).'''
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with open('/proc/loadavg') as f:
            samples.append(int(f.read().split()[3].split('/')[0]) - 1)
        time.sleep(0.01)
    return statistics.mean(samples)


def one_run(build, method, kind, rounds, job, env):
    out = subprocess.run([str(pathlib.Path(build) / 'bin' / 'dragon'), str(job), kind, method,
                          str(rounds)], env=env, capture_output=True, text=True, timeout=600)
    found = re.search(r'us/round trip ([\d.]+)', out.stdout)
    if out.returncode != 0 or not found:
        raise RuntimeError('%s (%s) failed with exit %d:\n%s%s' % (build, method, out.returncode,
                                                                  out.stdout, out.stderr))
    return float(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('builds', nargs='+', metavar='NAME=BUILD_DIR')
    parser.add_argument('--runs', type=int, default=5, help='runs per build (default 5)')
    parser.add_argument('--rounds', type=int, default=20000, help='round trips per run')
    parser.add_argument('--busy', type=int, default=0, metavar='N',
                        help='CPU-bound processes running during the measurements')
    parser.add_argument('--kind', choices=['pipe', 'queue'], default='pipe')
    parser.add_argument('--stock', default='spawn',
                        help='stock start methods to run too, comma-separated (default spawn; '
                        '"" for none), with the first build\'s launcher')
    bench_csv.add_argument(parser)
    args = parser.parse_args()
    variants = []
    for spec in args.builds:
        name, sep, build = spec.partition('=')
        if not sep or not (pathlib.Path(build) / 'bin' / 'dragon').exists():
            parser.error('%r: give NAME=BUILD_DIR with BUILD_DIR/bin/dragon' % spec)
        variants.append((name, build, 'dragon'))
    for method in filter(None, args.stock.split(',')):
        variants.append((method, variants[0][1], method))
    env = {k: v for k, v in os.environ.items() if not k.startswith('DRAGON_')}
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(args.busy)]
    times = {name: [] for name, _, _ in variants}
    loads = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            job = pathlib.Path(tmp) / 'build_ab_job.py'
            job.write_text(JOB)
            for run in range(args.runs):
                for name, build, method in variants:
                    load = others_runnable()
                    loads.append(load)
                    us = one_run(build, method, args.kind, args.rounds, job, env)
                    times[name].append(us)
                    print('run %d %-12s others-runnable %4.1f  %8.2f us/round trip'
                          % (run + 1, name, load, us), flush=True)
    finally:
        for p in busy:
            p.kill()
        for p in busy:
            p.wait()
    print('%s ping-pong 8 B, %d runs x %d round trips, %d CPU-bound neighbours, '
          'others-runnable median %.1f, load average now %.2f:'
          % (args.kind, args.runs, args.rounds, args.busy, statistics.median(loads),
             os.getloadavg()[0]))
    first = variants[0][0]
    table = bench_csv.Table('build_ab', args.busy, args.csv)
    metric = '%s ping-pong 8 B' % args.kind.capitalize()
    for name, _, _ in variants:
        med = statistics.median(times[name])
        print('  %-12s median %8.2f us  (%s)' % (name, med, ' '.join('%.1f' % t
                                                                   for t in times[name])))
        if name != first:
            table.add(metric, 'us/round trip', 'lower', statistics.median(times[first]), name,
                      med)
    table.write()
    return 0


if __name__ == '__main__':
    sys.exit(main())
