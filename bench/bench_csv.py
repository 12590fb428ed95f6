#
# The Python benches' tables, also as CSV (bench/plot.py turns them into PNGs).
#
# One row per comparison, the same columns as the C++ benches (bench_table.hpp):
#   bench, mode, metric, unit, better, ours, baseline_name, baseline, ratio, machine_load
# mode is "quiet" or "busyN" (N CPU-bound processes beside the measurement);
# machine_load is the 1-minute load average when the row was measured ("quiet"
# means nothing of the bench's beside it, not an idle machine: on a shared one,
# other jobs' threads change what waits do, see framework/dataplane/cpu_to_spare.hpp);
# better is "lower" (times) or "higher" (rates); ratio is ours / baseline. A row
# without a baseline (nothing to compare in the same run) leaves those empty.
#
# Where: --csv FILE, else $BENCH_CSV_DIR/<bench>-<mode>.csv, else nowhere.
#

import contextlib
import csv
import os
import subprocess
import sys

COLUMNS = ['bench', 'mode', 'metric', 'unit', 'better', 'ours', 'baseline_name', 'baseline',
           'ratio', 'machine_load']


def mode_name(busy):
    return 'busy%d' % busy if busy else 'quiet'


def add_argument(parser, busy=False):
    parser.add_argument('--csv', metavar='FILE', default=None,
                        help='also write the table as CSV to FILE (default: '
                        '$BENCH_CSV_DIR/<bench>-<mode>.csv when that is set)')
    if busy:
        parser.add_argument('--busy', type=int, default=0, metavar='N',
                            help='CPU-bound processes running during the measurements')


@contextlib.contextmanager
def busy_neighbours(n):
    '''N CPU-bound processes (plain interpreters, outside every start method and job)
    while the block runs, which gets their Popen objects; killed and reaped after it,
    whatever happens.'''
    procs = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(n)]
    for p in procs:
        # Over the whole machine: a benchmark's process may be pinned to one simulated
        # node's CPUs (separate-hosts mode), and its neighbours stand for every node's.
        try:
            os.sched_setaffinity(p.pid, range(os.cpu_count()))
        except OSError:
            pass
    try:
        if procs:
            print('%d CPU-bound processes running beside the benchmark' % n, flush=True)
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


class Table:
    '''Collects rows; write() puts them where --csv or BENCH_CSV_DIR says.'''

    def __init__(self, bench, busy=0, path=None):
        self.bench = bench
        self.mode = mode_name(busy)
        directory = os.environ.get('BENCH_CSV_DIR')
        if path is None and directory:
            path = os.path.join(directory, '%s-%s.csv' % (bench, self.mode))
        self.path = path
        self.rows = []

    def add(self, metric, unit, better, ours, baseline_name='', baseline=None):
        if better not in ('lower', 'higher'):
            raise ValueError('better must be "lower" or "higher", not %r' % better)
        ratio = ours / baseline if baseline else None
        self.rows.append([self.bench, self.mode, metric, unit, better, _number(ours),
                          baseline_name, _number(baseline), _number(ratio),
                          '%.2f' % os.getloadavg()[0]])

    def write(self):
        if not self.path:
            return None
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(self.path, 'w', newline='') as f:
            out = csv.writer(f)
            out.writerow(COLUMNS)
            out.writerows(self.rows)
        print('CSV: %s' % self.path, flush=True)
        return self.path


def _number(value):
    return '' if value is None else '%.6g' % value
