"""A job's names and files against other jobs and other users on the same machine
(issue 15: "another user on the same machine", "dragon-cleanup never touches a live
job"). The other-user cases run as a second, unprivileged user this module creates
and removes; they need root to do that and are skipped otherwise."""

import os
import pathlib
import pwd
import re
import secrets
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
