"""Python signal handlers run during every kind of blocking wait under 'dragon'
(KeyboardInterrupt, a handler's own exception, a handler that returns while the
wait goes on, a signal delivered to another thread), as with stock multiprocessing."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402

WAITS = ['queue_get', 'queue_put_full', 'simplequeue_get', 'joinablequeue_join', 'pipe_recv',
         'pipe_recv_bytes', 'pipe_recv_bytes_into', 'pipe_poll', 'connection_wait',
         'lock_acquire', 'rlock_acquire', 'semaphore_acquire', 'bounded_semaphore_acquire',
         'event_wait', 'condition_wait', 'barrier_wait', 'process_join', 'pool_apply',
         'executor_result']
# A signal that reaches another thread of the process is a different path (the
# waiting thread is not woken by it and must look for it itself).
TO_ANOTHER_THREAD = ['queue_get', 'pipe_recv', 'pipe_poll', 'lock_acquire']


def test_signals_interrupt_every_kind_of_blocking_wait(build):
    r = harness.run_program(build, 'signal_waits.py', timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in WAITS:
        modes = ['sigint', 'raise', 'return'] + (['thread'] if name in TO_ANOTHER_THREAD else [])
        for mode in modes:
            assert re.search(r'^%s %s ok ' % (name, mode), r.stdout, re.M), (name, mode, r.stdout)
    assert 'remaining timeout ok' in r.stdout
    assert 'main process KeyboardInterrupt ok' in r.stdout
    print(r.stdout)


def test_a_process_keeps_stock_signal_dispositions(build):
    # Before: every process that used a Queue had loaded every plugin, UCX with them,
    # and caught SIGHUP (a child sent SIGHUP slept on), SIGSEGV, SIGILL and SIGFPE.
    import json
    r = harness.run_program(build, 'stock_signal_dispositions.py', timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(got['after']) - set(got['before']) <= {'SIGBUS'}, got  # ours: names the pool
    assert got['ucx_mapped'] is False
    assert got['sighup_exitcode'] == -1  # killed, as stock's child is
