"""Dragon's start method against stock multiprocessing, in one run.

    dragon bench/mp_bench.py [--quick] [--busy N] [--methods dragon,spawn] [--only TEXT]
                             [--csv FILE]
    (or, without the launcher: python3 tests/python/programs/fake_node.py bench/mp_bench.py)

Prints one row per measurement: the time (or rate) for each start method and
the ratio stock/dragon (above 1: dragon is faster). --busy N keeps N CPU-bound
processes running during every measurement (communication on a machine whose
cores are busy, as with a worker per core); --only runs the rows whose title
contains TEXT. The table also goes to a CSV file (--csv FILE, or
$BENCH_CSV_DIR/mp_bench-quiet.csv / -busyN.csv; bench/bench_csv.py) that
bench/plot.py draws.
"""

import argparse
import multiprocessing as mp
import os
import sys
import time

import dragon  # noqa: F401

METHODS = ['dragon', 'spawn', 'forkserver', 'fork']
QUICK = '--quick' in sys.argv


def noop():
    pass


def queue_echo(inq, outq):
    while True:
        item = inq.get()
        if item is None:
            return
        outq.put(item)


def pipe_echo(conn):
    while True:
        data = conn.recv_bytes()
        if not data:
            return
        conn.send_bytes(data)


def queue_produce(q, n, payload):
    for _ in range(n):
        q.put(payload)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def seq_start(ctx, n=10 if QUICK else 30):
    def run():
        for _ in range(n):
            p = ctx.Process(target=noop)
            p.start()
            p.join(60)
    return timed(run) / n * 1e3, 'ms/process'


def burst_start(ctx, n=16):
    def run():
        procs = [ctx.Process(target=noop) for _ in range(n)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
    return timed(run) * 1e3, 'ms for 16'


# A ping-pong row runs at least this many round trips and for at least this long:
# on busy cores a CPU-bound neighbour takes a time slice of a few milliseconds now
# and then, and a window of a few such slices says more about their timing than
# about the round trip (2,000 round trips of 7 us last 14 ms).
PINGPONG_ROUNDS = 500 if QUICK else 2000
PINGPONG_SECONDS = 0.1 if QUICK else 0.5


def round_trips(exchange):
    """Mean seconds of exchange() over PINGPONG_ROUNDS and PINGPONG_SECONDS at least."""
    done, t0 = 0, time.perf_counter()
    while True:
        for _ in range(PINGPONG_ROUNDS // 4):
            exchange()
        done += PINGPONG_ROUNDS // 4
        elapsed = time.perf_counter() - t0
        if done >= PINGPONG_ROUNDS and elapsed >= PINGPONG_SECONDS:
            return elapsed / done


def queue_pingpong(ctx):
    inq, outq = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=queue_echo, args=(inq, outq))
    p.start()
    inq.put(b'x' * 8)
    outq.get()          # warm: the child is up

    def exchange():
        inq.put(b'x' * 8)
        outq.get()
    t = round_trips(exchange)
    inq.put(None)
    p.join(60)
    return t * 1e6, 'us/round trip'


def pipe_pingpong(ctx):
    a, b = ctx.Pipe()
    p = ctx.Process(target=pipe_echo, args=(b,))
    p.start()
    a.send_bytes(b'x' * 8)
    a.recv_bytes()

    def exchange():
        a.send_bytes(b'x' * 8)
        a.recv_bytes()
    t = round_trips(exchange)
    a.send_bytes(b'')
    p.join(60)
    return t * 1e6, 'us/round trip'


def queue_stream(ctx, n, payload):
    q = ctx.Queue()
    p = ctx.Process(target=queue_produce, args=(q, n, payload))
    p.start()
    q.get()             # the first item waits for the child's start; not timed

    def run():
        for _ in range(n - 1):
            q.get()
    t = timed(run)
    p.join(60)
    return t, n - 1


def small_objects(ctx):
    t, n = queue_stream(ctx, 5000 if QUICK else 20000, (1, 'two', 3.0))
    return n / t / 1e3, 'k items/s'


def mib_1(ctx):
    t, n = queue_stream(ctx, 50 if QUICK else 200, bytearray(1 << 20))
    return n * 1 / t / 1024, 'GiB/s'


def mib_64(ctx):
    t, n = queue_stream(ctx, 3 if QUICK else 6, bytearray(64 << 20))
    return n * 64 / t / 1024, 'GiB/s'


BENCHES = [('Process start+join, sequential', seq_start, False),
           ('16 Processes at once', burst_start, False),
           ('Queue ping-pong 8 B', queue_pingpong, False),
           ('Pipe ping-pong 8 B', pipe_pingpong, False),
           ('Queue small objects', small_objects, True),
           ('Queue 1 MiB bandwidth', mib_1, True),
           ('Queue 64 MiB bandwidth', mib_64, True)]


def main():
    import bench_csv    # here, not at the top: children import this module too
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='fewer iterations')
    parser.add_argument('--methods', default=','.join(METHODS),
                        help='start methods, dragon first (default: %(default)s)')
    parser.add_argument('--only', default='', metavar='TEXT',
                        help='only the rows whose title contains TEXT')
    bench_csv.add_argument(parser, busy=True)
    args = parser.parse_args()
    table = bench_csv.Table('mp_bench', args.busy, args.csv)
    methods = args.methods.split(',')
    if methods[0] != 'dragon' or not set(methods) <= set(METHODS):
        parser.error('--methods: dragon first, then any of %s' % ', '.join(METHODS[1:]))
    mp.set_start_method('dragon')
    print('machine: %d CPUs, load average %.2f (other jobs count too: "quiet" below '
          'means no CPU-bound neighbours of ours)' % (os.cpu_count(), os.getloadavg()[0]))
    with bench_csv.busy_neighbours(args.busy):
        header = '%-32s' % 'benchmark' + ''.join('%12s' % m for m in methods) + '  unit'
        print(header)
        print('-' * len(header))
        ratios = {m: [] for m in methods[1:]}
        for title, bench, higher_is_better in BENCHES:
            if args.only not in title:
                continue
            values = {}
            for method in methods:
                values[method], unit = bench(mp.get_context(method))
            print('%-32s' % title + ''.join('%12.3g' % values[m] for m in methods) + '  ' + unit,
                  flush=True)
            for m in methods[1:]:
                ratio = (values['dragon'] / values[m] if higher_is_better
                         else values[m] / values['dragon'])
                ratios[m].append('%.2fx' % ratio)
                table.add(title, unit, 'higher' if higher_is_better else 'lower',
                          values['dragon'], m, values[m])
    print()
    print('dragon speed-up over each stock method (above 1: dragon is faster):')
    for m in methods[1:]:
        print('  vs %-11s' % m + ' '.join('%8s' % r for r in ratios[m]))
    table.write()


if __name__ == '__main__':
    main()
