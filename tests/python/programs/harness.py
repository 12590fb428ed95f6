"""How the pymp tests run a program: under the real `dragon` launcher when it
works in this build, else under fake_node.py (a Python stand-in for dragon-node
that starts the real warm server). DRAGON_PYMP_HARNESS=dragon|fake forces one."""

import os
import pathlib
import shutil
import signal
import subprocess

PROGRAMS = pathlib.Path(__file__).resolve().parent
_mode = None


def python():
    # The interpreter the package is built for: the python3 on PATH (pyenv).
    return os.environ.get('DRAGON_PYTHON') or shutil.which('python3')


_real_python = None


def real_python():
    """The interpreter behind the python3 on PATH. On these machines that is a pyenv
    shim (a bash script) whose own pipelines now and then print "printf: write
    error: Broken pipe" on stderr; jobs under test run the interpreter itself, so
    output checks see only the job's output."""
    global _real_python
    if _real_python is None:
        shim = python()
        try:
            _real_python = subprocess.run(
                [shim, '-c', 'import sys; print(sys.executable)'], capture_output=True,
                text=True, timeout=60, check=True).stdout.strip() or shim
        except (OSError, subprocess.SubprocessError):
            _real_python = shim
    return _real_python


def site_packages(build):
    return pathlib.Path(build) / 'lib' / 'python3' / 'site-packages'


def env_for(build, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith('DRAGON_')}
    env['PYTHONPATH'] = str(site_packages(build))
    env['DRAGON_PYTHON'] = real_python()
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _command(build, mode, program, args, timeout):
    if mode == 'dragon':
        return [str(pathlib.Path(build) / 'bin' / 'dragon'), str(program), *args]
    return [python(), str(PROGRAMS / 'fake_node.py'), '--timeout', str(timeout),
            str(program), *args]


def mode(build):
    global _mode
    if _mode is None:
        forced = os.environ.get('DRAGON_PYMP_HARNESS')
        if forced:
            _mode = forced
        elif (pathlib.Path(build) / 'bin' / 'dragon-node').exists():
            probe = subprocess.run(_command(build, 'dragon', PROGRAMS / 'probe_runtime.py', [], 30),
                                   env=env_for(build), capture_output=True, text=True, timeout=60)
            _mode = 'dragon' if probe.returncode == 0 and 'probe ok' in probe.stdout else 'fake'
        else:
            _mode = 'fake'
    return _mode


def run_program(build, name, *args, timeout=60, env=None):
    """Runs tests/python/programs/<name> as a Dragon job (with `env`'s variables
    added to its environment); returns CompletedProcess."""
    cmd = _command(build, mode(build), PROGRAMS / name, [str(a) for a in args], timeout)
    proc = subprocess.Popen(cmd, env=env_for(build, **(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        # Stop the job the way a user would, so it tears down and leaves nothing behind.
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        raise AssertionError(f'{name} did not finish within {timeout + 30} s\n'
                             f'stdout:\n{out}\nstderr:\n{err}')
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
