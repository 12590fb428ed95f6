"""multiprocessing's synchronization primitives under start method 'dragon':
Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event and Barrier shared
between processes, with timeouts, abort and the broken state (CPython's
documented semantics; programs/api_sync.py passes with 'spawn' as well).

The program runs once under `dragon`; each check is its own test."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import api_harness  # noqa: E402
from conftest import dragon_segments  # noqa: E402

PROGRAM = 'api_sync.py'


@pytest.fixture(scope='module')
def sync_run(build):
    return api_harness.run(build, PROGRAM, timeout=120, segments=dragon_segments)


@pytest.mark.parametrize('check', api_harness.program_checks(PROGRAM))
def test_sync(sync_run, check):
    sync_run.assert_ok(check)


def test_sync_program_finishes_and_leaves_nothing(sync_run):
    sync_run.assert_finished()
