"""Faults of the runtime's own processes: a dragon-node or a warm server killed
under a running job (issue 15, "a dying daemon takes its processes with it")."""

import os
import signal
import subprocess
import time

import pytest

import harness
from conftest import run

PROGRAMS = harness.PROGRAMS


def environ_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def marked(entry):
    """Live processes whose environment holds `entry` (NAME=VALUE)."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and entry.encode() in environ_of(p)]


def start_job(build, *args):
    return subprocess.Popen([str(build / "bin" / "dragon"), *args], env=harness.env_for(build),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("nodes,victim", [(1, 0), (2, 0), (2, 1)])
def test_killed_node_takes_its_processes_with_it(build, nodes, victim):
    p = start_job(build, "-N", str(nodes), str(PROGRAMS / "node_fault.py"))
    try:
        ready = p.stdout.readline().split()
        assert ready[:1] == ["ready"], p.communicate(timeout=30)
        job = ready[1]
        pool = f"DRAGON_NODE_POOL=dragon-{job}-pool-n{victim}"
        node = [pid for pid in marked(f"DRAGON_JOB_ID={job}")
                if comm_of(pid) == "dragon-node"
                and f"DRAGON_NODE_INDEX={victim}".encode() in environ_of(pid)]
        assert len(node) == 1, node
        processes = marked(pool)
        assert processes, "the node should have started processes"
        os.kill(node[0], signal.SIGKILL)
        deadline = time.monotonic() + 2
        while marked(pool) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marked(pool) == [], "every process of the killed node ends within 2 s"
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode != 0
    assert f"dragon-node {victim} was killed by signal 9 (SIGKILL" in err, err
    assert marked(f"DRAGON_JOB_ID={job}") == []
    assert [n for n in os.listdir("/dev/shm") if n.startswith(f"dragon-{job}-")] == []


def test_killed_warm_server_is_restarted_and_children_keep_their_state(build):
    r = harness.run_program(build, "warm_server_killed.py", timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["running child exitcode 3", "later child exitcode 5",
                                     "pool [0, 1, 4, 9, 16]"], r.stdout + r.stderr
    assert "starting a new one" in r.stderr


def test_warm_server_that_keeps_dying_makes_starts_fail_at_once(build):
    if harness.mode(build) != "dragon":
        pytest.skip("needs dragon-node, which restarts the warm server")
    r = harness.run_program(build, "warm_server_killed.py", "exhaust", timeout=60)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith("start failed after 0.") and "warm server of this node is gone" in line, \
        r.stdout + r.stderr
    assert "Python processes can no longer start on this node" in r.stderr
