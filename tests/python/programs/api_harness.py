"""Test-side helpers for the api_*.py programs (see api_common.py for their
side): run a program once per test module under the real launcher, then assert
on its 'ok <check>' lines one test per check, so a failure names its check."""

import os
import pathlib
import signal
import subprocess

import harness

PROGRAMS = pathlib.Path(__file__).resolve().parent


def program_checks(name):
    """Check names registered in programs/<name>, in order (read from its source)."""
    checks, pending = [], False
    for line in (PROGRAMS / name).read_text().splitlines():
        if line.startswith('@check'):
            pending = True
        elif pending and line.startswith('def '):
            fn = line[4:line.index('(')]
            checks.append(fn[6:] if fn.startswith('check_') else fn)
            pending = False
    return checks


class ProgramRun:
    def __init__(self, name, result, leftovers):
        self.name, self.result, self.leftovers = name, result, leftovers
        self.stdout = result.stdout if result else ''
        self.stderr = result.stderr if result else ''
        self.lines = self.stdout.splitlines()

    def _check_stderr(self, check):
        """The traceback api_common printed for this check, or the stderr tail."""
        marker = f'--- traceback of check {check}'
        if marker in self.stderr:
            part = self.stderr.split(marker, 1)[1]
            return part.split('--- traceback of check', 1)[0][-4000:]
        return self.stderr[-4000:]

    def assert_ok(self, check):
        fail = [l for l in self.lines if l.startswith(f'FAIL {check}:')]
        if not fail and f'ok {check}' in self.lines:
            return
        if fail:
            why = fail[0]
        elif f'begin {check}' in self.lines:
            why = f'{check} never finished (hung or the program died in it)'
        else:
            why = f'{check} never started (an earlier check hung or the program died)'
        raise AssertionError(f'{self.name}: {why}\n--- stderr:\n{self._check_stderr(check)}'
                             f'\n--- stdout tail:\n' + '\n'.join(self.lines[-15:]))

    def assert_finished(self):
        assert self.result is not None, f'{self.name} could not be run'
        assert any(l.startswith('done ') for l in self.lines), \
            f'{self.name} did not finish its checks (rc {self.result.returncode})\n' \
            f'{self.stderr[-4000:]}'
        assert self.result.returncode in (0, 1), \
            f'{self.name} exited with {self.result.returncode}\n{self.stderr[-4000:]}'
        assert not self.leftovers, f'segments or directories left behind: {sorted(self.leftovers)}'


def _communicate(cmd, env, timeout):
    """Runs cmd; on overrun stops it as a user would (SIGTERM, so the job tears
    down and leaves nothing), keeping what it printed. Returns (rc, out, err, overran)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err, False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return proc.returncode, out, err, True


def run(build, name, *args, timeout=120, segments=None):
    """Runs programs/<name> as a Dragon job the way harness.run_program does
    (the real launcher when it works); a program that overruns comes back as a
    ProgramRun with what it printed so far."""
    before = segments() if segments else set()
    cmd = harness._command(build, harness.mode(build), PROGRAMS / name,
                           [str(a) for a in args], timeout)
    rc, out, err, overran = _communicate(cmd, harness.env_for(build), timeout + 30)
    if overran:
        err += f'\n[{name} did not finish within {timeout + 30} s and was stopped]'
    left = (segments() - before) if segments else set()
    job = next((l.split()[1] for l in out.splitlines() if l.startswith('job ')), '-')
    if job != '-':   # only this job's: other jobs may run beside the tests
        left = {p for p in left if f'dragon-{job}-' in p}
    return ProgramRun(name, subprocess.CompletedProcess(cmd, rc, out, err), left)


def run_with_prefix(build, prefix, name, *args, timeout=60):
    """Runs programs/<name> under the real dragon with a command prefix (e.g. taskset)."""
    cmd = [*prefix, str(pathlib.Path(build) / 'bin' / 'dragon'), str(PROGRAMS / name),
           *[str(a) for a in args]]
    rc, out, err, overran = _communicate(cmd, harness.env_for(build), timeout)
    assert not overran, f'{name} did not finish within {timeout} s\n{out}\n{err}'
    return subprocess.CompletedProcess(cmd, rc, out, err)
