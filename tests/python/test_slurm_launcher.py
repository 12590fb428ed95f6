"""The slurm launcher under a real multi-node Slurm (tests/slurm/slurm_cluster.py: one
slurmd per network namespace, each node with its own address, host name and /dev/shm):
`salloc -N K dragon prog.py` and an sbatch script bring up a dragon-node on every node,
the program's output and exit code reach the user, SIGINT to dragon and scancel of the
job tear everything down within 5 s, and nothing of the job remains on any node.
The program's processes land on every node (tests/python/programs/across_nodes.py: Queue,
Lock, Event, Barrier, Pool and ProcessPoolExecutor with their users on different hosts)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import run, terminal_session

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "slurm"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "programs"))
import harness  # noqa: E402
import slurm_cluster  # noqa: E402

PROGRAM = os.path.join(os.path.dirname(__file__), "programs", "slurm_job.py")
ACROSS = os.path.join(os.path.dirname(__file__), "programs", "across_nodes.py")
WHY = slurm_cluster.unavailable_reason()
needs_cluster = pytest.mark.skipif(bool(WHY), reason="Slurm test cluster: " + (WHY or "ok"))
TEARDOWN_LIMIT = 5.0


@pytest.fixture(scope="module")
def cluster2():
    if WHY:
        pytest.skip("Slurm test cluster: " + WHY)
    with slurm_cluster.SlurmCluster(nodes=2) as c:
        yield c


@pytest.fixture(scope="module")
def cluster4():
    if WHY:
        pytest.skip("Slurm test cluster: " + WHY)
    with slurm_cluster.SlurmCluster(nodes=4) as c:
        yield c


def job_env(build, cluster):
    return cluster.env(harness.env_for(build))


def dragon(build):
    return str(build / "bin" / "dragon")


def wired_hosts(stderr):
    """node index -> host, from every dragon-node's debug line."""
    return {int(m.group(1)): m.group(2) for m in
            re.finditer(r"wired up as node (\d+) of \d+ in \S+ on host (\S+)", stderr)}


def job_leftovers(cluster, deadline=3.0):
    """Processes of a dragon job, and dragon segments, still on any node. Slurm reaps the
    step's processes asynchronously, so this looks until clean or `deadline`."""
    until = time.monotonic() + deadline
    while True:
        left = []
        for k in range(cluster.nodes):
            left += [f"node {k}: {cmd}" for _, cmd in cluster.node_processes(k)
                     if "dragon" in cmd or "slurm_job.py" in cmd]
            left += [f"node {k}: /dev/shm/{n}" for n in cluster.node_shm(k)
                     if n.startswith("dragon-")]
        if not left or time.monotonic() > until:
            return left
        time.sleep(0.1)


def test_outside_an_allocation_slurm_is_unavailable_and_says_why(build):
    env = {k: v for k, v in harness.env_for(build).items() if not k.startswith("SLURM_")}
    r = run([str(build / "bin" / "dragon-info")], env=env)
    assert re.search(r"launcher +slurm .*\n.*\n.*\n +unavailable: slurm launcher: not inside "
                     r"a Slurm allocation", r.stdout), r.stdout
    assert "Allocation (launcher local):" in r.stdout
    assert "  not slurm: slurm launcher: not inside a Slurm allocation" in r.stdout, r.stdout
    r = run([dragon(build), "-w", "slurm", "true"], env=env)
    assert r.returncode != 0
    assert "not inside a Slurm allocation" in r.stderr and "salloc" in r.stderr, r.stderr


@needs_cluster
def test_salloc_brings_up_every_node_and_returns_the_programs_code(build, cluster2):
    r = run(["salloc", "-N", "2", dragon(build), "-l", "debug", PROGRAM, "3"],
            env=job_env(build, cluster2), timeout=60)
    assert r.returncode == 3, r.stderr
    assert "selected launcher plugin 'slurm' automatically" in r.stderr
    # One dragon-node on each node of the allocation, each on its own host.
    assert wired_hosts(r.stderr) == dict(enumerate(cluster2.node_names)), r.stderr
    # Each node counts the CPUs Slurm granted it (1 here), not the machine's.
    first = cluster2.node_names[0]
    assert f"pool 285 head {first} nodes 2 cpus 2 cpu_count 2\n" in r.stdout, r.stdout
    assert job_leftovers(cluster2) == []


@needs_cluster
def test_dragon_info_inside_an_allocation_names_slurm_hosts_and_cpus(build, cluster2):
    r = run(["salloc", "-N", "2", str(build / "bin" / "dragon-info")],
            env=job_env(build, cluster2), timeout=60)
    assert r.returncode == 0, r.stderr
    assert "selected launcher plugin 'slurm' automatically" in r.stdout, r.stdout
    hosts = ",".join(cluster2.node_names)
    assert f"Allocation (launcher slurm):\n  2 node(s): {hosts}\n  CPUs per node: 1,1\n" \
        in r.stdout, r.stdout


@needs_cluster
def test_the_nodes_count_slurms_grant(build, cluster2):
    r = run(["salloc", "-N", "2", "--cpus-per-task=2", dragon(build), PROGRAM],
            env=job_env(build, cluster2), timeout=60)
    assert r.returncode == 0, r.stderr
    assert "nodes 2 cpus 4 cpu_count 4\n" in r.stdout, r.stdout


def wait_for_job_end(cluster, job, limit=30.0):
    """Until squeue shows job `job` no more or in a final state (sbatch --wait polls
    only every few seconds)."""
    until = time.monotonic() + limit
    while time.monotonic() < until:
        r = run(["squeue", "--noheader", "--jobs", job, "--format=%T"], env=cluster.env())
        if r.stdout.strip() in ("", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"):
            return
        time.sleep(0.1)
    pytest.fail(f"job {job} did not end within {limit} s")


@needs_cluster
def test_sbatch_script_runs_dragon(build, cluster2, tmp_path):
    os.chmod(tmp_path, 0o755)
    script, out = tmp_path / "job.sh", tmp_path / "job.out"
    script.write_text(f"#!/bin/sh\n{dragon(build)} -l debug {PROGRAM} 5\necho \"dragon exit $?\"\n")
    r = run(["sbatch", "--parsable", "-N", "2", "-o", str(out), str(script)],
            env=job_env(build, cluster2))
    assert r.returncode == 0, r.stderr
    wait_for_job_end(cluster2, r.stdout.strip().split(";")[0])
    text = out.read_text()
    assert text.endswith("dragon exit 5\n"), text
    assert wired_hosts(text) == dict(enumerate(cluster2.node_names)), text
    assert f"pool 285 head {cluster2.node_names[0]} nodes 2" in text, text
    assert job_leftovers(cluster2) == []


@needs_cluster
def test_more_nodes_than_allocated_is_an_error_before_anything_starts(build, cluster2):
    r = run(["salloc", "-N", "2", dragon(build), "-l", "debug", "-N", "3", PROGRAM],
            env=job_env(build, cluster2), timeout=60)
    assert r.returncode != 0
    assert "3 nodes asked, but Slurm job" in r.stderr and "has 2" in r.stderr, r.stderr
    assert "-N" in r.stderr and "salloc -N 3" in r.stderr
    assert wired_hosts(r.stderr) == {}


def start_waiting_job(build, cluster, nodes):
    """salloc running dragon on a program that waits; returns (salloc, dragon pid, job id)
    once the program's processes run."""
    p = subprocess.Popen(["salloc", "-N", str(nodes), "sh", "-c",
                          f'echo "frontend $$" >&2; exec {dragon(build)} {PROGRAM} wait'],
                         env=job_env(build, cluster), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    frontend = job = None
    for line in p.stderr:
        if m := re.search(r"Granted job allocation (\d+)", line):
            job = m.group(1)
        if m := re.match(r"frontend (\d+)", line):
            frontend = int(m.group(1))
            break
    ready = p.stdout.readline()
    assert ready.startswith("ready"), ready + p.stderr.read()
    return p, frontend, job


def parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def finish(p):
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail("salloc did not end within 10 s")
    return p.stdout.read(), p.stderr.read()


@needs_cluster
def test_sigint_to_dragon_ends_every_node_within_5_s(build, cluster2):
    p, frontend, _ = start_waiting_job(build, cluster2, 2)
    t0 = time.monotonic()
    os.kill(frontend, signal.SIGINT)
    out, err = finish(p)
    took = time.monotonic() - t0
    assert p.returncode == 130, err
    assert took < TEARDOWN_LIMIT, f"teardown took {took:.2f} s"
    assert job_leftovers(cluster2) == []


@needs_cluster
def test_one_sigint_to_dragon_is_one_sigint_for_the_program(build, cluster2):
    counting = os.path.join(os.path.dirname(__file__), "programs", "count_interrupts.py")
    p = subprocess.Popen(["salloc", "-N", "2", "sh", "-c",
                          f'echo "frontend $$" >&2; exec {dragon(build)} {counting}'],
                         env=job_env(build, cluster2), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    frontend = None
    for line in p.stderr:
        if m := re.match(r"frontend (\d+)", line):
            frontend = int(m.group(1))
            break
    assert p.stdout.readline() == "ready\n"
    os.kill(frontend, signal.SIGINT)
    out, err = finish(p)
    assert "interrupts 1\n" in out, out + err


@needs_cluster
def test_scancel_of_the_job_ends_dragon_within_5_s(build, cluster2):
    p, _, job = start_waiting_job(build, cluster2, 2)
    t0 = time.monotonic()
    subprocess.run(["scancel", job], env=cluster2.env(), check=True, timeout=10)
    out, err = finish(p)
    took = time.monotonic() - t0
    assert p.returncode != 0, err
    assert took < TEARDOWN_LIMIT, f"teardown took {took:.2f} s"
    assert job_leftovers(cluster2) == []


@needs_cluster
def test_four_nodes_and_a_subset_of_them(build, cluster4):
    env = job_env(build, cluster4)
    r = run(["salloc", "-N", "4", dragon(build), "-l", "debug", PROGRAM], env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert wired_hosts(r.stderr) == dict(enumerate(cluster4.node_names)), r.stderr
    assert "nodes 4 cpus 4" in r.stdout, r.stdout
    r = run(["salloc", "-N", "4", dragon(build), "-l", "debug", "-N", "2", PROGRAM], env=env,
            timeout=60)
    assert r.returncode == 0, r.stderr
    hosts = wired_hosts(r.stderr)
    assert sorted(hosts) == [0, 1] and set(hosts.values()) <= set(cluster4.node_names), r.stderr
    assert len(set(hosts.values())) == 2
    assert job_leftovers(cluster4) == []


def across(build, cluster, case):
    env = job_env(build, cluster)
    n = str(cluster.nodes)
    r = run(["salloc", "-N", n, dragon(build), env["DRAGON_PYTHON"], ACROSS, case], env=env,
            timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@needs_cluster
def test_processes_queues_locks_and_pools_span_the_allocation(build, cluster2):
    got = across(build, cluster2, "spread")
    assert got["hosts"] == cluster2.node_names  # each process reports its own host
    assert got["nodes"] == [0, 1] and got["exitcodes"] == [0] * len(got["pids"])
    got = across(build, cluster2, "sync")
    assert got["total"] == got["expected"] and got["event"] is True
    assert got["barrier_nodes"] == [0, 1]
    got = across(build, cluster2, "pools")
    assert got["sum"] == got["expected"] and "ex_sum" in got
    assert job_leftovers(cluster2) == []


@needs_cluster
def test_processes_land_on_all_four_nodes(build, cluster4):
    got = across(build, cluster4, "spread")
    assert got["hosts"] == cluster4.node_names
    assert job_leftovers(cluster4) == []


@needs_cluster
def test_a_node_that_dies_ends_the_job_with_an_error_naming_it(build, cluster2):
    p, _, _ = start_waiting_job(build, cluster2, 2)
    # The daemon itself (the step's task, not its watchdog, which then cleans up the node).
    stepd = [pid for pid, cmd in cluster2.node_processes(1) if cmd.startswith("slurmstepd")]
    victims = [pid for pid, cmd in cluster2.node_processes(1)
               if cmd.split()[0].endswith("/dragon-node") and parent(pid) in stepd]
    assert len(victims) == 1, cluster2.node_processes(1)
    t0 = time.monotonic()
    os.kill(victims[0], signal.SIGKILL)
    out, err = finish(p)
    took = time.monotonic() - t0
    assert p.returncode != 0, err
    host = cluster2.node_names[1]
    # srun names the node; so does node 0 ("lost node 1 (host)"), or the head program's
    # wait on a process that was there, whichever sees it first.
    assert f"srun: error: {host}: task 1: Killed" in err, err
    assert "node 1" in err.replace(f"srun: error: {host}: task 1", ""), err
    assert took < TEARDOWN_LIMIT, f"the job took {took:.2f} s to end"
    assert job_leftovers(cluster2) == []


@needs_cluster
def test_the_launcher_conformance_suite_passes_for_slurm(build, cluster2):
    """The suite every launcher passes (tests/wireup/launcher_conformance_test.cpp), for
    slurm inside a 2-node allocation (outside one, ctest skips it with the reason)."""
    r = run(["salloc", "-N", "2", str(build / "tests" / "bin" / "launcher_conformance"),
             "--gtest_filter=*/slurm"], env=job_env(build, cluster2), timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "[  PASSED  ] 9 tests." in r.stdout, r.stdout[-3000:]
    assert "SKIPPED" not in r.stdout, r.stdout[-3000:]
    assert job_leftovers(cluster2) == []


@needs_cluster
def test_every_nodes_output_arrives_whole_and_labelled_and_stdin_reaches_node_0(build, cluster2):
    program = os.path.join(os.path.dirname(__file__), "programs", "slurm_output.py")
    env = job_env(build, cluster2)
    r = run(["salloc", "-N", "2", dragon(build), "--verbose-label", env["DRAGON_PYTHON"],
             program], env=env, input="one\ntwo\n", timeout=60)
    assert r.returncode == 0, r.stderr
    hosts = cluster2.node_names
    label = re.compile(r"\[(stdout|stderr) node (\d) (\S+) pid \d+\] (.*)")
    lines = {}
    for stream, text in (("stdout", r.stdout), ("stderr", r.stderr)):
        for line in text.splitlines():
            m = label.fullmatch(line)
            if not m:
                continue
            assert m.group(1) == stream
            node, host, body = int(m.group(2)), m.group(3), m.group(4)
            assert host == hosts[node], line  # the label names the node that printed it
            if body.startswith("p"):
                number, where = body.split()[:2]
                assert where == host, line  # from a process on that node
                lines.setdefault((number, stream), []).append(body)
            elif body.startswith("stdin:"):
                assert node == 0
                lines.setdefault(("stdin", stream), []).append(body)
    for k in range(4):
        out = lines[(f"p{k}", "stdout")]
        host = out[0].split()[1]
        assert out == [f"p{k} {host} line {i} " + "x" * 100 for i in range(200)]  # whole, in order
        assert lines[(f"p{k}", "stderr")] == [f"p{k} {host} to stderr"]
    assert {lines[(f"p{k}", "stdout")][0].split()[1] for k in range(4)} == set(hosts)
    assert lines[("stdin", "stdout")] == ["stdin: one", "stdin: two"]


@needs_cluster
@pytest.mark.skipif(not shutil.which("script"), reason="needs script(1) for a terminal")
def test_from_a_terminal_stdin_reaches_node_0_and_ctrl_c_stops_the_job(build, cluster2, tmp_path):
    """dragon typed at a shell inside an allocation (salloc --no-shell, then dragon in the
    terminal's foreground): what is typed reaches the head program, Ctrl-C ends the job."""
    os.chmod(tmp_path, 0o755)
    script = tmp_path / "session.sh"
    script.write_text(f"""
job=$(salloc -N 2 --no-shell 2>&1 | sed -n 's/.*Granted job allocation \\([0-9]*\\).*/\\1/p')
export SLURM_JOB_ID=$job SLURM_JOB_NODELIST=$(squeue -h -j $job -o %N)
{dragon(build)} sh -c 'read l; echo "read: [$l]"; exec sleep 30'
echo "dragon exit $?"
scancel $job
""")
    took, _ = terminal_session(script, job_env(build, cluster2))
    assert took < TEARDOWN_LIMIT, f"teardown took {took:.2f} s"
    assert job_leftovers(cluster2) == []
