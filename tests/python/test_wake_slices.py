"""A process of the job asleep in a wait on busy cores asks for a short time slice
(framework/dataplane/wake_slice.hpp), so that its wake-up preempts a CPU-bound
neighbour; DRAGON_SHORT_SLICES=off asks for nothing. Needs Linux 6.12 or later
(custom slices); skipped before."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402

SHORT_SLICE_NS = 100000


def kernel_has_custom_slices():
    try:
        with open('/proc/self/sched') as f:
            return any(line.startswith('se.slice') for line in f)
    except OSError:
        return False


@pytest.mark.skipif(not kernel_has_custom_slices(),
                    reason='this kernel has no custom time slices (Linux 6.12 or later)')
@pytest.mark.parametrize('setting', ['on', 'off'])
def test_a_wait_asleep_on_busy_cores_asks_for_a_short_slice(build, setting):
    r = harness.run_program(build, 'wake_slices.py', timeout=120,
                            env={'DRAGON_SHORT_SLICES': setting})
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got['exitcode'] == 0
    if setting == 'on':
        assert SHORT_SLICE_NS in got['slices'], got
    else:
        assert SHORT_SLICE_NS not in got['slices'], got
