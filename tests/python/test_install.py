"""The install tree is relocatable, its modulefiles work, and a third-party plugin
builds out of tree with find_package(Dragon) and passes the memory conformance suite."""

import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import REPO, clean_env, info_json, run


@pytest.fixture(scope="module")
def moved_install(build, tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    first = base / "first"
    result = run(["cmake", "--install", str(build), "--prefix", str(first)], timeout=300)
    assert result.returncode == 0, result.stderr
    moved = base / "moved"
    shutil.move(first, moved)
    return moved


def test_layout(moved_install):
    for rel in ["bin/dragon-info", "lib/libdragon.so", "lib/dragon/plugins/dragon_memory_posix_shm.so",
                "lib/dragon/plugins/dragon_memory_hugepage.so", "include/dragon/plugin.h",
                "include/dragon/memory.h", "include/dragon/transport.h", "include/dragon/launcher.h",
                "lib/cmake/Dragon/DragonConfig.cmake", "share/modulefiles/dragon/0.1.0",
                "share/lmod/modulefiles/dragon/0.1.0.lua", "lib/python3/site-packages/sitecustomize.py"]:
        assert (moved_install / rel).exists(), rel


def test_moved_install_finds_its_own_plugins(moved_install):
    result = run([str(moved_install / "bin" / "dragon-info"), "--json"])
    assert result.returncode == 0, result.stderr
    import json
    report = json.loads(result.stdout)
    assert report["search_path"][-1]["path"] == str(moved_install / "lib" / "dragon" / "plugins")
    names = {p["name"]: p["path"] for p in report["plugins"]}
    assert names["posix_shm"].startswith(str(moved_install))


@pytest.mark.parametrize("tree", ["modulefiles", "lmod/modulefiles"])
def test_modulefile_puts_dragon_on_path(moved_install, tree):
    init = pathlib.Path("/usr/share/lmod/lmod/init/bash")
    if not init.exists():
        pytest.skip("Lmod is not installed (ci/install-deps.sh installs it)")
    script = f"source {init}; module use {moved_install}/share/{tree}; module load dragon; command -v dragon-info"
    result = run(["bash", "-c", script])
    assert result.stdout.strip() == str(moved_install / "bin" / "dragon-info"), result.stderr


def test_out_of_tree_plugin_builds_and_conforms(build, moved_install, tmp_path):
    src = REPO / "examples" / "memory_plugin_dirfile"
    out = tmp_path / "plugin"
    configure = run(["cmake", "-S", str(src), "-B", str(out), f"-DCMAKE_PREFIX_PATH={moved_install}"], timeout=300)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compile_ = run(["cmake", "--build", str(out)], timeout=300)
    assert compile_.returncode == 0, compile_.stdout + compile_.stderr
    assert (out / "dragon_memory_dirfile.so").exists()

    segdir = tmp_path / "segments"
    segdir.mkdir()
    env = {"DRAGON_PLUGIN_PATH": str(out), "DRAGON_MEMORY_DIRFILE_DIR": str(segdir)}
    _, report = info_json(moved_install, **env)
    dirfile = next(p for p in report["plugins"] if p["name"] == "dirfile")
    assert dirfile["status"] == "available", dirfile

    suite = run([str(build / "tests" / "bin" / "memory_conformance"), "--gtest_filter=*dirfile*"],
                env=clean_env(**env), timeout=120)
    assert suite.returncode == 0, suite.stdout[-3000:]
    assert "[  PASSED  ] 12 tests." in suite.stdout, suite.stdout[-2000:]
    assert not any(segdir.iterdir()), "the conformance suite left segments behind"


def test_readme_stands_alone_with_a_first_program():
    readme = (REPO / "README.md").read_text()
    assert "../shared" not in readme and "DESIGN.md" not in readme, "points outside the repository"
    assert "## Your first program" in readme and "examples/hello.py" in readme
    for step in ("cmake --install build --prefix", "module use", "module load dragon"):
        assert step in readme, step


def test_readme_cluster_path_runs_the_first_program(moved_install, tmp_path):
    """The README's path for a user without root: install to a prefix, module use,
    module load dragon, run examples/hello.py."""
    init = pathlib.Path("/usr/share/lmod/lmod/init/bash")
    if not init.exists():
        pytest.skip("Lmod is not installed (ci/install-deps.sh installs it)")
    script = (f"source {init}; module use {moved_install}/share/modulefiles; module load dragon; "
              f"cd {tmp_path}; dragon {REPO / 'examples' / 'hello.py'}")
    result = run(["bash", "-c", script], timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [l for l in lines if l.startswith("hello from process")] and \
        lines[-1] == "exit codes: [0, 0, 0, 0]", result.stdout + result.stderr


def test_out_of_tree_transport_builds_and_conforms(build, moved_install, tmp_path):
    """The example third-party transport (Unix-domain sockets, plain C) builds against the
    installed tree and passes the transport conformance suite, on loopback and (as root)
    across network namespaces."""
    src = REPO / "examples" / "transport_plugin_uds"
    out = tmp_path / "plugin"
    configure = run(["cmake", "-S", str(src), "-B", str(out), f"-DCMAKE_PREFIX_PATH={moved_install}"], timeout=300)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compile_ = run(["cmake", "--build", str(out)], timeout=300)
    assert compile_.returncode == 0, compile_.stdout + compile_.stderr
    assert (out / "dragon_transport_uds.so").exists()

    env = {"DRAGON_PLUGIN_PATH": str(out)}
    _, report = info_json(moved_install, **env)
    uds = next(p for p in report["plugins"] if p["name"] == "uds")
    assert uds["status"] in ("available", "selected"), uds

    # A short TMPDIR: the socket path (TMPDIR/test dir/private dir/socket) must fit in 108 bytes.
    short_tmp = pathlib.Path("/tmp") / f"uds-{os.getpid()}"
    short_tmp.mkdir(exist_ok=True)
    try:
        suite = run([str(build / "tests" / "bin" / "transport_conformance"), "--gtest_filter=*/uds_*"],
                    env=clean_env(TMPDIR=short_tmp, **env), timeout=600)
        leftovers = list(short_tmp.iterdir())
    finally:
        shutil.rmtree(short_tmp, ignore_errors=True)
    assert suite.returncode == 0, suite.stdout[-4000:]
    passed = suite.stdout.count("[       OK ]")
    assert passed >= 13 and "uds_loopback" in suite.stdout, suite.stdout[-2000:]
    if os.geteuid() == 0:
        assert "uds_netns" in suite.stdout and passed >= 26, suite.stdout[-2000:]
    assert not leftovers, f"the conformance suite left {leftovers} behind"
