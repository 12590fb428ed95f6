"""Bring-up under several nodes: what the job starts on each node."""

import json
import os

from conftest import run
from test_dragon_cli import no_leftover_processes  # noqa: F401

PROGRAMS = os.path.join(os.path.dirname(__file__), "programs")


def test_nodes_start_their_warm_server_when_a_process_first_asks(build):
    r = run([str(build / "bin" / "dragon"), "-N", "4", "warm_servers.py"], cwd=PROGRAMS,
            timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got == {"before": [0], "after": [0, 2], "exitcode": 0}, got
