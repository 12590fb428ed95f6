"""A stock multiprocessing program under `dragon -N 2` and `-N 4`: its processes land on
every node (round-robin), and queues, pipes, locks, events, barriers, pools and process
control work with their users on different nodes; in both simulated-node modes (shared
loopback, and each node a separate host in its own network namespace)."""

import json
import os

import pytest

from conftest import clean_env, run
from test_dragon_cli import no_leftover_processes  # noqa: F401

PROGRAM = os.path.join(os.path.dirname(__file__), "programs", "across_nodes.py")
MODES = ["loopback", "netns"]


def job_env(mode):
    if mode == "netns" and os.geteuid() != 0:
        pytest.skip("separate-host nodes (network namespaces) need root")
    return clean_env(**({"DRAGON_LAUNCHER_LOCAL_NETNS": "1"} if mode == "netns" else {}))


def start_across(build, nodes, mode, case, **extra_env):
    """The program's `case` under dragon -N nodes, running (for tests that act on it)."""
    import subprocess
    env = job_env(mode)
    env.update(extra_env)
    return subprocess.Popen([str(build / "bin" / "dragon"), "-N", str(nodes), env["DRAGON_PYTHON"],
                             PROGRAM, case], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def across(build, nodes, mode, case, timeout=120, **extra_env):
    env = job_env(mode)
    env.update(extra_env)
    r = run([str(build / "bin" / "dragon"), "-N", str(nodes), env["DRAGON_PYTHON"], PROGRAM,
             case], env=env, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", MODES)
def test_transport_library_logs_stay_out_of_the_programs_output(build, mode):
    # UCX (hsta's library) logs to stdout by default, and a node's stdout is the
    # program's: a refused connect at teardown once split a JSON line of this file.
    env = job_env(mode)
    env.update(DRAGON_TRANSPORT_AGENT="hsta", UCX_LOG_LEVEL="debug")
    r = run([str(build / "bin" / "dragon"), "-N", "2", env["DRAGON_PYTHON"], PROGRAM, "spread"],
            env=env, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "UCX" in r.stderr  # it did log, where it belongs
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["nodes"] == [0, 1], r.stdout[:2000]


@pytest.mark.parametrize("mode", MODES)
def test_a_good_run_ends_without_transport_errors(build, mode):
    # A node that closed its UCP endpoint to a peer as soon as the peer said BYE made
    # UCX answer the peer's next keepalive check with a new connection to it, refused
    # when the peer had gone: UCX ERROR lines after a good run. Keepalive checks every
    # 10 ms make that race likely in every run (it was in 7 of 10 with the old order).
    env = job_env(mode)
    env.update(DRAGON_TRANSPORT_AGENT="hsta", UCX_KEEPALIVE_INTERVAL="0.01s")
    for _ in range(3):
        r = run([str(build / "bin" / "dragon"), "-N", "4", env["DRAGON_PYTHON"], PROGRAM,
                 "spread"], env=env, timeout=120)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert "ERROR" not in r.stderr and "error" not in r.stderr, r.stderr[-3000:]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nodes", [2, 4])
def test_processes_land_on_every_node(build, nodes, mode):
    got = across(build, nodes, mode, "spread")
    assert got["nodes"] == list(range(nodes))
    if mode == "netns":
        assert len(got["hosts"]) == nodes  # separate hosts: each its own host name
        # and CPUs of their own (one each, in turn, when there are fewer CPUs than nodes)
        cpus = sorted(os.sched_getaffinity(0))
        per_node = [got["cpus_of_node"][str(k)] for k in range(nodes)]
        if len(cpus) >= nodes:
            assert sorted(c for node in per_node for c in node) == cpus, per_node
        else:
            assert per_node == [[cpus[k % len(cpus)]] for k in range(nodes)], per_node
    assert len(set(got["pids"])) == len(got["pids"])
    assert got["exitcodes"] == [0] * len(got["pids"])
    # a remote child's pid names its node
    assert sorted({pid >> 22 for pid in got["pids"]}) == list(range(nodes))
    # one machine: the nodes' waiters count their polling in one table of the job's
    [(table, exists)] = got["polling_tables"]
    assert table.startswith("dragon-j") and table.endswith("-polling") and exists, table


def test_separate_hosts_may_share_the_cpus(build):
    got = across(build, 2, "netns", "spread", DRAGON_LAUNCHER_LOCAL_OWN_CPUS="0")
    cpus = sorted(os.sched_getaffinity(0))
    assert got["cpus_of_node"] == {"0": cpus, "1": cpus}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nodes", [2, 4])
def test_locks_events_barriers_semaphores_across_nodes(build, nodes, mode):
    got = across(build, nodes, mode, "sync")
    assert got["total"] == got["expected"]
    assert got["event"] is True
    assert got["barrier_nodes"] == list(range(nodes))
    assert set(got["exitcodes"]) == {0}


@pytest.mark.parametrize("mode", MODES)
def test_pipes_across_nodes(build, mode):
    got = across(build, 2, mode, "pipes")
    assert got == {"echo_ok": True, "ready_before": False, "wait_found_conn": True,
                   "big": 3 << 20, "eof": True, "exitcode": 0, "child_node": 1}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nodes", [2, 4])
def test_pool_and_executor_across_nodes(build, nodes, mode):
    got = across(build, nodes, mode, "pools")
    assert got["sum"] == got["expected"]
    assert got["ex_sum"] == sum(x * x for x in range(50))


@pytest.mark.parametrize("mode", MODES)
def test_simplequeue_getters_on_other_nodes_take_no_read_lock(build, mode):
    # Pool's workers on other nodes: a get() is one round trip to the owner node, not
    # three (read lock, receive, unlock); Pool's drain at terminate() stays safe.
    got = across(build, 2, mode, "simplequeue_read_lock")
    assert got == {"drained_empty": None, "empty_took_under_1s": True,
                   "remote_got": ["for the remote getter", 1], "drained": "for the holder",
                   "after": "after", "exitcode": 0}


@pytest.mark.parametrize("mode", MODES)
def test_remote_process_control(build, mode):
    got = across(build, 2, mode, "lifecycle")
    assert got["alive"] is True
    assert got["join_timeout_ok"] is True
    assert got["terminated"] == -15
    assert got["killed"] == -9
    assert got["held"] == 0
    assert got["name"] == "remote-sleeper"
    assert got["nodes"][0] == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_remote_childs_traceback_reaches_stderr_with_its_node(build, mode):
    env = job_env(mode)
    r = run([str(build / "bin" / "dragon"), "-N", "2", "--verbose-label", env["DRAGON_PYTHON"],
             PROGRAM, "remote_exception"], env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.strip().splitlines()[-1]
    assert json.loads(out[out.index("] ") + 2:]) == {"exitcode": 1, "node": 1}, r.stdout
    lines = [line for line in r.stderr.splitlines() if line.startswith("[stderr node 1 ")]
    assert any(line.endswith("] Traceback (most recent call last):") for line in lines), r.stderr
    assert any(line.endswith("] RuntimeError: a failure on node 1") for line in lines), r.stderr


@pytest.mark.parametrize("mode", MODES)
def test_children_signalled_right_after_start_are_joined(build, mode):
    got = across(build, 2, mode, "killed_at_birth")
    assert got["codes"] == [-15, -9]
    assert got["nodes"] == [0, 1]
    assert got["pools"] == 8


@pytest.mark.parametrize("mode", MODES)
def test_remote_get_keeps_its_deadline(build, mode):
    got = across(build, 2, mode, "timeouts")
    assert got["node"] == 1
    assert 0.4 <= got["waited"] < 5
    assert got["nowait"] == "empty"
    assert got["exitcode"] == 0


def lose_node_1_while_the_head_waits(p, lose):
    """`p` runs a program that waits on node 1 (its case prints "ready <job>" first);
    lose(p) makes node 1 lost. The head's wait must fail naming the node, and the job
    end, within 10 s, leaving nothing behind. Returns the job's stderr."""
    import time
    from test_node_faults import marked
    try:
        ready = p.stdout.readline().split()
        assert ready[:1] == ["ready"], p.communicate(timeout=30)
        job = ready[1]
        time.sleep(0.3)  # the head is waiting on node 1 now
        lost_at = time.monotonic()
        lose(job)
        out, err = p.communicate(timeout=30)
        ended_after = time.monotonic() - lost_at
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    got = json.loads(out.strip().splitlines()[-1])
    assert got["error"] and "node 1" in got["error"] and "lost" in got["error"], got
    assert got["after"] < 10 + 0.3
    assert ended_after < 10
    assert p.returncode != 0
    assert "node 1" in err, err
    assert marked(f"DRAGON_JOB_ID={job}") == []
    assert [n for n in os.listdir("/dev/shm") if n.startswith(f"dragon-{job}-")] == []
    return err


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ["node_loss", "value_loss"])
def test_a_lost_node_fails_the_waits_on_it_and_ends_the_job(build, mode, case):
    """A queue get waiting on node 1, or reads of a Value that lives there."""
    import signal
    from test_node_faults import comm_of, environ_of, marked

    def kill_node_1(job):
        node = [pid for pid in marked(f"DRAGON_JOB_ID={job}")
                if comm_of(pid) == "dragon-node" and b"DRAGON_NODE_INDEX=1" in environ_of(pid)]
        assert len(node) == 1, node
        os.kill(node[0], signal.SIGKILL)
    lose_node_1_while_the_head_waits(start_across(build, 2, mode, case), kill_node_1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lanes", ["on", "off"])
def test_operations_take_the_lane_and_keep_their_order(build, mode, lanes):
    """Sends and receives of small and large messages, on the process's lane to the
    owner node or through its own node: whole, and in the order sent, both ways."""
    got = across(build, 2, mode, "lanes", DRAGON_LANES=lanes)
    assert got["in_order"] is True
    assert got["back_in_order"] is True
    assert got["lanes"] == ([0] if lanes == "on" else [])
    assert got["value"] == 1 and got["exitcode"] == 0


@pytest.mark.parametrize("lanes", ["on", "off"])
def test_a_node_cut_off_the_network_is_lost_within_10_s(build, lanes):
    """Node 1's link goes down (its host vanishes without closing anything): the head's
    wait on node 1 fails naming the node, and the job ends, within 10 s. hsta over TCP
    sees nothing of it; the nodes' own heartbeats (and a lane's keepalive) do."""
    import glob
    import subprocess
    p = start_across(build, 2, "netns", "node_loss", DRAGON_LANES=lanes)

    def cut_node_1_off(job):
        hosts = glob.glob(f"/run/netns/dgn-{p.pid}-*-h1")
        assert len(hosts) == 1, hosts
        subprocess.run(["ip", "netns", "exec", os.path.basename(hosts[0]), "ip", "link", "set",
                        "eth0", "down"], check=True)
    err = lose_node_1_while_the_head_waits(p, cut_node_1_off)
    assert "lost node 1" in err, err


@pytest.mark.parametrize("mode", MODES)
def test_a_socket_connection_moves_within_its_node_only(build, mode):
    """A socket Connection sent to a running process (its fd handed over by
    multiprocessing.resource_sharer): usable on its node, a clear error elsewhere."""
    got = across(build, 2, mode, "socket_connections")
    assert got["0"] == "hello from 1"
    assert got["1"].startswith("ValueError: a file descriptor"), got
    assert "on node 1 cannot be used by this process on node 0" in got["1"], got


@pytest.mark.parametrize("mode", MODES)
def test_managers_shared_memory_and_values(build, mode):
    got = across(build, 2, mode, "shared")
    assert got["proxy_nodes"] == [0, 1]  # proxies used from both nodes
    assert "lives on node 0" in got["shm"] and "runs on node 1" in got["shm"], got["shm"]
    assert got["value"] == 2 and got["value_nodes"] == [0, 1]  # in the pool: placed as any
    assert set(got["exitcodes"]) == {0}
    if mode == "netns":
        assert got["manager_host"].startswith("10.200."), got  # reachable from other hosts


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nodes", [2, 4])
def test_policy_and_machine(build, nodes, mode):
    got = across(build, nodes, mode, "policy")
    assert got["placed"] == [[k, k] for k in range(nodes)]
    assert got["local"] == [0, 0]
    assert got["nnodes"] == nodes and got["primary"] is True
    assert sum(got["cpus"]) == got["cpu_count"] == got["mp_cpu_count"]
    # simulated nodes share the machine's CPUs: divided (at least one each), never
    # multiplied
    assert got["cpu_count"] <= max(nodes, len(os.sched_getaffinity(0)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("signum,code", [(2, 130), (15, 143)])
def test_signal_tears_down_four_nodes_within_5_s(build, mode, signum, code):
    import time
    from test_node_faults import marked
    p = start_across(build, 4, mode, "wait_forever")
    try:
        line = p.stdout.readline()
        assert line.startswith("ready"), line + p.communicate(timeout=30)[1]
        job = line.split()[1]
        assert "[0, 1, 2, 3]" in line  # waiting on every node
        t0 = time.monotonic()
        p.send_signal(signum)
        p.communicate(timeout=15)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == code
    assert took < 5
    assert marked(f"DRAGON_JOB_ID={job}") == []
    assert [n for n in os.listdir("/dev/shm") if n.startswith(f"dragon-{job}-")] == []


def interrupted(build, mode, nodes, program):
    """Runs tests/python/programs/<program> under dragon -N nodes, sends SIGINT to
    dragon once the program said "ready"; returns (exit code, stdout after it, stderr)."""
    import subprocess
    env = job_env(mode)
    path = os.path.join(os.path.dirname(__file__), "programs", program)
    p = subprocess.Popen([str(build / "bin" / "dragon"), "-N", str(nodes), env["DRAGON_PYTHON"],
                          path], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(2)
        out, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    return p.returncode, out, err


def test_an_early_ctrl_c_prints_no_traceback_of_ours(build):
    # A Ctrl-C that came while the nodes' warm servers still imported the package made
    # each print a KeyboardInterrupt traceback; a program that handles it says nothing.
    import time
    for _ in range(3):
        code, _, err = interrupted(build, "loopback", 4, "quiet_interrupt.py")
        assert code == 130
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        time.sleep(0.2)


@pytest.mark.parametrize("mode", MODES)
def test_one_ctrl_c_is_one_sigint_for_the_program(build, mode):
    # The frontend signalled each node's whole process group and dragon-node relayed
    # the signal as well: the head program got two SIGINTs for one Ctrl-C.
    _, out, err = interrupted(build, mode, 2, "count_interrupts.py")
    assert "interrupts 1\n" in out, out + err


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nodes", [2, 4])
def test_values_and_arrays_across_nodes(build, nodes, mode):
    got = across(build, nodes, mode, "values")
    c = got["counter"]
    assert c["total"] == c["expected"]  # += under get_lock() from every node: exact
    assert c["nodes"] == list(range(nodes)) and set(c["exitcodes"]) == {0}
    wrote_on, length, around, stepped = got["wrote"]
    assert wrote_on == nodes - 1 and length == 1000
    assert around == [0.0, 0.0, 0.0, 1.0]
    assert stepped == [-1.0, 0.0, 0.0, 0.0]
    (buffer, read_on, block, last, head, chars, raw4, direct, raw_value, via_obj, chars_iterated,
     iterated, iterated_len) = got["read"]
    assert buffer in ("TypeError", "BufferError")  # BufferError saying why from 3.12 on
    assert chars_iterated == ["f", "r", "o", "m"]  # iterating gives items, as ctypes' does
    assert iterated == [0.0, 1.0, 2.0] and iterated_len == 1000
    assert direct == [3, 4]
    assert read_on == 1
    assert block == [float(i) for i in range(100)] and last == -1.0
    assert head == [0.0, 7.0, 0.0, 7.0, 0.0, 7.0, 0.0, 7.0, 0.0, 0.0]
    assert chars == f"from node {nodes - 1}" and raw4 == "from"
    assert raw_value == 42
    assert via_obj == [95.0, 96.0, 97.0, 98.0, 99.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert got["here"] == [50.0, 50.0, -1.0, f"from node {nodes - 1}", 42]
    assert got["points"] == [[2.25, 4.0], [9.0, 0.25], [4.0, -4.0]]
    assert got["exitcodes"] == [0, 0]


@pytest.mark.parametrize("mode", MODES)
def test_remote_synchronized_accesses_wait_for_the_lock(build, mode):
    got = across(build, 2, mode, "locked")
    assert got == {"first": 5, "during": 0, "after": 7, "written": "written", "exitcode": 0}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nodes", [2, 4])
def test_values_locks_events_sent_through_a_queue(build, nodes, mode):
    got = across(build, nodes, mode, "sent")
    assert got["rows"] == [[1, 1], [1, 2, 1], [1, 3, 3, 1]]
    assert got["ready"] is True and got["node"] == nodes - 1
    assert got["back"] == 7.25 and got["same_type"] == "Synchronized"
    assert got["exitcode"] == 0


@pytest.mark.parametrize("mode", MODES)
def test_values_made_in_a_loop_give_their_memory_back(build, mode):
    # An 8 MiB pool: the 6,000 objects would take about 12 MiB if none were freed.
    got = across(build, 2, mode, "churn", DRAGON_DEFAULT_SEG_SZ="8M")
    assert got["made"] == 6000 and got["capacity"] <= 8 << 20
    assert got["after"] <= got["before"], got
    assert got["exitcode"] == 0
