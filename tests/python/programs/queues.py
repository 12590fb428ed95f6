# Queue, SimpleQueue and JoinableQueue semantics under 'dragon'.
import multiprocessing as mp
import queue
import time

import dragon  # noqa: F401


def producer(q, start, count):
    for i in range(start, start + count):
        q.put(i)


def echo(inq, outq):
    while True:
        item = inq.get(timeout=30)
        if item is None:
            return
        outq.put(item)


def worker(jq, results):
    while True:
        item = jq.get(timeout=30)
        if item is None:
            jq.task_done()
            return
        time.sleep(0.01)
        results.put(item * item)
        jq.task_done()


class NotPicklable(object):
    def __reduce__(self):
        raise AttributeError('NotPicklable refuses to be pickled')


class HookedQueue(type(mp.get_context('dragon').Queue())):
    reported = []

    @staticmethod
    def _on_queue_feeder_error(e, obj):
        HookedQueue.reported.append((type(e).__name__, type(obj).__name__))


def took(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def _ignore(fn):
    try:
        fn()
    except (queue.Empty, queue.Full):
        pass


if __name__ == '__main__':
    mp.set_start_method('dragon')

    q = mp.Queue()
    assert q.empty() and q.qsize() == 0 and not q.full()
    try:
        q.get(timeout=0.2)
    except queue.Empty:
        pass
    else:
        raise AssertionError('expected Empty')
    assert 0.15 < took(lambda: _ignore(lambda: q.get(timeout=0.3))) < 5
    try:
        q.get_nowait()
    except queue.Empty:
        pass
    else:
        raise AssertionError('expected Empty')
    for item in (1, 'two', [3], {'four': 4}, None):
        q.put(item)
    assert q.qsize() == 5 and not q.empty()
    assert [q.get(timeout=5) for _ in range(5)] == [1, 'two', [3], {'four': 4}, None]
    print('queue basics ok', flush=True)

    bq = mp.Queue(maxsize=3)
    for i in range(3):
        bq.put(i, timeout=1)
    assert bq.full() and bq.qsize() == 3
    try:
        bq.put(99, block=False)
    except queue.Full:
        pass
    else:
        raise AssertionError('expected Full at maxsize 3')
    t = took(lambda: _ignore(lambda: bq.put(99, True, 0.3)))
    assert 0.25 < t < 5, t
    assert bq.get() == 0
    bq.put_nowait(3)
    assert [bq.get(timeout=5) for _ in range(3)] == [1, 2, 3]
    print('bounded ok', flush=True)

    # Several producers in children; every item arrives exactly once.
    procs = [mp.Process(target=producer, args=(q, k * 1000, 500)) for k in range(3)]
    for p in procs:
        p.start()
    got = sorted(q.get(timeout=30) for _ in range(1500))
    assert got == sorted(k * 1000 + i for k in range(3) for i in range(500))
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    print('producers ok', flush=True)

    inq, outq = mp.Queue(), mp.Queue()
    p = mp.Process(target=echo, args=(inq, outq))
    p.start()
    for i in range(100):
        inq.put(('ping', i))
        assert outq.get(timeout=30) == ('ping', i)
    inq.put(None)
    p.join(30)
    assert p.exitcode == 0
    print('echo ok', flush=True)

    q.close()
    q.join_thread()
    q.cancel_join_thread()
    for op in (lambda: q.put(1), lambda: q.get(timeout=0)):
        try:
            op()
        except ValueError:
            pass
        else:
            raise AssertionError('closed queue still usable')
    print('close ok', flush=True)

    sq = mp.SimpleQueue()
    assert sq.empty()
    sq.put('a')
    assert not sq.empty()
    assert sq.get() == 'a'
    p = mp.Process(target=echo, args=(inq, sq))
    p.start()
    inq.put('through-simple')
    assert sq.get() == 'through-simple'
    inq.put(None)
    p.join(30)
    sq.close()
    print('simplequeue ok', flush=True)

    jq, results = mp.JoinableQueue(), mp.Queue()
    workers = [mp.Process(target=worker, args=(jq, results)) for _ in range(2)]
    for w in workers:
        w.start()
    for i in range(20):
        jq.put(i)
    jq.join()
    assert results.qsize() == 20
    assert sorted(results.get(timeout=5) for _ in range(20)) == [i * i for i in range(20)]
    for w in workers:
        jq.put(None)
    jq.join()
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    try:
        jq.task_done()
    except ValueError:
        pass
    else:
        raise AssertionError('expected ValueError from an extra task_done()')
    jq.put('pending')
    assert jq.join(timeout=0.2) is False
    jq.get(timeout=5)
    jq.task_done()
    assert jq.join(timeout=5) is True
    print('joinablequeue ok', flush=True)

    # An object that cannot be pickled: reported as stock's feeder thread does,
    # put() returns, and the queue (bounded, joinable) carries on with nothing lost.
    for q in (mp.Queue(), mp.Queue(maxsize=1), mp.JoinableQueue(maxsize=1)):
        q.put(NotPicklable())
        q.put('after')
        assert q.qsize() == 1
        assert q.get(timeout=5) == 'after' and q.empty()
        if hasattr(q, 'task_done'):
            q.task_done()
            assert q.join(timeout=5) is True
    hq = HookedQueue()
    hq.put(NotPicklable())
    assert HookedQueue.reported == [('AttributeError', 'NotPicklable')]
    print('unpicklable ok', flush=True)
