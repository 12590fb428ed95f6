#
# Channel lifetime under churn: make, use and drop objects in a loop, as
# long-running services do per task, and check that the node pool's bytes in
# use come back to where they started (channels are freed when their last
# reference in the job is gone: framework/dataplane/holders.hpp).
#
#   build/bin/dragon bench/churn_bench.py                 # 1,000,000 each, 10,000 Pool(1)
#   build/bin/dragon bench/churn_bench.py --scale 0.01    # a quick look
#   build/bin/dragon bench/churn_bench.py --only queue,pipe
#   build/bin/dragon bench/churn_bench.py --busy 2       # with 2 CPU-bound processes beside it
#
# Prints one line per kind: count, seconds, objects per second, pool bytes in
# use before and after (and their difference, which must be 0), and the pool's
# high-water mark. Exits 1 if a difference is not 0. The rates and differences
# also go to a CSV file (--csv FILE or $BENCH_CSV_DIR/churn_bench-quiet.csv;
# bench/bench_csv.py); there is no baseline to compare in the same run.
#

import argparse
import gc
import multiprocessing as mp
import sys
import time

import dragon  # noqa: F401
from dragon import runtime


def queue_once(i):
    q = mp.Queue()
    q.put(i)
    assert q.get() == i


def pipe_once(i):
    a, b = mp.Pipe()
    a.send(i)
    assert b.recv() == i


def lock_event_once(i):
    lock = mp.Lock()
    event = mp.Event()
    with lock:
        event.set()
    assert event.wait(0)


def pool_once(i):
    with mp.Pool(1) as pool:
        assert pool.apply(abs, (-i,)) == i


KINDS = {
    'queue': (queue_once, 1_000_000),
    'pipe': (pipe_once, 1_000_000),
    'lock_event': (lock_event_once, 1_000_000),
    'pool': (pool_once, 10_000),
}


def settle():
    '''Collects cycles (Pool objects are cyclic) and waits for the warm server to
    reap exited workers, which gives their references back.'''
    gc.collect()
    time.sleep(1.5)
    gc.collect()


def run(kind, count, pool, table):
    once = KINDS[kind][0]
    once(0)         # warm-up: the holder table and map sizes reach their steady state
    settle()
    before = pool.stats()['bytes_in_use']
    start = time.monotonic()
    progress = max(1, count // 10)
    for i in range(count):
        once(i)
        if (i + 1) % progress == 0 and count >= 100_000:
            print('  %s: %d done, %.0f s' % (kind, i + 1, time.monotonic() - start),
                  flush=True)
    seconds = time.monotonic() - start
    settle()
    stats = pool.stats()
    after = stats['bytes_in_use']
    print('%-10s %9d in %8.1f s  %9.0f/s  bytes in use before %d after %d (diff %d), '
          'high water %d of %d' % (kind, count, seconds, count / seconds, before, after,
                                   after - before, stats['high_water'], stats['capacity']),
          flush=True)
    table.add('%s made, used, dropped' % kind, 'objects/s', 'higher', count / seconds)
    table.add('%s pool bytes in use, after - before' % kind, 'bytes', 'lower', after - before)
    return after - before


def main():
    import bench_csv    # here, not at the top: children import this module too
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--scale', type=float, default=1.0,
                        help='multiply every count (default 1: 1,000,000 and 10,000 Pools)')
    parser.add_argument('--only', default=','.join(KINDS),
                        help='comma-separated kinds: ' + ', '.join(KINDS))
    bench_csv.add_argument(parser, busy=True)
    args = parser.parse_args()
    table = bench_csv.Table('churn_bench', args.busy, args.csv)
    mp.set_start_method('dragon')
    pool = runtime.node_pool()
    print('pool %s: %d bytes' % (pool.name, pool.stats()['capacity']), flush=True)
    leaks = 0
    kinds = args.only.split(',')
    for kind in kinds:
        if kind not in KINDS:
            parser.error('unknown kind %r; choose from %s' % (kind, ', '.join(KINDS)))
    with bench_csv.busy_neighbours(args.busy):
        for kind in kinds:
            leaks += run(kind, max(1, int(KINDS[kind][1] * args.scale)), pool, table) != 0
    table.write()
    return 1 if leaks else 0


if __name__ == '__main__':
    sys.exit(main())
