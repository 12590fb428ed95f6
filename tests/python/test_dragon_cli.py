"""The dragon command end to end with non-Python programs: command line, exit
codes, output forwarding and labels, stdin, signals, teardown, dragon-cleanup."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import clean_env, run


def dragon(build, *args, **kwargs):
    return run([str(build / "bin" / "dragon"), *args], timeout=kwargs.pop("timeout", 60), **kwargs)


def start(build, *args, **env):
    return subprocess.Popen([str(build / "bin" / "dragon"), *args], env=clean_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def job_processes(job):
    """Processes (of any kind) carrying DRAGON_JOB_ID=job in their environment."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"DRAGON_JOB_ID={job}".encode() in env:
            found.append(int(entry))
    return found


def job_of(p, seconds=10):
    """The id of the job dragon process `p` runs: j<pid>r<random part>."""
    prefix = f"DRAGON_JOB_ID=j{p.pid}r".encode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = f.read().split(b"\0")
            except OSError:
                continue
            for e in env:
                if e.startswith(prefix):
                    return e.split(b"=", 1)[1].decode()
        time.sleep(0.02)
    raise AssertionError(f"no process of dragon {p.pid}'s job found")


def cleanup_would_remove(build):
    out = run([str(build / "bin" / "dragon-cleanup"), "--dry-run"]).stdout
    return {line for line in out.splitlines() if line.startswith("would ")}


@pytest.fixture(autouse=True)
def no_leftover_processes(build):
    before = cleanup_would_remove(build)
    yield
    left = cleanup_would_remove(build) - before
    assert not left, left


def test_help_lists_only_the_plugins_installed(build):
    import json
    info = json.loads(run([str(build / "bin" / "dragon-info"), "--json"]).stdout)
    helptext = " ".join(dragon(build, "--help").stdout.split())
    for kind, option in [("launcher", "launcher plugin:"), ("transport", "transport plugin:"),
                         ("memory", "memory plugin:")]:
        listed = helptext.split(option, 1)[1].split(" (or a list", 1)[0]
        names = [n.split(" (")[0].strip() for n in listed.split(",")]
        installed = [p["name"] for p in info["plugins"] if p["kind"] == kind]
        assert sorted(names) == sorted(installed) or (not installed and listed == " none installed"), \
            (kind, listed, installed)
    for absent in ["slurm", "pbs_pals"]:
        if not any(p["name"] == absent for p in info["plugins"]):
            assert absent not in helptext


def test_signal_deaths_are_reported_naming_the_signal(build):
    r = dragon(build, "/bin/sh", "-c", 'echo $$; kill -SEGV $$')
    assert r.returncode == 139
    pid = r.stdout.strip()
    assert f"process {pid} on node 0 was killed by signal 11 (SIGSEGV: Segmentation fault)" \
        in r.stderr, r.stderr
    # An orphan nobody collects (its parent is gone): the node reaps it and says so.
    r = dragon(build, "/bin/sh", "-c",
               '(sh -c \'echo $$; sleep 0.2; kill -ABRT $$\' &) ; sleep 1')
    assert r.returncode == 0
    orphan = r.stdout.strip()
    assert f"process {orphan} on node 0 was killed by signal 6 (SIGABRT: Aborted)" in r.stderr, \
        r.stderr


def test_help_and_version(build):
    r = dragon(build, "--help")
    assert r.returncode == 0 and "Usage: dragon [options] PROG [ARGS...]" in r.stdout
    for opt in ["--nodes", "--single-node-override", "--wlm", "--transport", "--memory", "--port",
                "--network-prefix", "--no-label", "--basic-label", "--verbose-label", "--log-level"]:
        assert opt in r.stdout, opt
    assert dragon(build, "--version").stdout.startswith("dragon 0.1.0")


@pytest.mark.parametrize("args,message", [
    ([], "no program given"),
    (["--frobnicate", "true"], "unrecognised option '--frobnicate'"),
    (["missing_program.py"], "cannot run missing_program.py: no such file"),
    (["no-such-command-anywhere"], "not found on PATH"),
    (["-N", "0", "true"], "--nodes '0' is not a node count: give a whole number, 1 or more"),
    (["-N", "-1", "true"], "--nodes '-1' is not a node count"),
    (["--nodes=2x", "true"], "--nodes '2x' is not a node count"),
    (["/tmp"], "cannot run /tmp: it is a directory"),
    (["."], "cannot run .: it is a directory"),
    (["--basic-label", "--verbose-label", "true"], "choose one of"),
])
def test_bad_command_lines_exit_2_and_start_nothing(build, args, message):
    before = set(os.listdir("/dev/shm"))
    r = dragon(build, *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Try 'dragon --help'" in r.stderr
    assert set(os.listdir("/dev/shm")) == before


@pytest.mark.parametrize("args,env,message", [
    (["--port", "80", "true"], {}, "--port 80 is a privileged port (below 1024"),
    (["--port", "70000", "true"], {}, "--port 70000 is above 65535"),
    (["--port", "x1", "true"], {}, "--port 'x1' is not a port number"),
    (["true"], {"DRAGON_TRANSPORT_PORT": "1023"}, "DRAGON_TRANSPORT_PORT 1023 is a privileged port"),
    (["--network-prefix", "999.1.1.1/99", "true"], {},
     "'999.1.1.1' is not an IPv4 address"),
    (["--network-prefix", "10.0.0.0/33", "true"], {}, "prefix length '33' is not a number from 0 to 32"),
    (["--network-prefix", "10.0.0.0", "true"], {}, "is not an IPv4 CIDR"),
    (["true"], {"DRAGON_NETWORK_PREFIX": "10.1/8"}, "DRAGON_NETWORK_PREFIX '10.1/8'"),
])
def test_bad_transport_port_or_prefix_exit_2_and_start_nothing(build, args, env, message):
    before = set(os.listdir("/dev/shm"))
    r = run([str(build / "bin" / "dragon"), *args], env=clean_env(**env))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr, r.stderr
    assert set(os.listdir("/dev/shm")) == before


@pytest.mark.parametrize("args,env", [
    (["--port", "0"], {}), (["--port", "1024"], {}), (["--port", "65535"], {}),
    ([], {"DRAGON_TRANSPORT_PORT": "0"}), (["--network-prefix", "127.0.0.0/8"], {}),
    ([], {"DRAGON_NETWORK_PREFIX": "0.0.0.0/0"}),
])
def test_good_transport_port_and_prefix_are_accepted(build, args, env):
    r = run([str(build / "bin" / "dragon"), *args, "/bin/echo", "ok"], env=clean_env(**env))
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def test_options_after_prog_belong_to_prog(build):
    r = dragon(build, "/bin/echo", "-l", "--nodes", "x")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "-l --nodes x\n"


@pytest.mark.parametrize("script,code", [("exit 0", 0), ("exit 7", 7), ("kill -9 $$", 137),
                                         ("kill -SEGV $$", 139)])
def test_exit_code_is_the_head_programs(build, script, code):
    assert dragon(build, "/bin/sh", "-c", script).returncode == code


def test_named_unavailable_launcher_is_an_error(build):
    r = dragon(build, "-w", "slurmm", "true")
    assert r.returncode == 1
    assert "no launcher plugin named 'slurmm'" in r.stderr


def test_stdout_and_stderr_lines_arrive_whole_and_in_order(build):
    script = ("i=0; while [ $i -lt 2000 ]; do echo out-$i-abcdefghijklmnopqrstuvwxyz; "
              "echo err-$i >&2; i=$((i+1)); done; printf tail-without-newline")
    r = dragon(build, "/bin/sh", "-c", script)
    assert r.returncode == 0
    out = r.stdout.split("\n")
    assert out[:-1] == [f"out-{i}-abcdefghijklmnopqrstuvwxyz" for i in range(2000)]
    assert out[-1] == "tail-without-newline"
    assert r.stderr.split("\n")[:-1] == [f"err-{i}" for i in range(2000)]


def test_labels(build):
    basic = dragon(build, "--basic-label", "/bin/sh", "-c", "echo hi; echo oops >&2")
    pid = basic.stdout.split(":")[0]
    assert pid.isdigit() and basic.stdout == f"{pid}: hi\n" and basic.stderr.endswith(f"{pid}: oops\n")
    verbose = dragon(build, "--verbose-label", "/bin/sh", "-c", "echo hi; echo oops >&2")
    assert verbose.stdout.startswith("[stdout node 0 ") and verbose.stdout.endswith("] hi\n")
    assert "[stderr node 0 " in verbose.stderr
    plain = dragon(build, "/bin/sh", "-c", "echo hi")
    assert plain.stdout == "hi\n"


def test_stdin_reaches_the_head_program(build):
    r = run([str(build / "bin" / "dragon"), "/bin/cat"], input="line one\nline two\n")
    assert r.returncode == 0 and r.stdout == "line one\nline two\n"


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_tears_everything_down(build, signum, code):
    p = start(build, "/bin/sh", "-c", "echo started; sleep 600 & sleep 600; wait")
    assert p.stdout.readline() == "started\n"
    job = job_of(p)
    assert job_processes(job), "the job's processes should be running"
    t0 = time.monotonic()
    p.send_signal(signum)
    p.communicate(timeout=10)
    assert p.returncode == code
    assert time.monotonic() - t0 < 5.5
    assert job_processes(job) == []


def stop_stubborn_program(build, signals):
    """Starts a head program that ignores SIGTERM and SIGINT, sends `signals` to dragon
    0.3 s apart; returns (exit code, seconds from the first signal to dragon's exit)."""
    p = start(build, "/bin/sh", "-c", "trap '' TERM INT; echo started; while :; do sleep 1; done")
    assert p.stdout.readline() == "started\n"
    job = job_of(p)
    t0 = time.monotonic()
    for i, signum in enumerate(signals):
        if i:
            time.sleep(0.3)
        p.send_signal(signum)
    p.communicate(timeout=15)
    assert job_processes(job) == []
    return p.returncode, time.monotonic() - t0


def test_program_ignoring_signals_is_killed_within_the_grace(build):
    code, seconds = stop_stubborn_program(build, [signal.SIGTERM])
    assert code == 143 and seconds < 7


def test_second_interrupt_forces(build):
    code, seconds = stop_stubborn_program(build, [signal.SIGINT, signal.SIGINT])
    assert code == 130 and seconds < 3


def test_orphans_of_the_head_program_are_ended(build):
    r = dragon(build, "/bin/sh", "-c", "(sleep 600 &) ; echo done")
    assert r.returncode == 0 and r.stdout == "done\n"


def test_simulated_nodes(build):
    r = dragon(build, "-N", "3", "-l", "debug", "/bin/sh", "-c", "echo node-$DRAGON_NODE_INDEX")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "node-0\n"
    assert "wired up as node 2 of 3" in r.stderr


def test_pool_is_created_with_the_selected_memory_plugin(build):
    r = dragon(build, "--memory", "posix_shm", "/bin/sh", "-c",
               'echo $DRAGON_NODE_POOL $DRAGON_MEMORY; ls /dev/shm')
    assert r.returncode == 0, r.stderr
    pool, memory = r.stdout.split("\n")[0].split()
    assert memory == "posix_shm" and pool.startswith("dragon-j") and pool in r.stdout.split("\n")[1:]


def test_bad_pool_size_is_a_clear_error(build):
    r = run([str(build / "bin" / "dragon"), "true"], env=clean_env(DRAGON_DEFAULT_SEG_SZ="lots"))
    assert r.returncode != 0
    assert "DRAGON_DEFAULT_SEG_SZ='lots'" in r.stderr


def test_pool_larger_than_the_free_memory_is_refused_at_start(build):
    # Before, 10T was accepted on a 24 GB /dev/shm, and filling it ended in SIGBUS.
    r = run([str(build / "bin" / "dragon"), "true"], env=clean_env(DRAGON_DEFAULT_SEG_SZ="10T"))
    assert r.returncode != 0
    assert "bytes free" in r.stderr and "DRAGON_DEFAULT_SEG_SZ" in r.stderr, r.stderr


def wait_until_gone(job, seconds=8):
    deadline = time.monotonic() + seconds
    while job_processes(job) and time.monotonic() < deadline:
        time.sleep(0.05)
    return job_processes(job)


def job_segments(job):
    return [n for n in os.listdir("/dev/shm") if n.startswith(f"dragon-{job}-")]


def job_directories(job):
    tmp = os.environ.get("TMPDIR", "/tmp")
    return [n for n in os.listdir(tmp) if n.startswith(f"dragon-{job}-")]


def test_killed_frontend_takes_the_job_down(build):
    p = start(build, "/bin/sh", "-c", "echo started; sleep 600")
    assert p.stdout.readline() == "started\n"
    job = job_of(p)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    # The nodes notice and tear down by themselves, and remove the frontend's
    # PMIx directory as they go: nothing is left for dragon-cleanup.
    assert wait_until_gone(job) == []
    assert job_segments(job) == []
    assert job_directories(job) == []


def test_cleanup_after_everything_of_ours_was_killed(build):
    p = start(build, "/bin/sh", "-c", "echo started; sleep 600")
    assert p.stdout.readline() == "started\n"
    job = job_of(p)
    comm = {pid: open(f"/proc/{pid}/comm").read().strip() for pid in job_processes(job)}
    nodes = [pid for pid, name in comm.items() if name == "dragon-node"]
    watchdogs = [pid for pid, name in comm.items() if name == "dragon-watchdog"]
    assert nodes and watchdogs
    # A crash of every node, its watchdog and the frontend (watchdogs first, so none
    # ends the node's processes; then nodes, so none starts its teardown).
    for pid in [*watchdogs, *nodes, p.pid]:
        os.kill(pid, signal.SIGKILL)
    p.wait(timeout=10)
    time.sleep(0.2)
    # The head program went with its node (parent-death signal); the pool remains.
    assert job_segments(job), "the pool should remain"
    r = run([str(build / "bin" / "dragon-cleanup")])
    assert r.returncode == 0
    assert f"of job {job}" in r.stdout and "segment posix_shm:dragon-" in r.stdout, r.stdout
    assert wait_until_gone(job) == []
    assert job_segments(job) == []
    assert job_directories(job) == []
    again = run([str(build / "bin" / "dragon-cleanup")])
    assert f"of job {job}" not in again.stdout
