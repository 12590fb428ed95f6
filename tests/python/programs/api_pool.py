# multiprocessing.Pool and concurrent.futures.ProcessPoolExecutor with the
# semantics CPython documents: every Pool method, callbacks, error_callback,
# initializer/initargs, maxtasksperchild, the context manager, close/terminate/join.
# Usage: api_pool.py [start-method [check...]]
import concurrent.futures as cf
import multiprocessing as mp
import multiprocessing.pool
import os
import sys
import threading
import time

from api_common import LONG, check, expect, main, method, wait_until, within

_tag = None
_started = None


# --- tasks (run in the workers) -------------------------------------------------

def square(x):
    return x * x


def add(a, b):
    return a + b


def fail(x):
    raise KeyError(x)


def fail_on_3(x):
    if x == 3:
        raise KeyError(x)
    return x


def init(tag, started=None):
    global _tag, _started
    _tag, _started = tag, started


_counter = _lock = None


def init_shared(counter, lock):
    global _counter, _lock
    _counter, _lock = counter, lock


def count(_):
    with _lock:
        _counter.value += 1
    return os.getpid()


def tagged(x):
    return (_tag, x)


def worker_pid(_):
    time.sleep(0.01)
    return os.getpid()


def announce_and_sleep(seconds):
    _started.put(os.getpid())
    time.sleep(seconds)
    return seconds


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def new_pool(*args, **kwargs):
    return mp.Pool(*args, **kwargs)


def finish(pool):
    '''close() and join() within bounds.'''
    pool.close()
    within(LONG, pool.join)


# --- checks ---------------------------------------------------------------------

@check
def check_pool_map_and_chunksize():
    with new_pool(2) as pool:
        assert pool.map(square, range(50)) == [x * x for x in range(50)]
        assert pool.map(square, range(50), chunksize=7) == [x * x for x in range(50)]
        assert pool.map(square, []) == []
        finish(pool)
    with mp.get_context().Pool(2) as pool:      # the context's Pool is the same thing
        assert pool.map(square, range(5)) == [0, 1, 4, 9, 16]
        finish(pool)


@check
def check_pool_many_small_tasks():
    with new_pool(2) as pool:
        assert pool.map(square, range(2000), chunksize=1) == [x * x for x in range(2000)]
        got = sorted(pool.imap_unordered(square, range(500)))
        assert got == sorted(x * x for x in range(500))
        finish(pool)


@check
def check_pool_map_async_with_callback():
    seen = []
    with new_pool(2) as pool:
        r = pool.map_async(square, range(10), callback=seen.append)
        assert r.wait(LONG) is None and r.ready() and r.successful()
        assert r.get(timeout=LONG) == [x * x for x in range(10)]
        assert seen == [[x * x for x in range(10)]]            # called once, with the list
        r = pool.map_async(square, range(10), chunksize=3)
        assert r.get(timeout=LONG) == [x * x for x in range(10)]
        finish(pool)


@check
def check_pool_imap_and_imap_unordered():
    with new_pool(2) as pool:
        it = pool.imap(square, range(20))
        assert [it.next(timeout=LONG) for _ in range(20)] == [x * x for x in range(20)]
        expect(StopIteration, it.next, timeout=LONG)
        it = pool.imap_unordered(square, range(20))
        assert sorted(it.next(timeout=LONG) for _ in range(20)) == [x * x for x in range(20)]
        # With chunksize > 1 these are plain iterators (no next(timeout)).
        assert list(pool.imap(square, range(20), chunksize=4)) == [x * x for x in range(20)]
        assert sorted(pool.imap_unordered(square, range(20), chunksize=3)) == \
            [x * x for x in range(20)]
        assert list(pool.imap(square, range(5))) == [0, 1, 4, 9, 16]
        it = pool.imap(fail_on_3, range(5))
        assert [it.next(timeout=LONG) for _ in range(3)] == [0, 1, 2]
        err = expect(KeyError, it.next, timeout=LONG)
        assert err.args == (3,)
        assert it.next(timeout=LONG) == 4                        # the rest still arrive
        finish(pool)


@check
def check_pool_starmap_and_starmap_async():
    pairs = [(i, 10 * i) for i in range(12)]
    with new_pool(2) as pool:
        assert pool.starmap(add, pairs) == [11 * i for i in range(12)]
        assert pool.starmap(add, pairs, chunksize=5) == [11 * i for i in range(12)]
        seen = []
        r = pool.starmap_async(add, pairs, callback=seen.append)
        assert r.get(timeout=LONG) == [11 * i for i in range(12)]
        assert seen == [[11 * i for i in range(12)]]
        finish(pool)


@check
def check_pool_apply_and_apply_async_callbacks():
    results, errors = [], []
    with new_pool(2) as pool:
        assert within(LONG, pool.apply, add, (2, 3)) == 5
        assert within(LONG, pool.apply, add, (), {'a': 1, 'b': 2}) == 3
        rs = [pool.apply_async(square, (i,), callback=results.append,
                               error_callback=errors.append) for i in range(8)]
        assert [r.get(timeout=LONG) for r in rs] == [i * i for i in range(8)]
        assert sorted(results) == [i * i for i in range(8)] and errors == []
        assert all(r.ready() and r.successful() for r in rs)
        finish(pool)


@check
def check_pool_error_callback_gets_the_exception():
    results, errors = [], []
    with new_pool(2) as pool:
        r = pool.apply_async(fail, ('k',), callback=results.append, error_callback=errors.append)
        err = expect(KeyError, r.get, timeout=LONG)
        assert err.args == ('k',)
        assert r.ready() and not r.successful()
        assert results == [] and len(errors) == 1
        assert isinstance(errors[0], KeyError) and errors[0].args == ('k',)
        # The worker's traceback comes along as the cause.
        assert isinstance(err.__cause__, multiprocessing.pool.RemoteTraceback)
        assert 'fail' in str(err.__cause__)
        r = pool.map_async(fail_on_3, range(6), callback=results.append,
                           error_callback=errors.append)
        err = expect(KeyError, r.get, timeout=LONG)
        assert err.args == (3,) and results == []
        assert len(errors) == 2 and isinstance(errors[1], KeyError) and errors[1].args == (3,)
        err = expect(KeyError, pool.map, fail_on_3, range(6))
        assert err.args == (3,)
        expect(KeyError, within, LONG, pool.apply, fail, ('x',))
        assert pool.map(square, range(4)) == [0, 1, 4, 9]      # the pool still works
        finish(pool)


@check
def check_pool_initializer_and_initargs():
    with new_pool(2, initializer=init, initargs=('initialised',)) as pool:
        assert pool.map(tagged, range(10)) == [('initialised', x) for x in range(10)]
        finish(pool)
    with new_pool(2, init, ('positional',)) as pool:
        assert pool.apply_async(tagged, (1,)).get(timeout=LONG) == ('positional', 1)
        finish(pool)


@check
def check_pool_workers_share_value_and_lock_from_initargs():
    counter, lock = mp.RawValue('i', 0), mp.Lock()      # inherited through initargs
    with new_pool(2, initializer=init_shared, initargs=(counter, lock)) as pool:
        pool.map(count, range(400), chunksize=1)
        finish(pool)
    assert counter.value == 400, counter.value
    v = mp.Value('i', 0)
    with new_pool(2, initializer=init_shared, initargs=(v, v.get_lock())) as pool:
        assert len(pool.map(count, range(200), chunksize=5)) == 200
        finish(pool)
    assert v.value == 200, v.value


@check
def check_pool_maxtasksperchild_replaces_workers():
    with new_pool(2, maxtasksperchild=1) as pool:
        pids = pool.map(worker_pid, range(6), chunksize=1)
        assert len(set(pids)) == 6, pids                  # one task per worker process
        pids = [pool.apply_async(worker_pid, (i,)).get(timeout=LONG) for i in range(3)]
        assert len(set(pids)) == 3, pids
        finish(pool)
    with new_pool(1, maxtasksperchild=2) as pool:
        pids = pool.map(worker_pid, range(6), chunksize=1)
        assert len(set(pids)) == 3, pids
        finish(pool)


@check
def check_pool_context_manager_terminates():
    with new_pool(2) as pool:
        assert pool.map(square, range(3)) == [0, 1, 4]
    expect(ValueError, pool.apply_async, square, (1,))     # not running after the with block
    expect(ValueError, pool.map, square, range(3))
    within(LONG, pool.join)                                # joining a terminated pool returns


@check
def check_pool_close_then_join():
    pool = new_pool(2)
    expect(ValueError, pool.join)                          # join() before close()
    r = pool.map_async(square, range(20))
    pool.close()
    expect(ValueError, pool.apply_async, square, (1,))
    within(LONG, pool.join)                                # outstanding work completes first
    assert r.ready() and r.get(timeout=0) == [x * x for x in range(20)]


@check
def check_pool_terminate_during_work_does_not_hang():
    started = mp.Queue()
    pool = new_pool(2, initializer=init, initargs=('t', started))
    r = pool.map_async(announce_and_sleep, [60] * 4, chunksize=1)
    pids = {started.get(timeout=LONG), started.get(timeout=LONG)}
    within(LONG, pool.terminate)
    within(LONG, pool.join)
    assert not r.ready()
    wait_until(lambda: not any(pid_alive(p) for p in pids), what='the workers to be gone')


@check
def check_executor_submit_map_and_exceptions():
    ctx = mp.get_context(method())
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        assert ex.submit(square, 9).result(timeout=LONG) == 81
        assert list(ex.map(square, range(10), timeout=LONG)) == [x * x for x in range(10)]
        assert list(ex.map(add, range(5), range(5), timeout=LONG, chunksize=2)) == \
            [2 * x for x in range(5)]
        f = ex.submit(fail, 'k')
        err = expect(KeyError, f.result, timeout=LONG)
        assert err.args == ('k',) and isinstance(f.exception(timeout=0), KeyError)
        futures = [ex.submit(square, i) for i in range(8)]
        done = {f.result(timeout=0) for f in cf.as_completed(futures, timeout=LONG)}
        assert done == {i * i for i in range(8)}
        seen = []
        f = ex.submit(square, 4)
        f.add_done_callback(lambda fut: seen.append(fut.result()))
        f.result(timeout=LONG)
        wait_until(lambda: seen == [16], what='the done callback')
    expect(RuntimeError, ex.submit, square, 1)           # after shutdown


@check
def check_executor_initializer_max_tasks_per_child_and_shutdown():
    ctx = mp.get_context(method())
    ex = cf.ProcessPoolExecutor(2, mp_context=ctx, initializer=init, initargs=('exec',))
    assert list(ex.map(tagged, range(4), timeout=LONG)) == [('exec', x) for x in range(4)]
    within(LONG, ex.shutdown, wait=True)
    if sys.version_info >= (3, 11):     # max_tasks_per_child is new in CPython 3.11
        ex = cf.ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1)
        pids = [ex.submit(worker_pid, i).result(timeout=LONG) for i in range(3)]
        assert len(set(pids)) == 3, pids
        within(LONG, ex.shutdown, wait=True)
    ex = cf.ProcessPoolExecutor(2, mp_context=ctx)
    futures = [ex.submit(square, i) for i in range(20)]
    within(LONG, ex.shutdown, wait=True)                 # pending work finishes first
    assert [f.result(timeout=0) for f in futures] == [i * i for i in range(20)]


if __name__ == '__main__':
    main()
