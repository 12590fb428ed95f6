#
# An unbounded queue is unbounded: put N items before any get (a common shape:
# fill the task queue, then start the workers), then a child process gets them
# all (and, for a JoinableQueue, task_done()s them while the parent join()s).
# Before, an unbounded Queue held 8,192 undelivered items and put() then blocked
# forever; stock's put never blocks (its feeder thread buffers).
#
#   build/bin/dragon bench/fill_bench.py                # 1,000,000 items, dragon and spawn
#   build/bin/dragon bench/fill_bench.py -n 100000 --methods dragon
#   build/bin/dragon bench/fill_bench.py --busy 2       # with 2 CPU-bound processes beside it
#
# Stock's SimpleQueue is a bare pipe whose put() blocks once 64 KiB are
# unread, so it is not run for the stock methods (it would never finish).
#
# Prints, per queue kind and start method: seconds to put, seconds until the
# consumer got everything, and for dragon the pool's bytes in use at the peak
# and after (back to the start once the queue is dropped). The times also go to
# a CSV file (--csv FILE or $BENCH_CSV_DIR/fill_bench-quiet.csv,
# bench/bench_csv.py): dragon's against each stock method's.
#

import argparse
import gc
import multiprocessing as mp
import sys
import time

import dragon  # noqa: F401


def consume(q, n, joinable, done):
    expected = 0
    for _ in range(n):
        item = q.get()
        if item != expected:
            done.put('out of order: got %r, expected %r' % (item, expected))
            return
        expected += 1
        if joinable:
            q.task_done()
    done.put('ok')


def run(ctx, kind, n):
    q = getattr(ctx, kind)()
    done = ctx.SimpleQueue()
    start = time.monotonic()
    for i in range(n):
        q.put(i)
    put_s = time.monotonic() - start
    peak = _in_use(ctx)
    p = ctx.Process(target=consume, args=(q, n, kind == 'JoinableQueue', done))
    p.start()
    if kind == 'JoinableQueue':
        q.join()
    result = done.get()
    total_s = time.monotonic() - start
    p.join()
    del q, p
    return put_s, total_s, peak, result


def _in_use(ctx):
    if ctx.get_start_method() != 'dragon':
        return None
    from dragon import runtime
    gc.collect()
    return runtime.node_pool().stats()['bytes_in_use']


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('-n', type=int, default=1_000_000, help='items (default 1,000,000)')
    parser.add_argument('--methods', default='dragon,spawn')
    parser.add_argument('--kinds', default='Queue,SimpleQueue,JoinableQueue')
    import bench_csv    # here, not at the top: children import this module too
    bench_csv.add_argument(parser, busy=True)
    args = parser.parse_args()
    with bench_csv.busy_neighbours(args.busy):
        seconds, failed = measure(args)
    write_csv(seconds, args)
    return 1 if failed else 0


def measure(args):
    failed = False
    seconds = {}
    for method in args.methods.split(','):
        ctx = mp.get_context(method)
        if method == 'dragon':
            ctx.Queue().put(0)   # the pool's holder table, made once, is not counted
        for kind in args.kinds.split(','):
            if kind == 'SimpleQueue' and method != 'dragon':
                continue
            before = _in_use(ctx)
            put_s, total_s, peak, result = run(ctx, kind, args.n)
            after = _in_use(ctx)
            mem = '' if before is None else (
                '  pool bytes in use: %d at start, %d with all queued, %d after' %
                (before, peak, after))
            print('%-6s %-13s %9d items: put %6.2f s, all got %6.2f s  %s%s' %
                  (method, kind, args.n, put_s, total_s, result, mem), flush=True)
            failed |= result != 'ok' or (before is not None and after != before)
            seconds[method, kind] = put_s, total_s
    return seconds, failed


def write_csv(seconds, args):
    import bench_csv
    table = bench_csv.Table('fill_bench', args.busy, args.csv)
    for kind in args.kinds.split(','):
        if ('dragon', kind) not in seconds:
            continue
        ours = seconds['dragon', kind]
        stock = [m for m in args.methods.split(',') if m != 'dragon' and (m, kind) in seconds]
        for i, what in enumerate(['put %d items' % args.n, 'put, then all got']):
            metric = '%s %s' % (kind, what)
            if not stock:
                table.add(metric, 's', 'lower', ours[i])
            for m in stock:
                table.add(metric, 's', 'lower', ours[i], m, seconds[m, kind][i])
    table.write()


if __name__ == '__main__':
    sys.exit(main())
