"""Managers under start method 'dragon': SyncManager with every proxy type
(list, dict, Namespace, Value, Array, Queue, JoinableQueue, Lock, RLock,
Semaphore, BoundedSemaphore, Condition, Event, Barrier, Pool) used from child
processes, proxies passed through a Queue and Pool arguments, BaseManager
subclasses with register() (auto and custom proxies, method_to_typeid), a
manager reached by address and authkey, and connection.Listener/Client with
authkey, with CPython's documented semantics (programs/api_manager.py passes
with 'spawn' as well).

The program runs once under `dragon`; each check is its own test."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import api_harness  # noqa: E402
from conftest import dragon_segments  # noqa: E402

PROGRAM = 'api_manager.py'


@pytest.fixture(scope='module')
def manager_run(build):
    return api_harness.run(build, PROGRAM, timeout=150, segments=dragon_segments)


@pytest.mark.parametrize('check', api_harness.program_checks(PROGRAM))
def test_manager(manager_run, check):
    manager_run.assert_ok(check)


def test_manager_program_finishes_and_leaves_nothing(manager_run):
    manager_run.assert_finished()
