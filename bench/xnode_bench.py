"""Across nodes: what the job's processes pay to talk between nodes, against what the
same two processes pay with the raw baseline, in the same run.

    dragon -N 2 bench/xnode_bench.py [--quick] [--busy N] [--csv FILE]
    DRAGON_LAUNCHER_LOCAL_NETNS=1 dragon -N 2 bench/xnode_bench.py   # separate hosts

The head runs on node 0, its partner process on node 1. Rows (TSV: metric, ours,
baseline, ratio = ours / baseline, lower is better for times):
  Queue ping-pong / Pipe ping-pong  round trip of a small object, each side sending into
                                    the other's queue (or one duplex Pipe), against a raw
                                    Python TCP ping-pong (TCP_NODELAY) between the same
                                    two processes. A third row sets the Queue's against a
                                    raw ping-pong whose receiver acknowledges each message
                                    and whose sender waits for that, as a put() that
                                    reports its true outcome must: the least such a
                                    protocol costs over this network
  Queue 64 MiB bandwidth            objects of 64 MiB from node 1 into a queue on node 0,
                                    against a raw Python TCP stream of the same objects
                                    (sendall of each, received into one reused 1 MiB
                                    buffer; higher is better: the ratio is ours / baseline
                                    as a rate); each get() builds a new 64 MiB bytes object.
                                    A second row sets the same figure against a raw stream
                                    that resends one cache-hot 1 MiB buffer: what the
                                    network path alone carries
  Pipe 64 MiB recv_bytes_into       the same objects through a Pipe, received into one
                                    reused buffer as the raw stream is
  start+join remote / local         a child on node 1 against one on node 0
  Pool.map over N nodes / 1 node    Pool(4).map(chunksize=1) spread round-robin over the
                                    job's nodes (dragon -N 4: over 4) against all workers
                                    on node 0
  Lock across nodes / one node      acquire+release by two contending processes
  Value read / increment            a process on node 1 reading v.value, or doing
                                    `with v.get_lock(): v.value += 1`, on a Value made on
                                    node 0, against a process on node 0 doing the same
--busy N keeps N CPU-bound processes running on every node during the measurements.
The table also goes to CSV (--csv FILE or $BENCH_CSV_DIR/xnode_bench-<mode>.csv).
"""

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import time

import dragon  # noqa: F401
from dragon.infrastructure.policy import Policy

ROUNDS = 2000
BIG = 64 << 20


def on_node(k):
    return Policy(placement=Policy.Placement.HOST_ID, host_id=k)


# -- ping-pong -----------------------------------------------------------------

WARM_UP = 20


def round_trip_us(exchange, rounds):
    '''Mean microseconds of exchange(i), after WARM_UP of them.'''
    for i in range(WARM_UP):
        exchange(i)
    t = time.perf_counter()
    for i in range(rounds - WARM_UP):
        exchange(i)
    return (time.perf_counter() - t) / (rounds - WARM_UP) * 1e6


def queue_partner(inbox_of_head, setup, rounds):
    mine = mp.Queue()
    setup.put(mine)
    for _ in range(rounds):
        inbox_of_head.put(mine.get())


def queue_pingpong(rounds):
    head_inbox, setup = mp.Queue(), mp.Queue()
    with on_node(1):
        p = mp.Process(target=queue_partner, args=(head_inbox, setup, rounds))
        p.start()
    partner_inbox = setup.get(timeout=60)

    def exchange(i):
        partner_inbox.put(i)
        head_inbox.get()
    us = round_trip_us(exchange, rounds)
    p.join(60)
    return us


def pipe_partner(conn, rounds):
    for _ in range(rounds):
        conn.send(conn.recv())


def pipe_pingpong(rounds):
    a, b = mp.Pipe()
    with on_node(1):
        p = mp.Process(target=pipe_partner, args=(b, rounds))
        p.start()

    def exchange(i):
        a.send(i)
        a.recv()
    us = round_trip_us(exchange, rounds)
    p.join(60)
    return us


def head_address():
    from dragon.native import machine
    return machine.Node(0).ip if os.environ.get('DRAGON_NUM_NODES', '1') != '1' else '127.0.0.1'


def listen():
    srv = socket.socket()
    srv.bind(('0.0.0.0', 0))
    srv.listen(1)
    return srv, srv.getsockname()[1]


def tcp_partner(address, rounds, size, whole=False, acked=False):
    s = socket.create_connection(address, timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if size and whole:
        data = b'x' * size
        for _ in range(rounds):
            s.sendall(data)
        s.recv(1)
    elif size:
        chunk = b'x' * (1 << 20)
        for _ in range(rounds):
            left = size
            while left:
                n = min(left, len(chunk))
                s.sendall(chunk[:n])
                left -= n
        s.recv(1)
    elif acked:
        for _ in range(rounds):
            data = _recv_exact(s, 8)
            s.sendall(b'a')              # the ping arrived
            s.sendall(data)
            _recv_exact(s, 1)            # the pong arrived
    else:
        for _ in range(rounds):
            s.sendall(_recv_exact(s, 8))
    s.close()


def _recv_exact(s, n):
    data = b''
    while len(data) < n:
        got = s.recv(n - len(data))
        if not got:
            raise EOFError
        data += got
    return data


def tcp_pingpong(rounds, acked=False):
    '''acked: each message is acknowledged by its receiver, and its sender waits for
    that before it goes on, as a send that reports its true outcome must.'''
    srv, port = listen()
    with on_node(1):
        p = mp.Process(target=tcp_partner,
                       args=((head_address(), port), rounds, 0, False, acked))
        p.start()
    s, _ = srv.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def exchange(i):
        s.sendall(b'12345678')
        _recv_exact(s, 1)
        _recv_exact(s, 8)
        s.sendall(b'a')

    def plain_exchange(i):
        s.sendall(b'12345678')
        _recv_exact(s, 8)
    us = round_trip_us(exchange if acked else plain_exchange, rounds)
    p.join(60)
    s.close()
    srv.close()
    return us


# -- bandwidth -----------------------------------------------------------------

def big_partner(q, n):
    data = b'x' * BIG
    for _ in range(n):
        q.put(data)


def queue_bandwidth(n):
    q = mp.Queue()
    with on_node(1):
        p = mp.Process(target=big_partner, args=(q, n + 1))
        p.start()
    q.get(timeout=120)                               # warm-up, and the start
    t = time.perf_counter()
    for _ in range(n):
        q.get(timeout=120)
    dt = time.perf_counter() - t
    p.join(60)
    return n * BIG / dt / 2**30


def big_bytes_partner(conn, n):
    data = b'x' * BIG
    for _ in range(n):
        conn.send_bytes(data)


def pipe_bandwidth(n):
    """Into one reused buffer (recv_bytes_into), as the raw stream receives: what the
    path between the nodes carries, without building a new 64 MiB object for each."""
    r, w = mp.Pipe(duplex=False)
    with on_node(1):
        p = mp.Process(target=big_bytes_partner, args=(w, n + 1))
        p.start()
    w.close()
    buf = bytearray(BIG)
    r.recv_bytes_into(buf)                           # warm-up, and the start
    t = time.perf_counter()
    for _ in range(n):
        r.recv_bytes_into(buf)
    dt = time.perf_counter() - t
    p.join(60)
    return n * BIG / dt / 2**30


def tcp_bandwidth(n, whole):
    '''GiB/s of a raw stream of n objects of BIG bytes (`whole`: one sendall of each
    object; else one cache-hot 1 MiB buffer sent over and over).'''
    srv, port = listen()
    with on_node(1):
        p = mp.Process(target=tcp_partner, args=((head_address(), port), n + 1, BIG, whole))
        p.start()
    s, _ = srv.accept()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = (n + 1) * BIG
    got = 0
    t = None
    while got < total:
        k = s.recv_into(view)
        if not k:
            break
        got += k
        if t is None and got >= BIG:
            t, got_at_t = time.perf_counter(), got
    dt = time.perf_counter() - t
    s.sendall(b'k')
    p.join(60)
    s.close()
    srv.close()
    return (total - got_at_t) / dt / 2**30


# -- processes, pools, locks ------------------------------------------------------

def nothing():
    pass


def start_join(node, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with on_node(node):
            p = mp.Process(target=nothing)
            p.start()
        p.join(60)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def small_work(x):
    return sum(i * i for i in range(2000)) + x


def worker_pid(_):
    time.sleep(0.01)  # long enough that no worker takes every task
    return os.getpid()


def every_worker_up(pool, n):
    """Maps until all n workers have run a task (a node whose warm server starts on
    first use brings its workers up a little later), 60 s at most."""
    seen, end = set(), time.monotonic() + 60
    while len(seen) < n and time.monotonic() < end:
        seen.update(pool.map(worker_pid, range(2 * n), chunksize=1))


def pool_map(local, tasks):
    policy = Policy(placement=Policy.Placement.LOCAL) if local else \
        Policy(distribution=Policy.Distribution.ROUNDROBIN)
    with policy:
        pool = mp.Pool(4)
    try:
        every_worker_up(pool, 4)
        t = time.perf_counter()
        pool.map(small_work, range(tasks), chunksize=1)
        return (time.perf_counter() - t) * 1e3
    finally:
        pool.terminate()
        pool.join()


def lock_partner(lock, ready, n):
    ready.put(1)
    for _ in range(n):
        lock.acquire()
        lock.release()


def lock_contention(node, n):
    lock, ready = mp.Lock(), mp.Queue()
    with on_node(node):
        p = mp.Process(target=lock_partner, args=(lock, ready, n))
        p.start()
    ready.get(timeout=60)
    t = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    p.join(120)
    return (time.perf_counter() - t) / (2 * n) * 1e6


def value_partner(v, out, n, increment):
    t = time.perf_counter()
    if increment:
        for _ in range(n):
            with v.get_lock():
                v.value += 1
    else:
        for _ in range(n):
            v.value
    out.put((time.perf_counter() - t) / n * 1e6)


def value_access(node, n, increment):
    '''Microseconds per read (or locked increment) of a node-0 Value by a process on
    `node`.'''
    v, out = mp.Value('q', 0), mp.Queue()
    with on_node(node):
        p = mp.Process(target=value_partner, args=(v, out, n, increment))
        p.start()
    us = out.get(timeout=300)
    p.join(60)
    if increment and v.value != n:
        raise RuntimeError('the Value counted %d increments of %d' % (v.value, n))
    return us


def start_busy(n):
    '''N CPU-bound processes on every node (started as job processes on each).'''
    procs = []
    for node in range(int(os.environ.get('DRAGON_NUM_NODES', '1'))):
        for _ in range(n):
            with on_node(node):
                p = mp.Process(target=spin, daemon=True)
                p.start()
            procs.append(p)
    return procs


def spin():
    while True:
        pass


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_csv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='fewer iterations')
    parser.add_argument('--busy', type=int, default=0, metavar='N',
                        help='CPU-bound processes on every node during the measurements')
    bench_csv.add_argument(parser)
    args = parser.parse_args()
    mp.set_start_method('dragon')
    if int(os.environ.get('DRAGON_NUM_NODES', '1')) < 2:
        parser.error('run it on two nodes or more: dragon -N 2 bench/xnode_bench.py')
    rounds = 300 if args.quick else ROUNDS
    big_n = 2 if args.quick else 6
    table = bench_csv.Table('xnode_bench', args.busy, args.csv)
    busy = start_busy(args.busy)
    rows = []
    try:
        tcp_rtt, acked_rtt = tcp_pingpong(rounds), tcp_pingpong(rounds, acked=True)
        queue_rtt, pipe_rtt = queue_pingpong(rounds), pipe_pingpong(rounds)
        rows.append(('Queue ping-pong across nodes (us)', queue_rtt,
                     'raw TCP ping-pong', tcp_rtt, 'lower'))
        rows.append(('Pipe ping-pong across nodes (us)', pipe_rtt,
                     'raw TCP ping-pong', tcp_rtt, 'lower'))
        rows.append(('Queue ping-pong, against acknowledged sends (us)', queue_rtt,
                     'raw TCP ping-pong, each message acknowledged', acked_rtt, 'lower'))
        tcp_rate, hot_rate = tcp_bandwidth(big_n, True), tcp_bandwidth(big_n, False)
        queue_rate = queue_bandwidth(big_n)
        rows.append(('Queue 64 MiB bandwidth across nodes (GiB/s)', queue_rate,
                     'raw TCP stream of the objects', tcp_rate, 'higher'))
        rows.append(('Queue 64 MiB bandwidth, against a cache-hot stream (GiB/s)', queue_rate,
                     'raw TCP stream of one 1 MiB buffer', hot_rate, 'higher'))
        rows.append(('Pipe 64 MiB recv_bytes_into across nodes (GiB/s)',
                     pipe_bandwidth(big_n), 'raw TCP stream of the objects', tcp_rate, 'higher'))
        n = 10 if args.quick else 30
        rows.append(('start+join, child on the other node (ms)', start_join(1, n),
                     'child on the same node', start_join(0, n), 'lower'))
        tasks = 200 if args.quick else 1000
        nodes = int(os.environ['DRAGON_NUM_NODES'])
        rows.append(('Pool(4).map chunksize 1, %d nodes (ms)' % nodes, pool_map(False, tasks),
                     'all workers on node 0', pool_map(True, tasks), 'lower'))
        k = 300 if args.quick else 2000
        rows.append(('Lock acquire+release, contended across nodes (us)', lock_contention(1, k),
                     'contended on one node', lock_contention(0, k), 'lower'))
        rows.append(('Value read from the other node (us)', value_access(1, k, False),
                     'read on its node', value_access(0, k, False), 'lower'))
        rows.append(('Value += 1 under get_lock() from the other node (us)',
                     value_access(1, k, True), 'on its node', value_access(0, k, True),
                     'lower'))
    finally:
        for p in busy:
            p.kill()
        for p in busy:
            p.join(10)
    print('metric\tours\tbaseline\tratio')
    for metric, ours, base_name, base, better in rows:
        print('%s\t%.4g\t%.4g (%s)\t%.3g' % (metric, ours, base, base_name, ours / base))
        unit = metric.rsplit('(', 1)[1].rstrip(')')
        table.add(metric, unit, better, ours, base_name, base)
    table.write()


if __name__ == '__main__':
    main()
