"""multiprocessing.connection.wait over Dragon Connections and sentinels together."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402


def test_a_message_sent_before_exit_is_ready_with_the_sentinel(build):
    r = harness.run_program(build, 'exact_wait.py', timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'sentinel with message ok' in r.stdout
    assert 'max_tasks_per_child ok' in r.stdout


def test_pool_terminate_does_not_race_its_workers(build):
    r = harness.run_program(build, 'pool_terminate_loop.py', timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'terminate loop ok' in r.stdout
