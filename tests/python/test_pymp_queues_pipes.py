"""Queue, SimpleQueue, JoinableQueue and Pipe under 'dragon', and 64 MiB payloads."""

import os

import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402


def test_queues(build):
    r = harness.run_program(build, 'queues.py')
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ('queue basics ok', 'bounded ok', 'producers ok', 'echo ok', 'close ok',
                 'simplequeue ok', 'joinablequeue ok', 'unpicklable ok'):
        assert line in r.stdout
    # Stock's feeder thread prints the pickling error; so does put().
    assert r.stderr.count('AttributeError: NotPicklable refuses to be pickled') == 3


def test_pipes(build):
    r = harness.run_program(build, 'pipes.py')
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ('duplex ok', 'duplex child ok', 'one-way ok', 'wait ok', 'eof ok', 'close ok'):
        assert line in r.stdout


def test_64_mib_payloads_through_queue_and_pipe(build):
    r = harness.run_program(build, 'large_payloads.py', timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for kind in ('bytes', 'bytearray'):
        assert 'queue %s ok' % kind in r.stdout and 'pipe %s ok' % kind in r.stdout
    if 'numpy not importable' not in r.stdout:
        assert 'queue numpy ok' in r.stdout and 'pipe numpy ok' in r.stdout
        assert 'numpy zero-copy ok' in r.stdout


def test_large_bytes_are_copied_exactly(build):
    r = harness.run_program(build, 'bytes_of.py')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'sizes ok' in r.stdout and 'strided refused ok' in r.stdout


def test_stock_pool_and_process_pool_executor_run_on_dragon(build):
    r = harness.run_program(build, 'pool_executor.py')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'pool ok' in r.stdout and 'executor ok' in r.stdout
