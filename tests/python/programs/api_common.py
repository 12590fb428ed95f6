# Shared by the api_*.py programs: the start method comes from argv[1] (default
# 'dragon'; 'spawn' runs the same body as a reference), optional further
# arguments select checks by name. Every check prints 'begin <name>', then
# 'ok <name>' or 'FAIL <name>: <error>' (traceback on stderr); a check that
# hangs fails after WATCHDOG seconds with every thread's traceback on stderr,
# and the next check runs.
import faulthandler
import multiprocessing as mp
import os
import sys
import threading
import time
import traceback

import dragon  # noqa: F401  (registers the start method, as a user program would)

WATCHDOG = 60      # seconds one check may take before the program is ended
LONG = 30          # timeout of every wait that is expected to succeed
_checks = []


def method():
    return sys.argv[1] if len(sys.argv) > 1 else 'dragon'


def check(fn=None, *, main_thread=False):
    '''Registers fn as the check named after it (without a leading "check_").
    Checks run in a thread of their own (a hung one fails alone), or with
    main_thread=True in the main thread (a hung one ends the program).'''
    if fn is None:
        return lambda f: check(f, main_thread=main_thread)
    name = fn.__name__[6:] if fn.__name__.startswith('check_') else fn.__name__
    _checks.append((name, fn, main_thread))
    return fn


def expect(exc_type, fn, *args, **kwargs):
    '''fn(*args) must raise exc_type; returns the exception.'''
    try:
        result = fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError(f'expected {exc_type.__name__}, got {result!r}')


def wait_until(predicate, timeout=LONG, what='condition'):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out waiting for {what}')
        time.sleep(0.01)


def within(timeout, fn, *args, **kwargs):
    '''fn(*args) for a call that has no timeout of its own (Pool.join(),
    Pool.apply(), shutdown()): run in a thread, and if it has not returned within
    timeout seconds, fail the check instead of hanging the program.'''
    result = {}

    def call():
        try:
            result['value'] = fn(*args, **kwargs)
        except BaseException as e:
            result['error'] = e
    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise AssertionError(f'{getattr(fn, "__qualname__", fn)}() did not return within '
                             f'{timeout} s')
    if 'error' in result:
        raise result['error']
    return result.get('value')


def hold_lock(lock, out, go):
    """A child's body: takes the lock, says so, holds it until told, releases it."""
    assert lock.acquire(timeout=LONG)
    out.put('held')
    go.get(timeout=LONG)
    lock.release()
    out.put('released')


def start(target, *args):
    """Starts a Process of the selected method running target(*args)."""
    p = mp.Process(target=target, args=args)
    p.start()
    return p


def join_all(procs, timeout=LONG):
    '''Joins every process (bounded) and asserts they all exited with 0.'''
    for p in procs:
        p.join(timeout)
    codes = [p.exitcode for p in procs]
    assert codes == [0] * len(procs), f'child exit codes {codes}'


def _reap_children():
    # After a failed check: children it left behind must not hold up the rest.
    for p in mp.active_children():
        p.kill()
    for p in mp.active_children():
        p.join(5)


def _run_check(name, fn, failed):
    try:
        fn()
    except Exception as e:  # report, then go on with the next check
        failed.append(name)
        first = (str(e).splitlines() or [''])[0]
        print(f'FAIL {name}: {type(e).__name__}: {first}', flush=True)
        print(f'--- traceback of check {name}', file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
    else:
        print('ok', name, flush=True)


def main():
    print('job', os.environ.get('DRAGON_JOB_ID', '-'), flush=True)
    mp.set_start_method(method())
    selected = sys.argv[2:]
    failed = []
    for name, fn, in_main_thread in _checks:
        if selected and name not in selected:
            continue
        print('begin', name, flush=True)
        if in_main_thread:
            faulthandler.dump_traceback_later(WATCHDOG, exit=True)
            _run_check(name, fn, failed)
            faulthandler.cancel_dump_traceback_later()
            if name in failed:
                _reap_children()
            continue
        # In a thread, so that a check that hangs fails alone and the rest still run.
        t = threading.Thread(target=_run_check, args=(name, fn, failed), daemon=True)
        t.start()
        t.join(WATCHDOG)
        if t.is_alive():
            failed.append(name)
            print(f'FAIL {name}: hung: did not finish within {WATCHDOG} s', flush=True)
            print(f'--- traceback of check {name} (hung; every thread)', file=sys.stderr,
                  flush=True)
            faulthandler.dump_traceback(sys.stderr, all_threads=True)
        if name in failed:
            _reap_children()
    print('done', len(failed), 'failed', flush=True)
    # Interpreter exit (pool finalizers, joining children) is bounded as well.
    faulthandler.dump_traceback_later(WATCHDOG, exit=True)
    sys.exit(1 if failed else 0)
