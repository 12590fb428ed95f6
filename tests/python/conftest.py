"""Shared fixtures for the Python-driven tests: where the build is, how to run
its programs, and the leftover check that runs after every test."""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "programs"))
import harness  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
SEGMENT_DIRS = [pathlib.Path("/dev/shm"), pathlib.Path("/dev/hugepages")]


def build_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("DRAGON_BUILD_DIR", REPO / "build")).resolve()


@pytest.fixture(scope="session")
def build():
    path = build_dir()
    if not (path / "bin" / "dragon-info").exists():
        pytest.fail(f"no build at {path}: run ci/test.sh or set DRAGON_BUILD_DIR")
    return path


def clean_env(**overrides):
    """The caller's environment without DRAGON_* settings (but DRAGON_PYTHON naming
    the real interpreter, see harness.real_python), plus overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAGON_")}
    env["DRAGON_PYTHON"] = harness.real_python()
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def run(cmd, env=None, timeout=60, **kwargs):
    return subprocess.run(cmd, env=env if env is not None else clean_env(), capture_output=True,
                          text=True, timeout=timeout, **kwargs)


class Transcript:
    """What a process writes to a pipe (a terminal session's output), read on demand."""

    def __init__(self, fd):
        self.fd = fd
        self.seen = b""

    def until(self, text, limit=20.0):
        """Reads until `text` has appeared; fails past `limit` seconds or at end of file."""
        end = time.monotonic() + limit
        while text not in self.seen:
            assert time.monotonic() < end, f"no {text!r} in {self.seen!r}"
            chunk = os.read(self.fd, 4096)
            assert chunk, f"session ended before {text!r}: {self.seen!r}"
            self.seen += chunk


def terminal_session(script, env):
    """Runs `bash script` at a terminal of its own (script(1)). The script is expected to
    run dragon on `sh -c 'read l; echo "read: [$l]"; exec sleep 30'` and then
    `echo "dragon exit $?"`: this types a line, checks it reached the head program, types
    Ctrl-C, and returns (seconds from Ctrl-C to dragon's exit, the Transcript)."""
    p = subprocess.Popen(["script", "-qec", f"bash {script}", "/dev/null"], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    session = Transcript(p.stdout.fileno())
    try:
        time.sleep(1.5)  # the head program is reading the terminal by then, or soon after
        p.stdin.write(b"hello\n")
        p.stdin.flush()
        session.until(b"read: [hello]")
        t0 = time.monotonic()
        p.stdin.write(b"\x03")  # Ctrl-C at the terminal
        p.stdin.flush()
        session.until(b"dragon exit 130")
        return time.monotonic() - t0, session
    finally:
        p.stdin.close()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def info_json(build, **env):
    result = run([str(build / "bin" / "dragon-info"), "--json"], env=clean_env(**env))
    return result, json.loads(result.stdout)


def dragon_segments():
    """Segments, and the private directories jobs keep in $TMPDIR."""
    found = set()
    tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp"))
    for d in SEGMENT_DIRS + [tmp]:
        if d.is_dir():
            found.update(str(p) for p in d.iterdir() if p.name.startswith("dragon-"))
    return found


@pytest.fixture(autouse=True)
def no_leftover_segments():
    before = dragon_segments()
    yield
    left = dragon_segments() - before
    assert not left, f"segments or directories left behind: {sorted(left)}"
