"""A job's names and files against other jobs and other users on the same machine
(issue 15: "another user on the same machine", "dragon-cleanup never touches a live
job"). The other-user cases run as a second, unprivileged user this module creates
and removes; they need root to do that and are skipped otherwise."""

import os
import pathlib
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import time

import pytest

from conftest import clean_env, run
from test_dragon_cli import job_of, job_processes, start

TMP = pathlib.Path(os.environ.get("TMPDIR", "/tmp"))


def dragon(build, *args, env=None, timeout=60):
    return run([str(build / "bin" / "dragon"), *args], env=env or clean_env(), timeout=timeout)


def test_job_ids_are_fresh_and_unpredictable(build):
    ids = [dragon(build, "/bin/sh", "-c", "echo $DRAGON_JOB_ID").stdout.strip() for _ in range(2)]
    for job in ids:
        assert re.fullmatch(r"j\d+r[0-9a-f]{12}", job), job
    assert ids[0][-12:] != ids[1][-12:]


def test_preset_job_id_is_replaced_and_says_so(build):
    r = dragon(build, "-l", "info", "/bin/sh", "-c", "echo $DRAGON_JOB_ID",
               env=clean_env(DRAGON_JOB_ID="mine"))
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"j\d+r[0-9a-f]{12}", r.stdout.strip())
    assert "DRAGON_JOB_ID='mine' is replaced" in r.stderr


def test_cleanup_never_touches_a_live_job_whatever_its_environment(build):
    # The job's frontend started with DRAGON_JOB_ID set: cleanup once took it for dead.
    p = start(build, "/bin/sh", "-c", "echo started; sleep 600", DRAGON_JOB_ID="mine")
    try:
        assert p.stdout.readline() == "started\n"
        job = job_of(p)
        r = run([str(build / "bin" / "dragon-cleanup")])
        assert r.returncode == 0
        assert f"job {job}: still running, left alone" in r.stdout, r.stdout
        time.sleep(0.2)
        assert p.poll() is None, "dragon-cleanup ended a running job"
        assert job_processes(job)
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    assert p.returncode == 143


def test_segments_are_0600_and_directories_0700(build):
    r = dragon(build, "/bin/sh", "-c",
               'stat -c "%a %F %n" /dev/shm/dragon-$DRAGON_JOB_ID-* '
               '"${TMPDIR:-/tmp}"/dragon-$DRAGON_JOB_ID-*')
    assert r.returncode == 0, r.stderr
    modes = [line.split(" ", 1) for line in r.stdout.splitlines()]
    segments = [m for m, rest in modes if rest.startswith("regular")]
    directories = [m for m, rest in modes if rest.startswith("directory")]
    assert segments and directories, r.stdout
    assert set(segments) == {"600"} and set(directories) == {"700"}, r.stdout


# ------------------------------------------------------------ another user


@pytest.fixture
def other_user():
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second user")
    name = "dragont" + secrets.token_hex(4)
    subprocess.run(["useradd", "-M", "-U", "-s", "/usr/sbin/nologin", name], check=True,
                   capture_output=True, timeout=60)
    entry = pwd.getpwnam(name)
    made = []
    try:
        yield entry, made
    finally:
        for path in made:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        subprocess.run(["userdel", name], capture_output=True, timeout=60)


def as_user(entry, *cmd):
    return subprocess.run(list(cmd), user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                          capture_output=True, text=True, timeout=60, cwd="/")


def test_another_user_cannot_block_jobs_by_creating_their_names_first(build, other_user):
    entry, made = other_user
    with open("/proc/sys/kernel/ns_last_pid") as f:
        last = int(f.read())
    # The names jobs of the next pids would have used when job ids were j<pid>.
    names = [f"/dev/shm/dragon-j{pid}-pool-n0" for pid in range(last + 1, last + 400)]
    made.extend(names)
    r = as_user(entry, "touch", *names)
    assert r.returncode == 0, r.stderr
    for _ in range(3):
        job = dragon(build, "/bin/sh", "-c", "echo ran")
        assert job.returncode == 0 and job.stdout == "ran\n", job.stderr
    assert all(os.stat(n).st_uid == entry.pw_uid for n in names), "another user's file was removed"


def test_a_job_never_removes_a_segment_it_did_not_create(build, other_user):
    entry, made = other_user
    p = subprocess.Popen([str(build / "bin" / "dragon"), "/bin/sh", "-c",
                          "echo $DRAGON_JOB_ID; read line"], env=clean_env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    job = p.stdout.readline().strip()
    intruder = f"/dev/shm/dragon-{job}-intruder"
    made.append(intruder)
    r = as_user(entry, "touch", intruder)
    assert r.returncode == 0, r.stderr
    out, err = p.communicate("go\n", timeout=30)
    assert p.returncode == 0, err
    assert os.path.exists(intruder), "the job removed another user's file: " + err
    assert "intruder" not in err
    cleanup = run([str(build / "bin" / "dragon-cleanup")])
    assert "intruder" not in cleanup.stdout and os.path.exists(intruder)


# --------------------------------------------- the PMIx server against other users

FAKE_UID_SOURCE = r"""
#include <sys/types.h>
/* What a user can do to any dynamically linked client: claim to be someone else. */
uid_t getuid(void) { return OWNER_UID; }
uid_t geteuid(void) { return OWNER_UID; }
gid_t getgid(void) { return OWNER_GID; }
gid_t getegid(void) { return OWNER_GID; }
"""


def node_pmix_environment(job):
    """The PMIx variables of node 0 of `job`: everything an intruder could hope to
    learn (its namespace, rank and server address), read here as root."""
    for pid in job_processes(job):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "dragon-node":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                entries = f.read().decode().split("\0")
        except OSError:
            continue
        env = dict(e.split("=", 1) for e in entries if e.startswith("PMIX_"))
        if env.get("PMIX_RANK") == "0":
            return env
    raise AssertionError(f"no node 0 of job {job} found")


def start_waiting_job(build):
    """A job whose head program waits for a line on stdin, then says "done"."""
    p = subprocess.Popen([str(build / "bin" / "dragon"), "/bin/sh", "-c",
                          "echo started; read line; echo done"], env=clean_env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "started\n"
    return p, job_of(p)


def finish(p, seconds=20):
    """Lets the job end; it must end normally and at once."""
    start = time.monotonic()
    out, err = p.communicate("go\n", timeout=seconds)
    return out, err, time.monotonic() - start


@pytest.fixture
def intruder_dir(other_user, tmp_path):
    """A directory the other user may write its client's results into, and a copy of
    the PMIx test client it can execute (the build tree may not be readable to it)."""
    entry, _ = other_user
    where = pathlib.Path("/tmp") / ("pmix-intruder-test-" + secrets.token_hex(6))
    where.mkdir(mode=0o755)
    try:
        yield where
    finally:
        subprocess.run(["rm", "-rf", str(where)], timeout=60)


def run_intruder(build, entry, where, pmix_env, misbehave="", preload=None):
    """Runs the wire-up test client as the other user with the job's PMIx variables."""
    client = where / "client"
    if not client.exists():
        shutil.copy(build / "tests" / "bin" / "wireup_test_node", client)
        client.chmod(0o755)
    out = where / "out"
    out.mkdir(mode=0o777, exist_ok=True)
    out.chmod(0o777)
    env = {"PATH": "/usr/bin:/bin", "WIREUP_TEST_OUT": str(out),
           "WIREUP_TEST_DEADLINE_MS": "5000", **pmix_env}
    if misbehave:
        env["WIREUP_TEST_MISBEHAVE"] = misbehave
    if preload:
        env["LD_PRELOAD"] = str(preload)
    r = subprocess.run([str(client)], user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                       env=env, capture_output=True, text=True, timeout=60, cwd="/")
    results = "".join(f.read_text() for f in out.glob("rank*.result"))
    return r, results


def test_another_user_cannot_join_and_the_job_ends_normally(build, other_user, intruder_dir):
    # Before: refused, but the job's dragon then hung in PMIx_server_finalize (4 of 4).
    entry, _ = other_user
    p, job = start_waiting_job(build)
    try:
        pmix_env = node_pmix_environment(job)
        r, results = run_intruder(build, entry, intruder_dir, pmix_env, misbehave="*:abort")
        assert r.returncode != 0, "another user's client joined the job: " + results
        out, err, took = finish(p)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=30)
    assert p.returncode == 0 and out == "done\n", (out, err)
    assert f"refused a connection from uid {entry.pw_uid}" in err, err
    assert took < 10, f"the job took {took:.1f} s to end"
    assert job_processes(job) == []


def test_a_client_faking_the_owners_uid_is_not_a_rank(build, other_user, intruder_dir):
    # Before: a preloaded geteuid() returning the owner's uid was accepted as rank 0,
    # could read the job's data and end the job with PMIx_Abort.
    entry, _ = other_user
    source = intruder_dir / "fake_uid.c"
    source.write_text(FAKE_UID_SOURCE.replace("OWNER_UID", str(os.getuid()))
                      .replace("OWNER_GID", str(os.getgid())))
    fake = intruder_dir / "fake_uid.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(fake), str(source)], check=True,
                   timeout=60)
    fake.chmod(0o755)
    p, job = start_waiting_job(build)
    try:
        pmix_env = node_pmix_environment(job)
        r, results = run_intruder(build, entry, intruder_dir, pmix_env, misbehave="*:abort",
                                  preload=fake)
        assert r.returncode != 0, "a client faking its uid joined the job: " + results
        assert p.poll() is None, "the intruder ended the job"
        out, err, took = finish(p)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=30)
    assert p.returncode == 0 and out == "done\n", (out, err)
    assert f"refused a connection from uid {entry.pw_uid}" in err, err
    assert "PMIx_Abort" not in err, err
    assert took < 10, f"the job took {took:.1f} s to end"


def test_a_silent_connection_cannot_stall_the_job(build, other_user):
    # A connection that never says anything (as a port scanner's) to the PMIx server.
    entry, _ = other_user
    p, job = start_waiting_job(build)
    lurker = None
    try:
        port = node_pmix_environment(job)["PMIX_SERVER_URI41"].rsplit(":", 1)[1]
        lurker = subprocess.Popen(
            ["/usr/bin/python3", "-c",
             "import socket, sys, time\n"
             f"s = socket.create_connection(('127.0.0.1', {port}))\n"
             "print('connected', flush=True)\n"
             "time.sleep(60)\n"],
            user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], stdout=subprocess.PIPE,
            text=True, cwd="/")
        assert lurker.stdout.readline() == "connected\n"
        time.sleep(0.5)
        out, err, took = finish(p)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=30)
        if lurker:
            lurker.kill()
            lurker.wait(timeout=30)
    assert p.returncode == 0 and out == "done\n", (out, err)
    assert f"refused a connection from uid {entry.pw_uid}" in err, err
    assert took < 10, f"the job took {took:.1f} s to end"


def test_the_pmix_namespace_is_not_guessable(build):
    names = []
    for _ in range(2):
        p, job = start_waiting_job(build)
        try:
            nspace = node_pmix_environment(job)["PMIX_NAMESPACE"]
            visible = " ".join(os.listdir("/dev/shm") + os.listdir(TMP))
            finish(p)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate(timeout=30)
        # Nothing another user can see names it: not the job id, not the frontend's pid.
        assert job not in nspace and str(p.pid) not in nspace, nspace
        assert nspace not in visible
        names.append(nspace)
    assert names[0] != names[1]
    assert re.fullmatch(r"dragon\.[0-9a-f]{32}\.\d+", names[0]), names[0]


def test_a_process_the_launch_did_not_start_is_not_a_rank(build, tmp_path):
    # Same uid, real credentials, the right namespace and rank: still not one of the
    # processes the launcher started, so it never reaches PMIx (it would have been
    # rank 0 before, and its PMIx_Abort would have ended the job).
    p, job = start_waiting_job(build)
    try:
        env = {"PATH": "/usr/bin:/bin", "WIREUP_TEST_OUT": str(tmp_path),
               "WIREUP_TEST_DEADLINE_MS": "3000", "WIREUP_TEST_MISBEHAVE": "*:abort",
               **node_pmix_environment(job)}
        r = subprocess.run([str(build / "tests" / "bin" / "wireup_test_node")], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, "a process the launch did not start joined the job"
        assert p.poll() is None, "the stranger ended the job"
        out, err, took = finish(p)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=30)
    assert p.returncode == 0 and out == "done\n", (out, err)
    assert "PMIx_Abort" not in err, err
    assert took < 10, f"the job took {took:.1f} s to end"


def test_a_program_the_job_runs_still_reaches_pmix(build, tmp_path):
    # A node's programs inherit its PMIx variables (an MPI program under dragon calls
    # PMIx_Init with them): they are the job's own processes, so the gate lets them
    # through as it lets the nodes.
    r = run([str(build / "bin" / "dragon"), str(build / "tests" / "bin" / "wireup_test_node")],
            env=clean_env(WIREUP_TEST_OUT=str(tmp_path), WIREUP_TEST_DEADLINE_MS="5000"))
    assert r.returncode == 0, r.stderr + "".join(f.read_text() for f in tmp_path.glob("*"))
    assert "refused" not in r.stderr, r.stderr
