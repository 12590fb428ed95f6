"""Unbounded queues under 'dragon': put never blocks (items far beyond the
channel's ring before any get), order per producer, a full pool is a clear
error (bench/fill_bench.py runs the 1,000,000-item variant)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402


def test_items_put_before_any_get_are_all_delivered_in_order(build):
    r = harness.run_program(build, 'queue_fill.py', 'fill', 50000, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ('queue fill ok', 'simplequeue fill ok', 'joinablequeue fill ok',
                 'producers order ok'):
        assert line in r.stdout, r.stdout + r.stderr


def test_a_full_pool_is_a_clear_error_not_a_hang(build):
    r = harness.run_program(build, 'queue_fill.py', 'full', timeout=120,
                            env={'DRAGON_DEFAULT_SEG_SZ': '8M'})
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'full pool ok' in r.stdout, r.stdout + r.stderr
