# Signals during every kind of blocking wait under 'dragon', as CPython's own
# blocking calls behave (PEP 475): a child blocked without a timeout gets
#   sigint  SIGINT, default handler       -> the wait raises KeyboardInterrupt
#   raise   SIGUSR1, a handler that raises -> the wait raises the handler's exception
#   return  SIGUSR1, a handler that returns -> the wait goes on, and ends normally
#           once the parent lets it (the handler ran exactly once)
#   thread  SIGUSR1 delivered to another thread of the child (pthread_kill): Python
#           runs the handler in the main thread all the same, and it raises
# and the parent checks what happened and how long the reaction took (reported,
# and bounded generously: the check is that it reacts at all).
#
# Usage: signal_waits.py [KIND ...]   (default: every kind)
import concurrent.futures
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from multiprocessing.connection import wait as connection_wait

import dragon  # noqa: F401

REACTION_BOUND = 5.0      # seconds; stock reacts in milliseconds
SETTLE = 0.2              # the child is asleep in its wait by then (spinning ends at 0.2 ms)


class HandlerRaised(Exception):
    pass


def get_from(q):
    return q.get()


def wait_event(ev):
    ev.wait()


class Kind:
    '''make(ctx) -> state shared with the child; block(state, ready) is the child's
    blocking call (ready() just before it); release(state) lets it finish.'''

    def __init__(self, make, block, release, modes=('sigint', 'raise', 'return')):
        self.make, self.block, self.release, self.modes = make, block, release, modes


def _held(lock):
    lock.acquire()
    return lock


def _queue_full(ctx):
    q = ctx.Queue(1)
    q.put('first')
    return q


def _joinable_with_task(ctx):
    jq = ctx.JoinableQueue()
    jq.put('task')
    return jq


def _finish_task(jq):
    jq.get()
    jq.task_done()


def _pipe_bytes_into(state, ready):
    buf = bytearray(64)
    ready()
    n = state[0].recv_bytes_into(buf)
    return bytes(buf[:n])


def _condition_wait(cond, ready):
    with cond:
        ready()
        return cond.wait()


def _notify(cond):
    with cond:
        cond.notify_all()


def _join(ev, ready):
    p = mp.get_context('dragon').Process(target=wait_event, args=(ev,), daemon=True)
    p.start()
    ready()
    p.join()
    return p.exitcode


def _pool_apply(q, ready):
    with mp.get_context('dragon').Pool(1) as pool:
        result = pool.apply_async(get_from, (q,))
        ready()
        return result.get()


def _executor_result(q, ready):
    ex = concurrent.futures.ProcessPoolExecutor(1, mp_context=mp.get_context('dragon'))
    try:
        future = ex.submit(get_from, q)
        ready()
        return future.result()
    except BaseException:
        q.put('let the worker go')     # so that shutdown finds it idle
        raise
    finally:
        ex.shutdown()


def _then(fn, value='done'):
    def block(state, ready):
        ready()
        result = fn(state)
        return value if result is None else result
    return block


KINDS = {
    'queue_get': Kind(lambda ctx: ctx.Queue(), _then(lambda q: q.get()),
                      lambda q: q.put('item'), ('sigint', 'raise', 'return', 'thread')),
    'queue_put_full': Kind(_queue_full, _then(lambda q: q.put('second')), lambda q: q.get()),
    'simplequeue_get': Kind(lambda ctx: ctx.SimpleQueue(), _then(lambda q: q.get()),
                            lambda q: q.put('item')),
    'joinablequeue_join': Kind(_joinable_with_task, _then(lambda jq: jq.join()), _finish_task),
    'pipe_recv': Kind(lambda ctx: ctx.Pipe(), _then(lambda p: p[0].recv()),
                      lambda p: p[1].send('item'), ('sigint', 'raise', 'return', 'thread')),
    'pipe_recv_bytes': Kind(lambda ctx: ctx.Pipe(), _then(lambda p: p[0].recv_bytes()),
                            lambda p: p[1].send_bytes(b'item')),
    'pipe_recv_bytes_into': Kind(lambda ctx: ctx.Pipe(), _pipe_bytes_into,
                                 lambda p: p[1].send_bytes(b'item')),
    'pipe_poll': Kind(lambda ctx: ctx.Pipe(), _then(lambda p: p[0].poll(None)),
                      lambda p: p[1].send('item'), ('sigint', 'raise', 'return', 'thread')),
    'connection_wait': Kind(lambda ctx: ctx.Pipe(), _then(lambda p: len(connection_wait([p[0]]))),
                            lambda p: p[1].send('item')),
    'lock_acquire': Kind(lambda ctx: _held(ctx.Lock()), _then(lambda lock: lock.acquire()),
                         lambda lock: lock.release(), ('sigint', 'raise', 'return', 'thread')),
    'rlock_acquire': Kind(lambda ctx: _held(ctx.RLock()), _then(lambda lock: lock.acquire()),
                          lambda lock: lock.release()),
    'semaphore_acquire': Kind(lambda ctx: ctx.Semaphore(0), _then(lambda s: s.acquire()),
                              lambda s: s.release()),
    'bounded_semaphore_acquire': Kind(lambda ctx: _held(ctx.BoundedSemaphore(1)),
                                      _then(lambda s: s.acquire()), lambda s: s.release()),
    'event_wait': Kind(lambda ctx: ctx.Event(), _then(lambda ev: ev.wait()),
                       lambda ev: ev.set()),
    'condition_wait': Kind(lambda ctx: ctx.Condition(), _condition_wait, _notify),
    'barrier_wait': Kind(lambda ctx: ctx.Barrier(2), _then(lambda b: b.wait()),
                         lambda b: b.wait()),
    'process_join': Kind(lambda ctx: ctx.Event(), _join, lambda ev: ev.set()),
    'pool_apply': Kind(lambda ctx: ctx.Queue(), _pool_apply, lambda q: q.put('item')),
    'executor_result': Kind(lambda ctx: ctx.Queue(), _executor_result, lambda q: q.put('item')),
}


def child(kind, mode, state, report):
    handled = []

    def raising(signum, frame):
        handled.append(time.monotonic())
        raise HandlerRaised(signum)

    def returning(signum, frame):
        handled.append(time.monotonic())

    signal.signal(signal.SIGINT, signal.default_int_handler)
    if mode in ('raise', 'thread'):
        signal.signal(signal.SIGUSR1, raising)
    elif mode == 'return':
        signal.signal(signal.SIGUSR1, returning)

    def ready():
        if mode == 'thread':
            # The signal goes to this thread, not to the main one blocked in its wait.
            def kill_me():
                time.sleep(SETTLE)
                report.put(('sent', time.monotonic()))
                signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
            threading.Thread(target=kill_me, daemon=True).start()
        report.put(('ready', os.getpid()))

    try:
        value = KINDS[kind].block(state, ready)
        report.put(('returned', value, len(handled), handled[0] if handled else None))
    except KeyboardInterrupt:
        report.put(('KeyboardInterrupt', time.monotonic()))
    except HandlerRaised:
        report.put(('HandlerRaised', time.monotonic()))


def run_case(ctx, name, mode):
    kind = KINDS[name]
    state = kind.make(ctx)
    report = ctx.Queue()
    p = ctx.Process(target=child, args=(name, mode, state, report))
    p.start()
    try:
        tag, pid = report.get(timeout=60)
        assert tag == 'ready', tag
        if mode == 'thread':
            tag, sent = report.get(timeout=60)
            assert tag == 'sent', tag
        else:
            time.sleep(SETTLE)
            sent = time.monotonic()
            os.kill(pid, signal.SIGINT if mode == 'sigint' else signal.SIGUSR1)
        if mode == 'return':
            try:
                early = report.get(timeout=2 * SETTLE)
                raise AssertionError('the wait ended when the handler returned: %r' % (early,))
            except queue.Empty:
                pass
            kind.release(state)
            outcome = report.get(timeout=60)
            assert outcome[0] == 'returned' and outcome[2] == 1, outcome
            reacted = outcome[3]
        else:
            outcome = report.get(timeout=60)
            expected = 'KeyboardInterrupt' if mode == 'sigint' else 'HandlerRaised'
            assert outcome[0] == expected, outcome
            reacted = outcome[1]
        latency = reacted - sent
        assert latency < REACTION_BOUND, latency
        p.join(60)
        assert p.exitcode == 0, p.exitcode
        return latency
    finally:
        if p.is_alive():
            p.kill()
            p.join(10)


def remaining_timeout_kept(ctx):
    '''PEP 475: a handler that returns does not restart a wait's timeout.'''
    q = ctx.Queue()
    fired = []
    previous = signal.signal(signal.SIGUSR1, lambda *args: fired.append(1))
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1))
    t0 = time.monotonic()
    timer.start()
    try:
        q.get(timeout=1.5)
        raise AssertionError('get() returned an item nobody put')
    except queue.Empty:
        took = time.monotonic() - t0
    finally:
        timer.join()
        signal.signal(signal.SIGUSR1, previous)
    assert fired == [1], fired
    assert 1.5 <= took < 1.5 + REACTION_BOUND, took
    print('remaining timeout ok (%.2f s for a 1.5 s timeout)' % took, flush=True)


def main_process_interrupted(ctx):
    '''The job's own main process, blocked in get(), gets KeyboardInterrupt.'''
    q = ctx.Queue()
    timer = threading.Timer(SETTLE, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    try:
        q.get()
        raise AssertionError('get() returned an item nobody put')
    except KeyboardInterrupt:
        latency = time.monotonic() - t0 - SETTLE
    timer.join()
    assert latency < REACTION_BOUND, latency
    print('main process KeyboardInterrupt ok (%.1f ms)' % (latency * 1000), flush=True)


if __name__ == '__main__':
    mp.set_start_method('dragon')
    ctx = mp.get_context('dragon')
    names = sys.argv[1:] or list(KINDS)
    worst = 0.0
    for name in names:
        for mode in KINDS[name].modes:
            latency = run_case(ctx, name, mode)
            worst = max(worst, latency)
            print('%s %s ok (%.1f ms)' % (name, mode, latency * 1000), flush=True)
    if not sys.argv[1:]:
        remaining_timeout_kept(ctx)
        main_process_interrupted(ctx)
    print('worst reaction %.1f ms' % (worst * 1000), flush=True)
