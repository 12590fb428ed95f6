"""The pbs_pals launcher in a fake PBS job: PBS_JOBID, a PBS_NODEFILE written here, and
PALS' mpiexec played by the stand-in tests/pbs/mpiexec (which takes PALS' flags and
starts the ranks under a real PMIx server, Open MPI's mpirun). There is no PBS or PALS
on these machines: every "host" of the node file is this machine, and the stand-in only
counts the host names. What is tested is the launcher's side: finding the job, the
mpiexec command line, wiring up through a PMIx server it does not host, the whole-step
result, signals through mpiexec, and what it says when the job is not right."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, run, terminal_session

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "programs"))
import harness  # noqa: E402
from test_node_faults import comm_of, environ_of, marked  # noqa: E402

STANDIN = REPO / "tests" / "pbs" / "mpiexec"
PROGRAM = os.path.join(os.path.dirname(__file__), "programs", "slurm_job.py")
ACROSS = os.path.join(os.path.dirname(__file__), "programs", "across_nodes.py")
TEARDOWN_LIMIT = 5.0
needs_standin = pytest.mark.skipif(
    shutil.which("mpirun") is None,
    reason="the PALS stand-in serves PMIx through Open MPI's mpirun: install openmpi-bin "
           "(ci/install-deps.sh)")


@pytest.fixture
def job(build, tmp_path):
    """A fake PBS job of two hosts with one slot each; returns its environment."""
    nodefile = tmp_path / "nodefile"
    nodefile.write_text("pbs-n1\npbs-n2\n")
    env = harness.env_for(build, PBS_JOBID="1234.pbs-server", PBS_NODEFILE=nodefile,
                          DRAGON_LAUNCHER_PBS_PALS_MPIEXEC=STANDIN,
                          STANDIN_MPIEXEC_LOG=tmp_path / "mpiexec.log")
    for name in ("SLURM_JOB_ID", "SLURM_JOBID", "NCPUS"):
        env.pop(name, None)
    return env


def dragon(build):
    return str(build / "bin" / "dragon")


def wired(stderr):
    return {int(m.group(1)) for m in re.finditer(r"wired up as node (\d+) of \d+", stderr)}


def job_processes(env):
    """Processes of the fake job still running: every one (mpiexec, mpirun, the ranks'
    keepers, dragon-nodes, the program's processes) inherits its PBS_NODEFILE."""
    return marked(f"PBS_NODEFILE={env['PBS_NODEFILE']}")


def test_outside_a_pbs_job_pbs_pals_is_unavailable_and_says_why(build):
    env = {k: v for k, v in harness.env_for(build).items() if not k.startswith("PBS_")}
    r = run([str(build / "bin" / "dragon-info")], env=env)
    assert re.search(r"launcher +pbs_pals .*\n.*\n.*\n +unavailable: pbs_pals launcher: not "
                     r"inside a PBS job \(PBS_JOBID is not set\)", r.stdout), r.stdout
    r = run([dragon(build), "-w", "pbs_pals", "true"], env=env)
    assert r.returncode != 0
    assert "not inside a PBS job" in r.stderr and "qsub" in r.stderr, r.stderr


def test_dragon_info_inside_a_job_chooses_pbs_pals_and_names_hosts_and_cpus(build, job):
    r = run([str(build / "bin" / "dragon-info")], env=job)
    assert r.returncode == 0, r.stderr
    assert "selected launcher plugin 'pbs_pals' automatically (priority 45" in r.stdout, r.stdout
    assert ("Allocation (launcher pbs_pals):\n  2 node(s): pbs-n1,pbs-n2\n  CPUs per node: 1,1\n"
            "  from PBS job 1234.pbs-server") in r.stdout, r.stdout
    assert f"nodes start with {STANDIN}" in r.stdout


def test_with_both_a_slurm_allocation_and_a_pbs_job_slurm_wins_and_w_picks_pbs(build, job,
                                                                                 tmp_path):
    srun = tmp_path / "srun"
    srun.write_text("#!/bin/sh\nexit 1\n")
    srun.chmod(0o755)
    env = dict(job, SLURM_JOB_ID="77", SLURM_JOB_NODELIST="s1", DRAGON_LAUNCHER_SLURM_SRUN=srun)
    r = run([str(build / "bin" / "dragon-info")], env=env)
    assert "selected launcher plugin 'slurm' automatically (priority 50" in r.stdout, r.stdout
    assert re.search(r"launcher +pbs_pals .* available \(priority 45\)", r.stdout), r.stdout
    r = run([str(build / "bin" / "dragon-info")], env=dict(env, DRAGON_LAUNCHER="pbs_pals"))
    assert "Allocation (launcher pbs_pals):" in r.stdout, r.stdout


@needs_standin
def test_a_program_runs_on_every_host_and_its_exit_code_comes_back(build, job, tmp_path):
    r = run([dragon(build), "-l", "debug", PROGRAM, "3"], env=job, timeout=90)
    assert r.returncode == 3, r.stderr
    assert "selected launcher plugin 'pbs_pals' automatically" in r.stderr
    assert wired(r.stderr) == {0, 1}, r.stderr
    # Each node counts what PBS gave it (one slot each), not the machine's CPUs.
    assert "nodes 2 cpus 2 cpu_count 2\n" in r.stdout, r.stdout
    line = (tmp_path / "mpiexec.log").read_text().splitlines()[0]
    assert line.startswith("mpiexec --np 2 --ppn 1 --cpu-bind none --hosts pbs-n1,pbs-n2 "
                           "--pmi=pmix --line-buffer "), line
    assert f"{build}/bin/dragon-node " in line
    assert job_processes(job) == []


@needs_standin
def test_ncpus_or_the_parameter_sets_each_nodes_cpus(build, job):
    r = run([dragon(build), PROGRAM], env=dict(job, NCPUS="2"), timeout=90)
    assert r.returncode == 0, r.stderr
    assert "nodes 2 cpus 4 cpu_count 4\n" in r.stdout, r.stdout
    assert "does not read it" not in r.stderr, r.stderr  # what it passes the nodes is known
    env = dict(job, NCPUS="1", DRAGON_LAUNCHER_PBS_PALS_NODE_CPUS="2")
    r = run([dragon(build), PROGRAM], env=env, timeout=90)
    assert r.returncode == 0, r.stderr
    assert "nodes 2 cpus 4 cpu_count 4\n" in r.stdout, r.stdout
    r = run([str(build / "bin" / "dragon-info")], env=env)
    assert "CPUs per node: 2,2\n  from PBS job 1234.pbs-server (PBS_NODEFILE" in r.stdout, r.stdout
    assert "CPUs from DRAGON_LAUNCHER_PBS_PALS_NODE_CPUS" in r.stdout, r.stdout


def across(build, env, case):
    r = run([dragon(build), env["DRAGON_PYTHON"], ACROSS, case], env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@needs_standin
def test_processes_queues_locks_and_pools_span_both_nodes(build, job):
    got = across(build, job, "spread")
    assert got["nodes"] == [0, 1] and got["exitcodes"] == [0] * len(got["pids"])
    got = across(build, job, "sync")
    assert got["total"] == got["expected"] and got["event"] is True
    assert got["barrier_nodes"] == [0, 1]
    got = across(build, job, "pools")
    assert got["sum"] == got["expected"]


def end_a_waiting_job(build, job, end):
    """Starts the program's "wait" case, calls end(process) once every node is up, and
    returns (exit code, stderr, seconds from end() to the job's exit)."""
    p = subprocess.Popen([dragon(build), PROGRAM, "wait"], env=job, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        ready = p.stdout.readline()
        assert ready.startswith("ready"), ready
        t0 = time.monotonic()
        end(p)
        p.wait(timeout=15)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, p.stderr.read(), took


@needs_standin
def test_sigint_to_dragon_ends_every_node_within_5_s(build, job, tmp_path):
    code, err, took = end_a_waiting_job(build, job, lambda p: p.send_signal(signal.SIGINT))
    assert code == 130, err
    assert took < TEARDOWN_LIMIT, f"teardown took {took:.2f} s"
    assert job_processes(job) == []


@needs_standin
def test_a_node_that_dies_ends_the_job_with_an_error_naming_it(build, job):
    def kill_node_1(_):
        victims = [pid for pid in job_processes(job)
                   if comm_of(pid) == "dragon-node" and b"PMIX_RANK=1" in environ_of(pid)]
        assert len(victims) == 1, victims
        os.kill(victims[0], signal.SIGKILL)

    code, err, took = end_a_waiting_job(build, job, kill_node_1)
    assert code != 0, err
    assert "lost node 1 (" in err, err  # node 0 names it
    assert took < TEARDOWN_LIMIT, f"the job took {took:.2f} s to end"
    assert job_processes(job) == []


@needs_standin
def test_the_override_runs_the_sites_command_line(build, job, tmp_path):
    env = dict(job, DRAGON_LAUNCHER_PBS_PALS_MPIEXEC_OVERRIDE=f"{STANDIN} -n {{nnodes}} "
               "--hosts {nodelist} --label {command}")
    r = run([dragon(build), "-l", "debug", PROGRAM, "4"], env=env, timeout=90)
    assert r.returncode == 4, r.stderr
    assert wired(r.stderr) == {0, 1}, r.stderr
    line = (tmp_path / "mpiexec.log").read_text().splitlines()[0]
    assert line.startswith("mpiexec -n 2 --hosts pbs-n1,pbs-n2 --label "), line
    assert line.endswith(f"{PROGRAM} 4"), line


@needs_standin
def test_minus_n_takes_the_first_hosts(build, job, tmp_path):
    (tmp_path / "nodefile").write_text("pbs-n1\npbs-n2\npbs-n3\n")
    r = run([dragon(build), "-N", "2", "-l", "debug", PROGRAM], env=job, timeout=90)
    assert r.returncode == 0, r.stderr
    assert wired(r.stderr) == {0, 1}, r.stderr
    assert "--hosts pbs-n1,pbs-n2 " in (tmp_path / "mpiexec.log").read_text()


def test_more_nodes_than_the_job_has_is_an_error_before_anything_starts(build, job, tmp_path):
    r = run([dragon(build), "-N", "3", PROGRAM], env=job, timeout=60)
    assert r.returncode != 0
    assert "3 nodes asked, but PBS job 1234.pbs-server has 2 (pbs-n1,pbs-n2" in r.stderr, r.stderr
    assert "-N" in r.stderr and "select=3" in r.stderr, r.stderr
    assert not (tmp_path / "mpiexec.log").exists()


def test_a_missing_node_file_is_named(build, job, tmp_path):
    env = dict(job, PBS_NODEFILE=str(tmp_path / "gone"))
    r = run([dragon(build), "-w", "pbs_pals", PROGRAM], env=env, timeout=60)
    assert r.returncode != 0
    assert f"cannot read its node file PBS_NODEFILE={tmp_path / 'gone'}" in r.stderr, r.stderr
    r = run([dragon(build), PROGRAM, "5"], env=env, timeout=60)  # automatic: not chosen
    assert "pbs_pals" not in r.stderr or "selected launcher plugin 'local'" in r.stderr


def test_an_mpiexec_not_found_is_named_with_the_fix(build, job):
    env = dict(job, DRAGON_LAUNCHER_PBS_PALS_MPIEXEC="/nonexistent/mpiexec")
    r = run([dragon(build), "-w", "pbs_pals", PROGRAM], env=env, timeout=60)
    assert r.returncode != 0
    assert "inside PBS job 1234.pbs-server, but mpiexec ('/nonexistent/mpiexec') is not found" \
        in r.stderr, r.stderr
    assert "DRAGON_LAUNCHER_PBS_PALS_MPIEXEC to its path" in r.stderr
    env = dict(job, DRAGON_LAUNCHER_PBS_PALS_MPIEXEC_OVERRIDE="no-such-mpiexec -n {nnodes}")
    r = run([dragon(build), "-w", "pbs_pals", PROGRAM], env=env, timeout=60)
    assert r.returncode != 0
    assert "mpiexec ('no-such-mpiexec') is not found: fix the first word of " \
        "DRAGON_LAUNCHER_PBS_PALS_MPIEXEC_OVERRIDE" in r.stderr, r.stderr


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="no mpiexec on PATH to refuse")
def test_another_mpis_mpiexec_on_path_is_not_taken_for_pals(build, job):
    env = dict(job)
    del env["DRAGON_LAUNCHER_PBS_PALS_MPIEXEC"]  # Open MPI's mpiexec comes first on PATH
    r = run([str(build / "bin" / "dragon-info")], env=env)
    assert "selected launcher plugin 'local' automatically" in r.stdout, r.stdout
    assert f"mpiexec on PATH ({shutil.which('mpiexec')}" in r.stdout, r.stdout
    assert "is not PALS' (not under a pals directory)" in r.stdout, r.stdout
    r = run([dragon(build), "-w", "pbs_pals", "true"], env=env)
    assert r.returncode != 0 and "module load cray-pals" in r.stderr, r.stderr


def test_a_bad_override_placeholder_is_named(build, job):
    env = dict(job, DRAGON_LAUNCHER_PBS_PALS_MPIEXEC_OVERRIDE=f"{STANDIN} --np {{nodes}}")
    r = run([dragon(build), PROGRAM], env=env, timeout=60)
    assert r.returncode != 0
    assert "'{nodes}'" in r.stderr and "{nnodes}, {nodelist}, {command}" in r.stderr, r.stderr


@needs_standin
def test_stdin_from_a_pipe_reaches_node_0(build, job):
    r = run([dragon(build), "sh", "-c", 'read l; echo "read: [$l]"'], env=job, input="one\n",
            timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "read: [one]\n", r.stdout


@needs_standin
@pytest.mark.skipif(not shutil.which("script"), reason="needs script(1) for a terminal")
def test_from_a_terminal_stdin_reaches_node_0_and_ctrl_c_stops_the_job(build, job, tmp_path):
    """dragon typed at the shell of `qsub -I`: what is typed reaches the head program
    (mpiexec reads the terminal), Ctrl-C reaches mpiexec and dragon, the job ends."""
    script = tmp_path / "session.sh"
    script.write_text(f"{dragon(build)} sh -c 'read l; echo \"read: [$l]\"; exec sleep 30'\n"
                      "echo \"dragon exit $?\"\n")
    took, session = terminal_session(script, job)
    assert took < TEARDOWN_LIMIT, f"teardown took {took:.2f} s"
    assert b"without a status" not in session.seen, session.seen  # each rank ended by itself
    assert job_processes(job) == []
