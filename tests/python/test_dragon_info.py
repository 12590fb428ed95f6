"""dragon-info: plugins found, their status and reasons, selection, parameters."""

import json
import pathlib

import pytest

from conftest import clean_env, info_json, run


def hugepages_usable():
    meminfo = pathlib.Path("/proc/meminfo").read_text()
    free = int(next(l.split()[1] for l in meminfo.splitlines() if l.startswith("HugePages_Free")))
    mounted = any(l.split()[2] == "hugetlbfs" for l in pathlib.Path("/proc/mounts").read_text().splitlines())
    return free > 0 and mounted


def plugin(report, name):
    return next(p for p in report["plugins"] if p["name"] == name)


def free_hugepage_bytes():
    meminfo = pathlib.Path("/proc/meminfo").read_text()
    value = {l.split(":")[0]: int(l.split()[1]) for l in meminfo.splitlines()
             if l.startswith(("HugePages_Free", "Hugepagesize"))}
    return value.get("HugePages_Free", 0) * value.get("Hugepagesize", 0) * 1024


def test_shows_both_memory_plugins_honestly(build):
    # A node pool small enough for any reserve: the probe weighs it (see below).
    result, report = info_json(build, DRAGON_DEFAULT_SEG_SZ="2M")
    assert result.returncode == 0, result.stderr
    shm = plugin(report, "posix_shm")
    huge = plugin(report, "hugepage")
    assert shm["status"] == "selected"
    assert report["selection"]["memory"]["selected"] == "posix_shm"
    if hugepages_usable():
        assert huge["status"] == "available", huge
    else:
        assert huge["status"] == "unavailable" and huge["reason"], huge


def test_hugepage_unavailable_says_why(build):
    result, report = info_json(build, DRAGON_MEMORY_HUGEPAGE_DIR="/nonexistent")
    huge = plugin(report, "hugepage")
    assert huge["status"] == "unavailable"
    assert "DRAGON_MEMORY_HUGEPAGE_DIR=/nonexistent is not a hugetlbfs mount" in huge["reason"]


def test_hugepage_probe_weighs_the_node_pool(build, tmp_path):
    if not hugepages_usable():
        pytest.skip("no huge pages reserved (ci/setup-hugepages.sh reserves them as root)")
    too_big = free_hugepage_bytes() + (2 << 20)
    _, report = info_json(build, DRAGON_DEFAULT_SEG_SZ=str(too_big))
    huge = plugin(report, "hugepage")
    assert huge["status"] == "unavailable" and "DRAGON_DEFAULT_SEG_SZ" in huge["reason"], huge
    # A job asking for it fails at once, and the message says what to change.
    prog = tmp_path / "nothing.py"
    prog.write_text("pass\n")
    r = run([str(build / "bin" / "dragon"), str(prog)],
            env=clean_env(DRAGON_MEMORY="hugepage", DRAGON_DEFAULT_SEG_SZ=str(too_big)))
    assert r.returncode != 0 and "set DRAGON_DEFAULT_SEG_SZ=" in r.stderr, r.stderr
    _, report = info_json(build, DRAGON_DEFAULT_SEG_SZ="2M")
    assert plugin(report, "hugepage")["status"] == "available"


def test_text_report_lists_search_path_plugins_selection_parameters(build):
    result = run([str(build / "bin" / "dragon-info")])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for section in ("Plugin search path:", "Plugins:", "Selection:", "Parameters:"):
        assert section in out
    assert str(build / "lib" / "dragon" / "plugins") in out
    assert "DRAGON_MEMORY_HUGEPAGE_DIR = \"\"  (default, string, memory/hugepage)" in out


def test_parameter_source_is_environment_when_set(build):
    _, report = info_json(build, DRAGON_DEFAULT_SEG_SZ="64M")
    seg = next(p for p in report["parameters"] if p["name"] == "DRAGON_DEFAULT_SEG_SZ")
    assert seg["value"] == "64M" and seg["source"] == "environment"


def test_secrets_are_said_to_be_set_never_shown(build):
    # dragon-info run inside a job sees the lane key every process of the job has.
    env = clean_env(DRAGON_LANE_KEY="0badc0ffee", DRAGON_JOB_SECRET="5ec2e7")
    text = run([str(build / "bin" / "dragon-info")], env=env)
    _, report = info_json(build, DRAGON_LANE_KEY="0badc0ffee", DRAGON_JOB_SECRET="5ec2e7")
    assert text.returncode == 0, text.stderr
    for shown in (text.stdout, json.dumps(report)):
        assert "0badc0ffee" not in shown and "5ec2e7" not in shown
    key = next(p for p in report["parameters"] if p["name"] == "DRAGON_LANE_KEY")
    assert key["value"] == "(set, not shown)" and key["source"] == "environment"


def test_named_unavailable_plugin_is_an_error(build):
    result, report = info_json(build, DRAGON_MEMORY="hugepage", DRAGON_MEMORY_HUGEPAGE_DIR="/nonexistent")
    assert result.returncode == 1
    sel = report["selection"]["memory"]
    assert sel["error"] and "the hugepage memory plugin cannot run here" in sel["decision"]


def test_unknown_plugin_name_suggests(build):
    result, report = info_json(build, DRAGON_MEMORY="posix_sh")
    assert result.returncode == 1
    assert "did you mean 'posix_shm'?" in report["selection"]["memory"]["decision"]


def test_exclusion_and_list(build):
    _, report = info_json(build, DRAGON_MEMORY="^posix_shm", DRAGON_DEFAULT_SEG_SZ="2M")
    expected = "hugepage" if hugepages_usable() else None
    assert report["selection"]["memory"]["selected"] == expected
    _, report = info_json(build, DRAGON_MEMORY="hugepage,posix_shm", DRAGON_MEMORY_HUGEPAGE_DIR="/nonexistent")
    assert report["selection"]["memory"]["selected"] == "posix_shm"


def test_misspelled_variable_warns_with_closest(build):
    _, report = info_json(build, DRAGON_MEMROY="hugepage")
    assert any("DRAGON_MEMROY is set but Dragon does not read it; did you mean DRAGON_MEMORY?" in w
               for w in report["warnings"]), report["warnings"]


def test_refused_plugins_listed_with_reasons(build):
    plugins = build / "tests" / "plugins"
    _, report = info_json(build, DRAGON_PLUGIN_PATH=str(plugins))
    refused = {pathlib.Path(p["path"]).name: p["reason"] for p in report["plugins"] if p["status"] == "refused"}
    assert "built for plugin ABI 2." in refused["dragon_memory_abi_future.so"]
    assert "declares kind 'transport'" in refused["dragon_memory_wrong_kind.so"]
    assert "no entry point" in refused["dragon_memory_no_entry.so"]
    assert "cannot be loaded" in refused["dragon_memory_garbage.so"]
    assert report["search_path"][0] == {"path": str(plugins), "origin": "DRAGON_PLUGIN_PATH"}


def test_log_levels(build):
    quiet = run([str(build / "bin" / "dragon-info")])
    assert "info:" not in quiet.stderr
    verbose = run([str(build / "bin" / "dragon-info"), "-l", "info"])
    assert "dragon-info: info: selected memory plugin 'posix_shm' automatically" in verbose.stderr
    debug = run([str(build / "bin" / "dragon-info")], env=clean_env(DRAGON_DEBUG="1",
                DRAGON_PLUGIN_PATH=str(build / "tests" / "plugins")))
    assert "dragon-info: debug: plugin" in debug.stderr and "refused" in debug.stderr
    bad = run([str(build / "bin" / "dragon-info"), "--log-level", "loud"])
    assert bad.returncode == 1 and "unknown log level 'loud'" in bad.stderr


def test_bad_command_line(build):
    result = run([str(build / "bin" / "dragon-info"), "--no-such-option"])
    assert result.returncode == 2
    assert "Try 'dragon-info --help'" in result.stderr
    assert run([str(build / "bin" / "dragon-info"), "--help"]).stdout.startswith("Usage: dragon-info")
    version = run([str(build / "bin" / "dragon-info"), "--version"]).stdout
    assert "plugin ABI 1.1" in version


def test_json_is_well_formed_with_everything(build):
    result = run([str(build / "bin" / "dragon-info"), "--json"])
    report = json.loads(result.stdout)
    assert set(report) >= {"version", "abi", "search_path", "plugins", "selection", "parameters", "warnings"}
    assert set(report["selection"]) == {"launcher", "transport", "memory"}
