"""The 'dragon' start method: registration and Process, run as real Dragon jobs
(under `dragon`, or the fake_node stand-in while dragon-node cannot run them)."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402


def test_harness_mode_is_reported(build):
    print('pymp programs run under:', harness.mode(build))


def test_start_method_registered_beside_stock_ones(build):
    r = harness.run_program(build, 'start_methods.py', 'spawn', 'fork', 'forkserver')
    assert r.returncode == 0, r.stderr
    for line in ('spawn ok', 'fork ok', 'forkserver ok', 'default dragon ok'):
        assert line in r.stdout


def test_process_lifecycle(build):
    r = harness.run_program(build, 'process_lifecycle.py')
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ('identity ok', 'exitcode ok', 'terminate ok', 'kill ok', 'zombie until join ok',
                 'sentinels ok',
                 'parent alive ok', 'no runtime sockets inherited ok'):
        assert line in r.stdout


def test_child_exception_gives_traceback_and_exitcode_1(build):
    r = harness.run_program(build, 'child_exception.py')
    assert r.returncode == 0, r.stderr
    assert 'exitcode 1' in r.stdout
    assert 'Traceback (most recent call last)' in r.stderr
    assert "ValueError: boom-from-the-child" in r.stderr


def test_clear_error_when_not_started_by_dragon(build):
    prog = os.path.join(harness.PROGRAMS, 'not_under_dragon.py')
    r = subprocess.run([harness.python(), prog], env=harness.env_for(build),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for what in ('start', 'Queue', 'Pipe'):
        line = next(l for l in r.stdout.splitlines() if l.startswith(what + ' error:'))
        assert 'run it as `dragon not_under_dragon.py`' in line, line


def test_warm_server_started_by_dragon_node_runs_children(build):
    """The real launcher, no stand-in: dragon-node starts dragon.warm_server, puts the
    package on PYTHONPATH, and forwards a child's stderr (this program needs no pool)."""
    if not (build / 'bin' / 'dragon-node').exists():
        pytest.skip('dragon-node is not built')
    env = harness.env_for(build)
    del env['PYTHONPATH']
    r = subprocess.run([str(build / 'bin' / 'dragon'), str(harness.PROGRAMS / 'child_exception.py')],
                       env=env, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    assert 'exitcode 1' in r.stdout
    assert 'ValueError: boom-from-the-child' in r.stderr


@pytest.mark.skipif(not os.path.exists('/usr/bin/python3'), reason='no /usr/bin/python3')
def test_children_run_on_the_job_programs_interpreter(build):
    program = os.path.join(os.path.dirname(__file__), 'programs', 'interpreter_match.py')
    r = subprocess.run([str(build / 'bin' / 'dragon'), '/usr/bin/python3', program],
                       env=harness.env_for(build), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'interpreter ok' in r.stdout
