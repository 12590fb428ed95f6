"""An unbounded queue is unbounded: items put before any get, far beyond the
channel's ring, for Queue, SimpleQueue and JoinableQueue; order per producer kept
with several producers; a truly full pool is a clear error, not a hang.

    queue_fill.py fill N     N items per kind, then a child consumes them
    queue_fill.py full       (with a small DRAGON_DEFAULT_SEG_SZ) fill the pool"""

import gc
import sys

import dragon  # noqa: F401
import multiprocessing as mp
from dragon import runtime


def consume(q, n, kind, done):
    for expected in range(n):
        item = q.get() if kind == 'SimpleQueue' else q.get(timeout=60)
        if item != expected:
            done.put('out of order: got %r, expected %r' % (item, expected))
            return
        if kind == 'JoinableQueue':
            q.task_done()
    done.put('ok')


def produce(q, producer, n):
    for i in range(n):
        q.put((producer, i))


def fill(n):
    for kind in ('Queue', 'SimpleQueue', 'JoinableQueue'):
        q = getattr(mp, kind)()
        for i in range(n):
            q.put(i)             # no consumer yet: must never block
        if kind != 'SimpleQueue':
            assert q.qsize() == n, (kind, q.qsize())
            assert not q.full()
        done = mp.Queue()
        p = mp.Process(target=consume, args=(q, n, kind, done))
        p.start()
        if kind == 'JoinableQueue':
            assert q.join(timeout=120), 'join() did not see every task done'
        result = done.get(timeout=120)
        assert result == 'ok', '%s: %s' % (kind, result)
        p.join(60)
        assert p.exitcode == 0
        print('%s fill ok (%d)' % (kind.lower(), n), flush=True)

    # Several producers, all before any get: each producer's items stay in order.
    q = mp.Queue()
    producers = [mp.Process(target=produce, args=(q, k, n // 4)) for k in range(3)]
    for p in producers:
        p.start()
    for p in producers:
        p.join(120)
        assert p.exitcode == 0
    following = [0, 0, 0]
    for _ in range(3 * (n // 4)):
        producer, i = q.get(timeout=60)
        assert i == following[producer], (producer, i, following[producer])
        following[producer] += 1
    assert q.empty()
    print('producers order ok', flush=True)


def full():
    pool = runtime.node_pool()
    warm = mp.Queue()
    warm.put(0)
    del warm             # the pool's holder table, made at the first channel, stays
    gc.collect()
    before = pool.stats()['bytes_in_use']
    q = mp.Queue()
    put = 0
    try:
        while True:
            q.put(put)
            put += 1
            assert put < 10_000_000, 'the pool never filled'
    except RuntimeError as e:
        message = str(e)
        assert 'DRAGON_DEFAULT_SEG_SZ' in message and 'exhausted' in message, message
        print('full pool error: %s' % message, flush=True)
    assert put > 1024, 'only %d items fitted' % put
    for i in range(10):
        assert q.get(timeout=5) == i      # what was put is still there, in order
    del q
    gc.collect()
    after = pool.stats()['bytes_in_use']
    assert after == before, '%d bytes in use before, %d after' % (before, after)
    print('full pool ok (%d items fitted)' % put, flush=True)


if __name__ == '__main__':
    mp.set_start_method('dragon')
    if sys.argv[1] == 'fill':
        fill(int(sys.argv[2]))
    else:
        full()
