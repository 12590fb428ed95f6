"""The Slurm test cluster itself (tests/slurm/slurm_cluster.py): K real slurmds, each a
separate host (own address, host name and /dev/shm), and nothing left after teardown.
The Slurm launcher's tests rely on exactly these properties."""

import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "slurm"))
import slurm_cluster  # noqa: E402

pytestmark = pytest.mark.skipif(bool(slurm_cluster.unavailable_reason()),
                                reason="Slurm test cluster: " +
                                (slurm_cluster.unavailable_reason() or "available"))


def leftovers(cluster_pid, names):
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [line for line in netns.splitlines() if line.startswith(f"dsl{cluster_pid}")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [line for line in links.splitlines() if f"dsl{cluster_pid}" in line]
    with open("/etc/hosts") as f:
        hosts = f.read()
    found += [n for n in names if n in hosts]
    return found


@pytest.mark.parametrize("nodes", [2, 4])
def test_nodes_are_separate_hosts_and_leave_nothing(nodes):
    cluster = slurm_cluster.SlurmCluster(nodes=nodes)
    with cluster:
        names = list(cluster.node_names)
        env = cluster.env()
        out = subprocess.run(
            ["srun", "-N", str(nodes), "--mpi=pmix", "sh", "-c",
             'echo "$(hostname) $SLURM_NODEID $(ip -4 -o addr show dev eth0 | '
             'awk \'{print $4}\')"; touch /dev/shm/slurm-cluster-probe-$(hostname)'],
            env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        rows = sorted(line.split() for line in out.stdout.splitlines())
        assert [r[0] for r in rows] == sorted(names)
        assert sorted(int(r[1]) for r in rows) == list(range(nodes))
        assert len({r[2] for r in rows}) == nodes  # an address of its own
        for k, name in enumerate(names):
            # Each node sees only what was made on it: its own tmpfs /dev/shm.
            assert cluster.node_shm(k) == [f"slurm-cluster-probe-{name}"]
        assert not any(p.name.startswith("slurm-cluster-probe-")
                       for p in pathlib.Path("/dev/shm").iterdir())
        workdir = cluster.dir
    assert leftovers(os.getpid(), names) == []
    assert not os.path.exists(workdir)
