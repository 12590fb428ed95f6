"""multiprocessing.Pool and concurrent.futures.ProcessPoolExecutor under start
method 'dragon' (CPython's documented semantics; programs/api_pool.py and
programs/api_pool_kill.py pass with 'spawn' as well):

- every Pool method (map, map_async, imap, imap_unordered, starmap, apply,
  apply_async), callbacks and error_callback, initializer/initargs,
  maxtasksperchild, the context manager, close/terminate/join;
  ProcessPoolExecutor(mp_context=get_context("dragon"));
- a worker killed by SIGKILL: the same program runs with 'spawn' in the same
  job, and both must report the same outcomes (BrokenProcessPool from the
  executor; the Pool never delivers the lost task, keeps serving, and
  terminate()/join() complete), with no deadlock.

Each program runs once under `dragon`; each check is its own test."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import api_harness  # noqa: E402
from conftest import dragon_segments  # noqa: E402

PROGRAM = 'api_pool.py'
KILL_PROGRAM = 'api_pool_kill.py'


@pytest.fixture(scope='module')
def pool_run(build):
    return api_harness.run(build, PROGRAM, timeout=150, segments=dragon_segments)


@pytest.fixture(scope='module')
def kill_runs(build):
    return {m: api_harness.run(build, KILL_PROGRAM, m, timeout=150, segments=dragon_segments)
            for m in ('dragon', 'spawn')}


@pytest.mark.parametrize('check', api_harness.program_checks(PROGRAM))
def test_pool(pool_run, check):
    pool_run.assert_ok(check)


def test_pool_program_finishes_and_leaves_nothing(pool_run):
    pool_run.assert_finished()


@pytest.mark.parametrize('check', api_harness.program_checks(KILL_PROGRAM))
def test_killed_worker(kill_runs, check):
    kill_runs['dragon'].assert_ok(check)


def test_killed_worker_outcomes_match_spawn(kill_runs):
    # The reference run must pass, or the test itself is wrong.
    for check in api_harness.program_checks(KILL_PROGRAM):
        kill_runs['spawn'].assert_ok(check)

    def outcomes(run):
        return [l for l in run.lines if l.startswith('outcome ')]
    assert outcomes(kill_runs['spawn']), kill_runs['spawn'].stdout
    assert outcomes(kill_runs['dragon']) == outcomes(kill_runs['spawn'])


def test_killed_worker_program_finishes_and_leaves_nothing(kill_runs):
    kill_runs['dragon'].assert_finished()
    kill_runs['spawn'].assert_finished()
