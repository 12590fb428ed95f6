"""The rest of multiprocessing's public names under start method 'dragon':
shared_memory.SharedMemory, ShareableList and SharedMemoryManager between
processes, cpu_count (the CPUs the job may use), get_logger/log_to_stderr,
freeze_support, set_executable, allow_connection_pickling, parent_process,
multiprocessing.dummy, and every name of multiprocessing.__all__ on the
context (CPython's documented semantics; programs/api_misc.py passes with
'spawn' as well, where cpu_count is stock's os.cpu_count()).

The program runs once under `dragon`; each check is its own test."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import api_harness  # noqa: E402
import harness  # noqa: E402
from conftest import dragon_segments  # noqa: E402

PROGRAM = 'api_misc.py'


@pytest.fixture(scope='module')
def misc_run(build):
    return api_harness.run(build, PROGRAM, timeout=120, segments=dragon_segments)


@pytest.mark.parametrize('check', api_harness.program_checks(PROGRAM))
def test_misc(misc_run, check):
    misc_run.assert_ok(check)


def test_misc_program_finishes_and_leaves_nothing(misc_run):
    misc_run.assert_finished()


def test_log_to_stderr_reaches_the_jobs_stderr_from_parent_and_child(misc_run):
    misc_run.assert_ok('get_logger_and_log_to_stderr')
    assert '[INFO/MainProcess] hello from the parent' in misc_run.stderr, misc_run.stderr
    assert '[INFO/api-logging-child] hello from the child' in misc_run.stderr, misc_run.stderr


@pytest.mark.skipif(not shutil.which('taskset') or len(os.sched_getaffinity(0)) < 2,
                    reason='needs taskset and at least 2 CPUs')
def test_cpu_count_is_what_the_job_may_use(build):
    """A job confined to one CPU: cpu_count() is 1 (stock says os.cpu_count())."""
    if harness.mode(build) != 'dragon':
        pytest.skip('needs the real dragon launcher')
    cpu = min(os.sched_getaffinity(0))
    r = api_harness.run_with_prefix(build, ['taskset', '-c', str(cpu)], PROGRAM, 'dragon',
                                    'cpu_count_is_the_jobs_cpus', timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'ok cpu_count_is_the_jobs_cpus' in r.stdout, r.stdout + r.stderr
    assert f'cpu_count 1 usable 1 os.cpu_count {os.cpu_count()}' in r.stdout, r.stdout
