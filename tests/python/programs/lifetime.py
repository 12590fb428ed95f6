"""Channel lifetime: objects made and dropped in a loop are freed, references of a
SIGKILLed child are released, a Queue in transit stays alive. Run under dragon
with a small DRAGON_DEFAULT_SEG_SZ: without freeing, the loops would not fit."""

import gc
import os
import queue
import signal
import sys
import time

import dragon  # noqa: F401
import multiprocessing as mp
from dragon import runtime

# lifetime.py churn N: the loops; lifetime.py refs: killed holders, transit, Pool(1);
# lifetime.py killed-put: a putter SIGKILLed while it copies a 64 MiB object.
MODE = sys.argv[1] if len(sys.argv) > 1 else 'churn'
CHURN = int(sys.argv[2]) if len(sys.argv) > 2 else 20000


def in_use(pool):
    '''Pool bytes the job's channels take (the holders' reference maps, which grow
    with the most references a process held at once, not counted).'''
    gc.collect()
    return pool.stats()['bytes_in_use'] - pool.holder_bytes()


def footprint(pool, make):
    '''Pool bytes one live object of this kind takes.'''
    before = in_use(pool)
    obj = make()
    size = in_use(pool) - before
    del obj
    return size


def churn(pool, name, make, use, count):
    use(make())      # warm-up: holder map sizes settle
    one = footprint(pool, make)
    capacity = pool.stats()['capacity']
    assert one * count > capacity, ('%s: %d x %d bytes fit in the pool of %d bytes anyway; '
                                    'the test proves nothing' % (name, count, one, capacity))
    before = in_use(pool)
    for i in range(count):
        use(make(), i)
    after = in_use(pool)
    assert after == before, '%s: %d bytes in use before, %d after' % (name, before, after)
    print('%s churn ok (%d, %d bytes each)' % (name, count, one), flush=True)


def use_queue(q, i=0):
    q.put(i)
    assert q.get() == i


def use_pipe(ends, i=0):
    a, b = ends
    a.send(i)
    assert b.recv() == i


def make_lock_event():
    return mp.Lock(), mp.Event()


def use_lock_event(pair, i=0):
    lock, event = pair
    with lock:
        event.set()
    assert event.is_set()


def hold_until_killed(objs, ready):
    ready.put(os.getpid())
    time.sleep(120)


def relay(inbox, outbox):
    q = inbox.get(timeout=30)          # a Queue that travelled through a Queue
    outbox.put(q.get(timeout=30))
    conn = inbox.get(timeout=30)       # a Pipe end, likewise
    outbox.put(conn.recv())


def sigkill(p):
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert p.exitcode == -signal.SIGKILL


def assert_released(pool, before, who):
    after = in_use(pool)
    assert after == before, '%s: %d bytes in use before, %d after' % (who, before, after)


def put_when_told(q, size, go, ready):
    payload = bytearray(size)          # made (and its pages touched) before the put
    payload[::4096] = b'x' * len(payload[::4096])
    ready.put(os.getpid())
    go.get(timeout=30)
    q.put(payload)
    time.sleep(120)


def run_killed_put(pool):
    # Before: the child's 128 MiB block (64 MiB and the framing, rounded to a power
    # of two) stayed in use until the job ended.
    size = 64 << 20
    q, go, ready = mp.Queue(), mp.Queue(), mp.Queue()
    q.put(bytearray(size))
    assert len(q.get(timeout=30)) == size   # warm-up: holder maps settle
    caught = 0
    for attempt in range(10):
        before = in_use(pool)
        p = mp.Process(target=put_when_told, args=(q, size, go, ready))
        p.start()
        assert ready.get(timeout=30) == p.pid
        base = pool.stats()['bytes_in_use']
        go.put(1)
        # The block is in use from its allocation on: kill the putter then, while it
        # copies (64 MiB into fresh shared memory takes tens of milliseconds).
        deadline = time.monotonic() + 30
        while pool.stats()['bytes_in_use'] < base + size and time.monotonic() < deadline:
            pass
        sigkill(p)
        try:
            got = q.get(timeout=0.5)         # the put completed before the kill: no test
            del got
            continue
        except queue.Empty:
            caught += 1
        assert_released(pool, before, 'putter killed mid-put')
    assert caught, 'every put completed before its putter was killed: the test proves nothing'
    print('killed putter released ok (%d of 10 caught mid-put)' % caught, flush=True)


def get_when_told(q, done, ready):
    ready.put(os.getpid())
    got = q.get(timeout=30)
    done.put(len(got))
    time.sleep(120)


def run_killed_getter(pool):
    # A large message taken out of its channel is its receiver's alone until get()
    # has built the object from it (tens of milliseconds for 64 MiB). Before: a
    # receiver killed meanwhile (a Pool worker at terminate()) leaked the block
    # until the job ended.
    size = 64 << 20
    q, done, ready = mp.Queue(), mp.Queue(), mp.Queue()
    caught = 0
    for attempt in range(10):
        before = in_use(pool)
        p = mp.Process(target=get_when_told, args=(q, done, ready))
        p.start()
        assert ready.get(timeout=30) == p.pid
        q.put(bytearray(size))
        deadline = time.monotonic() + 30
        while not q.empty() and time.monotonic() < deadline:
            pass                            # until the getter took the message
        sigkill(p)
        try:
            done.get(timeout=0.2)           # its get() completed before the kill
            continue
        except queue.Empty:
            pass
        try:
            q.get(timeout=0.2)              # not taken yet: nothing held
            continue
        except queue.Empty:
            caught += 1
        assert_released(pool, before, 'getter killed mid-get')
    assert caught, 'every get completed before its getter was killed: the test proves nothing'
    print('killed getter released ok (%d of 10 caught mid-get)' % caught, flush=True)


def write_block_and_exit(size):
    # The first half of a large send to another node: the message is written into a
    # block of this node's pool, then this process ends before its request reaches
    # dragon-node (as one killed between the two would).
    from dragon import _dragon
    _dragon.write_block(runtime.node_pool(), [bytes(size)], False)
    os._exit(0)


def run_exit_before_remote_send(pool):
    # Before: the block stayed in use until the job ended.
    size = 8 << 20
    before = in_use(pool)
    p = mp.Process(target=write_block_and_exit, args=(size,))
    p.start()
    p.join(30)
    assert p.exitcode == 0
    after = in_use(pool)
    assert after == before, ('a sender gone before its node took its block: %d bytes in use '
                             'before, %d after' % (before, after))
    print('handed-over block released ok', flush=True)


def main():
    mp.set_start_method('dragon')
    pool = runtime.node_pool()
    print('pool capacity %d' % pool.stats()['capacity'], flush=True)

    if MODE == 'churn':
        run_churn(pool)
    elif MODE == 'killed-put':
        run_killed_put(pool)
        run_killed_getter(pool)
        run_exit_before_remote_send(pool)
    else:
        run_refs(pool)


def run_churn(pool):
    churn(pool, 'queue', mp.Queue, use_queue, CHURN)
    churn(pool, 'simplequeue', mp.SimpleQueue, use_queue, CHURN)
    churn(pool, 'joinablequeue', mp.JoinableQueue, use_queue, CHURN)
    churn(pool, 'pipe', mp.Pipe, use_pipe, CHURN)
    churn(pool, 'lock+event', make_lock_event, use_lock_event, CHURN)


def run_refs(pool):
    # A child SIGKILLed while holding references: its reaper gives them back.
    ready = mp.Queue()
    make = lambda: (mp.Queue(), mp.Pipe(), mp.Lock(), mp.JoinableQueue())  # noqa: E731
    make()           # warm-up: this process's holder map grows to hold them all at once
    before = in_use(pool)
    objs = make()
    p = mp.Process(target=hold_until_killed, args=(objs, ready))
    p.start()
    assert ready.get(timeout=30) == p.pid
    held = in_use(pool)
    del objs
    assert in_use(pool) == held, 'the child holds them: nothing may be freed yet'
    sigkill(p)
    assert_released(pool, before, 'killed child')
    print('killed child released ok', flush=True)

    # A Queue (and a Pipe end) sent through a Queue to a running process, the
    # sender dropping its own object at once: alive while in transit.
    inbox, outbox = mp.Queue(), mp.Queue()
    r = mp.Process(target=relay, args=(inbox, outbox))
    r.start()
    warm = mp.Queue(), mp.Pipe()
    del warm
    before = in_use(pool)
    q = mp.Queue()
    q.put('through a queue')
    inbox.put(q)
    del q
    a, b = mp.Pipe()
    a.send('through a pipe')
    inbox.put(b)
    del a, b
    gc.collect()
    assert outbox.get(timeout=30) == 'through a queue'
    assert outbox.get(timeout=30) == 'through a pipe'
    r.join(30)
    assert r.exitcode == 0
    assert in_use(pool) == before, 'in transit: %d bytes before, %d after' % (before,
                                                                             in_use(pool))
    print('in transit ok', flush=True)

    # Pool(1) made and dropped: its workers exit, their references go with them.
    with mp.Pool(1) as warm:
        warm.apply(abs, (1,))
    del warm
    time.sleep(0.5)
    before = in_use(pool)
    for i in range(30):
        with mp.Pool(1) as workers:
            assert workers.apply(abs, (-i,)) == i
    del workers
    deadline = time.monotonic() + 30
    while in_use(pool) != before and time.monotonic() < deadline:
        time.sleep(0.1)      # the last workers are reaped a moment after terminate()
    assert in_use(pool) == before, 'pools: %d bytes before, %d after' % (before, in_use(pool))
    print('pool churn ok', flush=True)


if __name__ == '__main__':
    main()
