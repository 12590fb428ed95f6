# A worker killed by SIGKILL: ProcessPoolExecutor and multiprocessing.Pool must
# behave as with spawn (run this with 'spawn' too and compare the 'outcome'
# lines): the executor raises BrokenProcessPool for the lost task, the pending
# ones and new submissions; the Pool never delivers the lost task (get(timeout)
# raises multiprocessing.TimeoutError), replaces the worker, keeps serving, and
# terminate()/join() complete. Nothing deadlocks.
# Usage: api_pool_kill.py [start-method [check...]]
import concurrent.futures as cf
import multiprocessing as mp
import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool

from api_common import LONG, check, expect, main, method, within


def square(x):
    return x * x


def die(_, sig=signal.SIGKILL):
    os.kill(os.getpid(), sig)


def die_on_3(x):
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def exit_abruptly(_):
    os._exit(3)


_meeting = None


def init(barrier):
    global _meeting
    _meeting = barrier


def meet(_):
    '''Returns once two workers are in here at the same time: proves two live workers.'''
    _meeting.wait(timeout=LONG)
    return os.getpid()


def outcome(what, exc):
    print('outcome', what, type(exc).__name__, flush=True)


@check
def check_executor_worker_killed_breaks_the_pool():
    # One worker: the executor (3.11) starts workers on demand, and one started
    # while its manager thread is already waiting is not watched until the next
    # wakeup, so a second worker dying at once could go unnoticed, with spawn too.
    ex = cf.ProcessPoolExecutor(1, mp_context=mp.get_context(method()))
    assert ex.submit(square, 3).result(timeout=LONG) == 9
    lost = ex.submit(die, 0)
    pending = ex.submit(time.sleep, 60)
    outcome('executor lost task', expect(BrokenProcessPool, lost.result, timeout=LONG))
    outcome('executor pending task', expect(BrokenProcessPool, pending.result, timeout=LONG))
    outcome('executor new submit', expect(BrokenProcessPool, ex.submit, square, 1))
    within(LONG, ex.shutdown, wait=True)


@check
def check_executor_worker_killed_inside_with_block():
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context(method())) as ex:
        results = ex.map(die, range(3), timeout=LONG)
        outcome('executor map', expect(BrokenProcessPool, list, results))
    # leaving the with block (shutdown(wait=True)) did not hang


@check
def check_executor_worker_terminated_or_exiting_breaks_the_pool():
    for what, fn, args in (('SIGTERM', die, (0, signal.SIGTERM)),
                           ('os._exit', exit_abruptly, (0,))):
        ex = cf.ProcessPoolExecutor(1, mp_context=mp.get_context(method()))
        assert ex.submit(square, 2).result(timeout=LONG) == 4
        lost = ex.submit(fn, *args)
        outcome(f'executor {what} lost task', expect(BrokenProcessPool, lost.result,
                                                     timeout=LONG))
        within(LONG, ex.shutdown, wait=True)


@check
def check_pool_worker_killed_task_never_completes_pool_goes_on():
    pool = mp.Pool(2, initializer=init, initargs=(mp.Barrier(2),))
    try:
        before = set(pool.map_async(meet, range(2), chunksize=1).get(timeout=LONG))
        assert len(before) == 2, before
        lost = pool.apply_async(die, (0,))
        outcome('pool lost task', expect(mp.TimeoutError, lost.get, timeout=2))
        assert not lost.ready()
        # The dead worker is replaced; the pool keeps serving.
        assert pool.map_async(square, range(10)).get(timeout=LONG) == [x * x for x in range(10)]
        after = set(pool.map_async(meet, range(2), chunksize=1).get(timeout=LONG))
        assert len(after) == 2 and len(after - before) == 1, (before, after)  # one replaced
        outcome('pool lost task still pending', expect(mp.TimeoutError, lost.get, timeout=0.5))
    finally:
        within(LONG, pool.terminate)
        within(LONG, pool.join)


@check
def check_pool_worker_killed_then_with_block_exits():
    with mp.Pool(1) as pool:
        lost = pool.apply_async(die, (0, signal.SIGTERM))
        outcome('pool with-block SIGTERM lost task',
                expect(mp.TimeoutError, lost.get, timeout=2))
        assert pool.apply_async(square, (5,)).get(timeout=LONG) == 25
        lost = pool.map_async(die_on_3, range(6), chunksize=1)
        outcome('pool with-block lost map', expect(mp.TimeoutError, lost.get, timeout=2))
    within(LONG, pool.join)                             # __exit__ terminated it


if __name__ == '__main__':
    main()
