"""A consumer whose only producer died is not left waiting unnoticed (issue 15): after
DRAGON_STUCK_WAIT_WARNING seconds, a Queue.get() or Connection.recv() without a
timeout on a channel no other process holds any more says so on stderr, and goes on
waiting as stock's does (here until the test interrupts it)."""

import signal
import subprocess
import time

import pytest

import harness


@pytest.mark.parametrize("kind,what", [("queue", "Queue.get()"), ("pipe", "Connection.recv")])
def test_a_wait_nothing_can_end_is_reported(build, kind, what):
    env = harness.env_for(build)
    env["DRAGON_STUCK_WAIT_WARNING"] = "1"
    p = subprocess.Popen([str(build / "bin" / "dragon"), str(harness.PROGRAMS / "stuck_wait.py"),
                          kind], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline() == "waiting\n"
        time.sleep(2.5)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert f"in {what}" in err and "no other process holds any more" in err, err
    assert err.count("nothing can ever arrive") == 1, err
    assert p.returncode == 130


def test_a_wait_another_process_can_end_is_not_reported(build):
    r = harness.run_program(build, "stuck_wait.py", "late", timeout=60,
                            env={"DRAGON_STUCK_WAIT_WARNING": "0.3"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "late but sent\n"
    assert "nothing can ever arrive" not in r.stderr
