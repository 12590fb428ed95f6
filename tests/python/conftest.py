"""Shared fixtures for the Python-driven tests: where the build is, how to run
its programs, and the leftover check that runs after every test."""

import json
import os
import pathlib
import subprocess
import sys

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
