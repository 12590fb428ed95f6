"""The dragon package under every CPython the build names (DRAGON_PYTHONS): each
interpreter loads its own extension, in the job's program and in its children,
and an interpreter the build lacks gets an error naming the versions built and
how to add one."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402
from conftest import build_dir  # noqa: E402

PROGRAMS = pathlib.Path(__file__).resolve().parent / 'programs'


def pythons_built():
    """[(version, interpreter)] as configured (build/dragon-pythons.txt)."""
    listing = build_dir() / 'dragon-pythons.txt'
    if not listing.exists():
        return []
    return [tuple(line.split(' ', 1)) for line in listing.read_text().splitlines() if line]


def tag(version):
    return 'cpython-' + version.replace('.', '')


def test_the_build_lists_the_interpreters_it_built_for(build):
    built = pythons_built()
    assert built, 'no %s: reconfigure the build' % (build / 'dragon-pythons.txt')
    package = harness.site_packages(build) / 'dragon'
    for version, exe in built:
        assert list(package.glob('_dragon.%s-*.so' % tag(version))), (version, exe)


@pytest.mark.parametrize('version,exe', pythons_built(), ids=[v for v, _ in pythons_built()])
def test_a_job_runs_under_each_built_interpreter(build, version, exe):
    r = subprocess.run([str(build / 'bin' / 'dragon'), str(PROGRAMS / 'version_probe.py')],
                       env=harness.env_for(build, DRAGON_PYTHON=exe), capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'version probe ok' in r.stdout
    for who in ('parent', 'child'):
        line = re.search(r'^%s (\S+) (\S+)$' % who, r.stdout, re.M)
        assert line, r.stdout
        assert line.group(1) == version, line.group(0)
        assert tag(version) in os.path.basename(line.group(2)), line.group(0)


def test_an_interpreter_the_build_lacks_is_told_which_exist_and_how_to_add_it(build, tmp_path):
    built = pythons_built()
    assert built
    missing_version, exe = built[0]
    # The package as if built without this interpreter's extension.
    package = tmp_path / 'dragon'
    shutil.copytree(harness.site_packages(build) / 'dragon', package)
    for so in package.glob('_dragon.%s-*.so' % tag(missing_version)):
        so.unlink()
    r = subprocess.run([exe, '-c', 'import dragon'], env={**os.environ, 'PYTHONPATH': str(tmp_path)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    message = r.stderr.strip().splitlines()[-1]
    assert message.startswith('ImportError: the dragon package has no extension for this '
                              'interpreter, CPython %s' % missing_version), message
    others = [v for v, _ in built[1:]]
    assert ('built for CPython ' + ', '.join(sorted(others, key=lambda v: int(v.split('.')[1])))
            if others else 'built for no CPython at all') in message, message
    assert '-DDRAGON_PYTHONS="' in message and missing_version + '"' in message, message


def test_dragon_with_an_interpreter_the_build_lacks_fails_once_and_clearly(build):
    built = {v for v, _ in pythons_built()}
    candidates = [p for p in sorted(pathlib.Path.home().glob('.pyenv/versions/3.*/bin/python3.*'))
                  if re.fullmatch(r'python3\.\d+', p.name) and p.name[len('python'):] not in built
                  and int(p.name.split('.')[1]) >= 9]
    if not candidates:
        pytest.skip('every CPython 3.9+ on this machine is built for')
    exe = str(candidates[0])
    r = subprocess.run([str(build / 'bin' / 'dragon'), str(PROGRAMS / 'probe_runtime.py')],
                       env=harness.env_for(build, DRAGON_PYTHON=exe), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0
    assert 'has no extension for this interpreter' in r.stderr, r.stderr
    assert 'DRAGON_PYTHONS' in r.stderr
    # The warm server is not started again and again, and nothing circular is reported.
    assert 'starting a new one' not in r.stderr, r.stderr
    assert 'circular import' not in r.stderr, r.stderr
