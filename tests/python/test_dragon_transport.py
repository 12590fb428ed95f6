"""Nodes of a job wire up over the transport the frontend chose: every node uses that
one plugin, proves the job secret (which no process of the job ever sees), and a node
that is lost stops the job with a line naming it."""

import os
import re
import signal
import time

import pytest

from conftest import info_json, run
from test_dragon_cli import dragon, job_of, job_processes, no_leftover_processes, start  # noqa: F401


def available_transports(build):
    _, report = info_json(build)
    return [p["name"] for p in report["plugins"]
            if p["kind"] == "transport" and p["status"] in ("available", "selected")]


def automatic_transport(build):
    _, report = info_json(build)
    return report["selection"]["transport"]["selected"]


@pytest.fixture(scope="module")
def transports(build):
    names = available_transports(build)
    if not names:
        pytest.fail("no transport plugin is available: tcp always should be")
    return names


@pytest.mark.parametrize("nodes", [2, 4])
def test_every_node_connects_over_each_transport(build, transports, nodes):
    for name in transports:
        r = dragon(build, "-N", str(nodes), "-t", name, "-l", "debug", "/bin/sh", "-c", "echo ok")
        assert r.returncode == 0, r.stderr
        assert r.stdout == "ok\n"
        connected = [line for line in r.stderr.splitlines()
                     if f"transport {name} connected to {nodes - 1} peer(s)" in line]
        assert len(connected) == nodes, r.stderr


def test_the_frontend_decides_the_transport_once(build, transports):
    chosen = automatic_transport(build)
    assert chosen == ("hsta" if "hsta" in transports else "tcp")
    r = dragon(build, "-N", "2", "-l", "debug", "true")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count(f"selected transport plugin '{chosen}' automatically") == 1, r.stderr
    assert r.stderr.count(f"transport {chosen} endpoint open") == 2, r.stderr


def test_the_job_secret_never_reaches_the_jobs_processes(build):
    r = dragon(build, "-N", "2", "/bin/sh", "-c", "env | grep -c DRAGON_JOB_SECRET; true")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "0\n"


def test_unknown_transport_is_an_error_with_a_suggestion(build):
    r = dragon(build, "-N", "2", "-t", "tpc", "true")
    assert r.returncode != 0
    assert "did you mean 'tcp'" in r.stderr, r.stderr


def node_pid(job, rank):
    for pid in job_processes(job):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "dragon-node":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"PMIX_RANK={rank}".encode() in f.read().split(b"\0"):
                    return pid
        except OSError:
            continue
    return None


def test_a_lost_node_stops_the_job_and_is_named(build, transports):
    for name in transports:
        p = start(build, "-N", "2", "-t", name, "/bin/sh", "-c", "echo started; sleep 600")
        try:
            assert p.stdout.readline() == "started\n"
            job = job_of(p)
            victim = node_pid(job, 1)
            assert victim, "node 1's dragon-node should be running"
            t0 = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            _, err = p.communicate(timeout=15)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                p.communicate(timeout=15)
        assert p.returncode != 0
        assert time.monotonic() - t0 < 10
        assert "node 1" in err, err
        assert job_processes(job) == []


def test_simulated_nodes_share_the_machines_cpus(build):
    usable = len(os.sched_getaffinity(0))
    for nodes in (1, 2):
        r = dragon(build, "-N", str(nodes), "/bin/sh", "-c", "echo $DRAGON_JOB_CPUS")
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"{max(usable, nodes)}\n", (nodes, r.stdout)


def our_namespaces(frontend_pid):
    if not os.path.isdir("/run/netns"):
        return []
    return [n for n in os.listdir("/run/netns") if n.startswith(f"dgn-{frontend_pid}-")]


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@needs_root
@pytest.mark.parametrize("nodes", [2, 4])
def test_separate_hosts_mode_gives_every_node_its_own_address_and_name(build, transports, nodes):
    for name in transports:
        p = start(build, "-N", str(nodes), "-t", name, "-l", "debug", "/bin/sh", "-c",
                  "hostname; ip -4 -o addr show dev eth0", DRAGON_LAUNCHER_LOCAL_NETNS="1")
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        hostname = os.uname().nodename[:40]
        lines = out.splitlines()
        assert lines[0] == f"{hostname}-n0", out
        assert " 10.200." in lines[1], out
        hosts = {line.split(" on host ")[1] for line in err.splitlines() if " on host " in line}
        assert hosts == {f"{hostname}-n{k}" for k in range(nodes)}, err
        assert err.count(f"transport {name} connected to {nodes - 1} peer(s)") == nodes, err
        assert our_namespaces(p.pid) == [], "the launcher must remove its namespaces"


@needs_root
def test_separate_hosts_mode_a_lost_node_stops_the_job(build):
    p = start(build, "-N", "2", "-t", "tcp", "/bin/sh", "-c", "echo started; sleep 600",
              DRAGON_LAUNCHER_LOCAL_NETNS="1")
    try:
        assert p.stdout.readline() == "started\n"
        assert len(our_namespaces(p.pid)) == 3  # two hosts and the bridge
        victim = node_pid(job_of(p), 1)
        assert victim
        os.kill(victim, signal.SIGKILL)
        _, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=15)
    assert p.returncode != 0 and "node 1" in err, err
    assert our_namespaces(p.pid) == []


@needs_root
def test_namespaces_of_a_killed_frontend_are_removed_by_cleanup(build):
    p = start(build, "-N", "2", "/bin/sh", "-c", "echo started; sleep 600",
              DRAGON_LAUNCHER_LOCAL_NETNS="1")
    assert p.stdout.readline() == "started\n"
    job = job_of(p)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    deadline = time.monotonic() + 10
    while job_processes(job) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert our_namespaces(p.pid), "the namespaces outlive a SIGKILLed frontend"
    stale = len(our_namespaces(p.pid))
    r = dragon_cleanup(build)
    assert f"network namespace dgn-{p.pid}-" in r.stdout, r.stdout
    assert our_namespaces(p.pid) == []
    # The summary counts namespaces under their own name, not as directories.
    summary = re.search(r"removed (\d+) process\(es\), (\d+) segment\(s\), (\d+) "
                        r"directory\(ies\) and (\d+) network namespace\(s\)", r.stdout)
    assert summary, r.stdout
    assert int(summary.group(4)) >= stale, r.stdout
    removed_dirs = r.stdout.count(" directory ")
    assert int(summary.group(3)) == removed_dirs, r.stdout


def dragon_cleanup(build):
    return run([str(build / "bin" / "dragon-cleanup")])


def test_a_pinned_port_with_simulated_nodes_on_one_host(build):
    r = dragon(build, "-N", "3", "-t", "tcp", "--port", "23456", "-l", "info", "true")
    assert r.returncode == 0, r.stderr
    assert "node k listens on port 23456+k" in r.stderr
    r = dragon(build, "-N", "3", "-t", "tcp", "--port", "65535", "true")
    assert r.returncode != 0 and "needs ports up to 65537" in r.stderr, r.stderr
