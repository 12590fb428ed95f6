"""Selecting the 'dragon' start method: without `import dragon` under dragon,
DRAGON_PATCH_MP, and stock's side effects of Barrier (issue 15)."""

import subprocess

import pytest

import harness

PROGRAM = harness.PROGRAMS / "start_method_hooks.py"


def run_mode(build, mode, *options, **env):
    if harness.mode(build) != "dragon":
        pytest.skip("needs the dragon launcher (dragon-node puts the start-up hook on PYTHONPATH)")
    return subprocess.run([str(build / "bin" / "dragon"), *options, str(PROGRAM), mode],
                          env=harness.env_for(build, **env), capture_output=True, text=True,
                          timeout=90)


def test_dragon_start_method_without_import_dragon(build):
    r = run_mode(build, "no-import")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["start method dragon", "DragonContext child ran"], r.stderr


def test_patch_mp_makes_dragon_the_default_start_method(build):
    r = run_mode(build, "patch-mp", DRAGON_PATCH_MP="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["default dragon", "started by dragon child ran"]
    assert "DRAGON_PATCH_MP" not in r.stderr, "it is a known variable"
    r = run_mode(build, "patch-mp", DRAGON_PATCH_MP="0")
    assert r.stdout.splitlines()[0] != "default dragon"


def test_barrier_imports_multiprocessing_heap_as_stock_does(build):
    r = run_mode(build, "barrier")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "heap True"


def test_program_that_never_selects_a_start_method_gets_one_hint_at_info_level(build):
    r = run_mode(build, "unselected", "-l", "info")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "method fork"
    assert r.stderr.count("processes start with the 'fork' start method") == 1, r.stderr
    quiet = run_mode(build, "unselected")
    assert "start method" not in quiet.stderr, quiet.stderr
