"""Shared ctypes objects under start method 'dragon': Value, Array, RawValue,
RawArray, sharedctypes.synchronized and copy, get_lock(), with CPython's
documented semantics (programs/api_shared.py passes with 'spawn' as well).

The program runs once under `dragon`; each check is its own test."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import api_harness  # noqa: E402
from conftest import dragon_segments  # noqa: E402

PROGRAM = 'api_shared.py'


@pytest.fixture(scope='module')
def shared_run(build):
    return api_harness.run(build, PROGRAM, timeout=120, segments=dragon_segments)


@pytest.mark.parametrize('check', api_harness.program_checks(PROGRAM))
def test_shared(shared_run, check):
    shared_run.assert_ok(check)


def test_shared_program_finishes_and_leaves_nothing(shared_run):
    shared_run.assert_finished()
