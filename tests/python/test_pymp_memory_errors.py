"""Running out of pool memory is an error, never a hang (issue 15)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402


def test_put_that_can_never_fit_fails_at_once_naming_the_pool_size(build):
    # 9 MiB into a 16 MiB pool: only its whole largest block could hold it, and
    # the pool's channel table lives there. Before, put() blocked forever.
    r = harness.run_program(build, 'oversized_put.py', 9 << 20, timeout=60,
                            env={'DRAGON_DEFAULT_SEG_SZ': '16M'})
    assert r.returncode == 0, r.stdout + r.stderr
    line = r.stdout.strip()
    assert line.startswith('failed after 0.'), r.stdout + r.stderr
    assert 'can never hold' in line and 'DRAGON_DEFAULT_SEG_SZ' in line, line


def test_put_that_fits_still_works(build):
    r = harness.run_program(build, 'oversized_put.py', 3 << 20, timeout=60,
                            env={'DRAGON_DEFAULT_SEG_SZ': '16M'})
    assert r.returncode == 0 and r.stdout.strip() == f'put and got {3 << 20}', r.stdout + r.stderr
