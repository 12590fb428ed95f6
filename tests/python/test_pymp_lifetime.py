"""Channel lifetime under 'dragon': churn at sizes CI affords with a pool small
enough that nothing would fit without freeing, a SIGKILLed holder, descriptors
in transit (framework/dataplane/holders.hpp; bench/churn_bench.py runs the
million-object loops)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402


def test_objects_made_and_dropped_in_a_loop_are_freed(build):
    r = harness.run_program(build, 'lifetime.py', 'churn', 20000, timeout=300,
                            env={'DRAGON_DEFAULT_SEG_SZ': '16M'})
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ('queue churn ok', 'simplequeue churn ok', 'joinablequeue churn ok',
                 'pipe churn ok', 'lock+event churn ok'):
        assert line in r.stdout, r.stdout + r.stderr


def test_killed_holders_released_transit_kept_pools_freed(build):
    r = harness.run_program(build, 'lifetime.py', 'refs', timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ('killed child released ok', 'in transit ok', 'pool churn ok'):
        assert line in r.stdout, r.stdout + r.stderr


def test_a_putter_or_getter_killed_mid_operation_leaks_no_pool_block(build):
    r = harness.run_program(build, 'lifetime.py', 'killed-put', timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'killed putter released ok' in r.stdout, r.stdout + r.stderr
    assert 'killed getter released ok' in r.stdout, r.stdout + r.stderr
    assert 'handed-over block released ok' in r.stdout, r.stdout + r.stderr
