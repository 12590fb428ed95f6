"""multiprocessing.connection.wait over Dragon Connections and sentinels together."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402


def test_a_message_sent_before_exit_is_ready_with_the_sentinel(build):
    r = harness.run_program(build, 'exact_wait.py', timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'sentinel with message ok' in r.stdout
    # ProcessPoolExecutor(max_tasks_per_child) exists from CPython 3.11 (else Pool's).
    retiring = ('ProcessPoolExecutor(max_tasks_per_child=1)' if job_python() >= (3, 11)
                else 'Pool(maxtasksperchild=1)')
    assert 'retiring workers ok: ' + retiring in r.stdout, r.stdout


def job_python():
    '''(major, minor) of the interpreter the jobs under test run (DRAGON_PYTHON).'''
    out = subprocess.run([harness.real_python(), '-c', 'import sys; print(*sys.version_info[:2])'],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return tuple(int(x) for x in out.split())


def test_pool_terminate_does_not_race_its_workers(build):
    r = harness.run_program(build, 'pool_terminate_loop.py', timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'terminate loop ok' in r.stdout
