#!/usr/bin/env python3
"""How long Ctrl-C takes to end a job whose processes wait: `dragon -N NODES job.py`
where the head process and WORKERS children block in Queue.get() without a
timeout; SIGINT goes to the frontend (--to frontend) or, as a terminal's Ctrl-C
does, to the frontend's whole process group (--to group). Prints the time from
the signal to the frontend's exit for every run, then min/median/max and how
many runs took over a second. Stock multiprocessing ends such a program in tens
of milliseconds; the frontend gives up and kills after 5 s.

    python3 bench/sigint_bench.py [--build DIR] [--runs 20] [--nodes 4] [--workers 4]
                                  [--busy N] [--csv FILE]

--busy N keeps N CPU-bound processes running meanwhile. The summary also goes to a
CSV file (--csv FILE or $BENCH_CSV_DIR/sigint_bench-quiet.csv / -busyN.csv;
bench/bench_csv.py).
"""

import argparse
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import bench_csv

JOB = '''
import multiprocessing as mp
import sys
import dragon  # noqa: F401


def worker(q, ready):
    ready.put(1)
    q.get()


if __name__ == '__main__':
    mp.set_start_method('dragon')
    q, ready = mp.Queue(), mp.Queue()
    procs = [mp.Process(target=worker, args=(q, ready)) for _ in range(int(sys.argv[1]))]
    for p in procs:
        p.start()
    for p in procs:
        ready.get(timeout=60)
    print('ready', flush=True)
    q.get()
'''


def one_run(dragon, job, nodes, workers, to, env):
    proc = subprocess.Popen([dragon, '-N', str(nodes), str(job), str(workers)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        if line.strip() != 'ready':
            raise RuntimeError('the job did not start: %r' % line)
        time.sleep(0.3)         # every process is asleep in get() by now
        t0 = time.perf_counter()
        if to == 'group':
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        return time.perf_counter() - t0, proc.returncode
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()


def main():
    repo = pathlib.Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--build', default=os.environ.get('DRAGON_BUILD_DIR', repo / 'build'))
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--nodes', type=int, default=4)
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--to', choices=['frontend', 'group'], default='frontend')
    bench_csv.add_argument(parser, busy=True)
    args = parser.parse_args()
    dragon = str(pathlib.Path(args.build) / 'bin' / 'dragon')
    env = {k: v for k, v in os.environ.items() if not k.startswith('DRAGON_')}
    site = pathlib.Path(args.build) / 'lib' / 'python3' / 'site-packages'
    env['PYTHONPATH'] = str(site) + os.pathsep + env.get('PYTHONPATH', '')

    with tempfile.TemporaryDirectory() as tmp, bench_csv.busy_neighbours(args.busy):
        job = pathlib.Path(tmp) / 'wait_in_get.py'
        job.write_text(JOB)
        times, codes = [], []
        for i in range(args.runs):
            took, code = one_run(dragon, job, args.nodes, args.workers, args.to, env)
            times.append(took)
            codes.append(code)
            print('run %2d: %.3f s (exit %d)' % (i + 1, took, code), flush=True)
    slow = sum(t > 1.0 for t in times)
    print('SIGINT to %s, dragon -N %d, %d workers in get(): min %.3f s, median %.3f s, '
          'max %.3f s; %d of %d runs over 1 s; exit codes %s'
          % (args.to, args.nodes, args.workers, min(times), statistics.median(times), max(times),
             slow, len(times), sorted(set(codes))))
    table = bench_csv.Table('sigint_bench', args.busy, args.csv)
    what = 'SIGINT to %s, -N %d' % (args.to, args.nodes)
    table.add(what + ': median time to exit', 's', 'lower', statistics.median(times))
    table.add(what + ': longest time to exit', 's', 'lower', max(times))
    table.add(what + ': runs over 1 s', 'runs', 'lower', slow)
    table.write()
    return 0


if __name__ == '__main__':
    sys.exit(main())
