#!/usr/bin/python3
"""A real multi-node Slurm on one machine, for the Slurm launcher's tests.

Each Slurm node is a network namespace of its own (own address on a bridge, own host
name, own tmpfs /dev/shm, as on a real cluster); slurmctld runs in the caller's (root)
namespace on an address the root namespace holds on that bridge, so `salloc`, `sbatch`
and `srun` work from where a user types them. munged is private (own key and socket).
Everything is torn down on every exit path: daemons by pid, processes left in the
namespaces, the namespaces, the /etc/hosts block, the directory.

Needs root, slurm-wlm, munge and iproute2 (ci/install-deps.sh installs them).

    python3 tests/slurm/slurm_cluster.py run --nodes 2 -- salloc -N 2 hostname
    python3 tests/slurm/slurm_cluster.py sweep     # what killed runs left behind

In Python:

    with SlurmCluster(nodes=2) as cluster:
        subprocess.run(["srun", "-N", "2", "hostname"], env=cluster.env())
"""

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Namespace, interface and /etc/hosts names of this harness start with this; the pid of
# the process that made them follows, so a sweep can tell leftovers from live clusters.
TAG = "dsl"
HOSTS_FILE = "/etc/hosts"
HOSTS_BEGIN = "# dragon slurm test cluster {tag} begin"
HOSTS_END = "# dragon slurm test cluster {tag} end"
SLURM_BINARIES = ("slurmctld", "slurmd", "srun", "salloc", "sbatch", "scancel", "squeue")
DAEMON_START_DEADLINE = 15.0
STOP_DEADLINE = 5.0


def unavailable_reason():
    """Empty when a cluster can be brought up here; else why not (for pytest.skip)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, /etc/hosts, slurmd)"
    missing = [b for b in SLURM_BINARIES + ("munged", "munge", "ip", "nsenter", "unshare")
               if shutil.which(b) is None]
    if missing:
        return "missing " + ", ".join(missing) + " (run ci/install-deps.sh)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (install the munge package)"
    return ""


def _run(args, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=20, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _free_port():
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _netns_pids(name):
    r = _run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in r.stdout.split()] if r.returncode == 0 else []


def _kill_netns_processes(name, deadline):
    """TERM, then KILL, whatever runs in namespace `name`, until none or the deadline."""
    sent_kill = False
    first = True
    while True:
        pids = [p for p in _netns_pids(name) if p != os.getpid()]
        if not pids:
            return
        now = time.monotonic()
        sig = signal.SIGTERM if first else signal.SIGKILL
        if first or (not sent_kill and now > deadline - STOP_DEADLINE / 2):
            for p in pids:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            sent_kill = sig == signal.SIGKILL
            first = False
        if now > deadline:
            return  # zombies of a late-reaping PID 1 still count; the namespace goes anyway
        time.sleep(0.05)


def _remove_hosts_block(tag):
    begin, end = HOSTS_BEGIN.format(tag=tag), HOSTS_END.format(tag=tag)
    try:
        with open(HOSTS_FILE) as f:
            lines = f.read().splitlines(keepends=True)
    except FileNotFoundError:
        return
    out, inside = [], False
    for line in lines:
        if line.strip() == begin:
            inside = True
        elif inside and line.strip() == end:
            inside = False
        elif not inside:
            out.append(line)
    if len(out) != len(lines):
        # Rewrite in place: /etc/hosts may be a bind mount that cannot be replaced.
        with open(HOSTS_FILE, "w") as f:
            f.writelines(out)


def _owner_pid(name):
    """The harness pid in a name of ours (dsl<pid>..., interface or namespace)."""
    digits = ""
    for ch in name[len(TAG):]:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else None


DIR_PREFIX = "slurm-test-cluster-"


def _dead_run_dirs(parent):
    """Directories of runs (slurm-test-cluster-<pid>-*) whose process is gone."""
    out = []
    try:
        names = os.listdir(parent)
    except OSError:
        return out
    for name in names:
        if name.startswith(DIR_PREFIX):
            digits = name[len(DIR_PREFIX):].split("-", 1)[0]
            if digits.isdigit() and not _pid_alive(int(digits)):
                out.append(os.path.join(parent, name))
    return out


def _processes_using(paths):
    """Pids whose command line names one of `paths` (the daemons of a run: every one of
    them is given its run's directory)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if any(p in cmd for p in paths):
            found.append(int(entry))
    return found


def sweep(parent=None):
    """Removes what runs of this harness whose process is gone left behind (a run killed
    by SIGKILL): their daemons, namespaces, links, /etc/hosts blocks and directories (in
    `parent`, default the temporary directory). Returns what it removed."""
    removed = []
    dirs = _dead_run_dirs(parent or tempfile.gettempdir())
    for pid in _processes_using(dirs):
        try:
            os.kill(pid, signal.SIGKILL)
            removed.append(f"process {pid}")
        except ProcessLookupError:
            pass
    r = _run(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = _owner_pid(name) if name.startswith(TAG) else None
        if pid and not _pid_alive(pid):
            _kill_netns_processes(name, time.monotonic() + 2)
            _run(["ip", "netns", "delete", name], check=False)
            removed.append("netns " + name)
    r = _run(["ip", "-o", "link", "show"], check=False)
    for line in r.stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            pid = _owner_pid(name) if name.startswith(TAG) else None
            if pid and not _pid_alive(pid):
                _run(["ip", "link", "delete", name], check=False)
                removed.append("link " + name)
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    try:
        with open(HOSTS_FILE) as f:
            for line in f:
                words = line.split()
                if line.startswith("# dragon slurm test cluster") and words[-1] == "begin":
                    pid = _owner_pid(words[-2])
                    if pid and not _pid_alive(pid):
                        _remove_hosts_block(words[-2])
                        removed.append(f"/etc/hosts block of {words[-2]}")
    except FileNotFoundError:
        pass
    return removed


class SlurmCluster:
    """K Slurm nodes in network namespaces plus slurmctld and munged. A context manager."""

    _made = 0  # clusters made by this process: each gets a letter of its own in its names

    def __init__(self, nodes=2, cpus_per_node=2, workdir=None):
        self.nodes = nodes
        self.cpus = cpus_per_node
        self.pid = os.getpid()
        # dsl<pid><letter>: names stay within Linux's 15 characters for interfaces.
        self.tag = f"{TAG}{self.pid}{chr(ord('a') + SlurmCluster._made % 26)}"
        SlurmCluster._made += 1
        self._parent_dir = workdir
        self.dir = None
        self.subnet = None
        self.node_names = []
        self.node_addresses = []
        self.netns = []
        self.bridge_ns = None
        self.controller_address = None
        self._procs = {}  # name -> Popen
        self._links = []  # root-namespace links to delete
        self._hosts_added = False
        self.startup_seconds = None
        self.conf = None

    # ---- public ----
    def env(self, base=None):
        """The environment Slurm's commands need (SLURM_CONF always: without it, Slurm
        looks its configuration up in DNS)."""
        e = dict(os.environ if base is None else base)
        e["SLURM_CONF"] = self.conf
        return e

    def start(self):
        why = unavailable_reason()
        if why:
            raise RuntimeError("cannot bring up a Slurm test cluster: " + why)
        sweep(self._parent_dir)
        begin = time.monotonic()
        try:
            self._make_dir()
            self._start_munge()
            self._make_network()
            self._add_hosts_block()
            self._write_conf()
            self._start_slurmctld()
            for k in range(self.nodes):
                self._start_slurmd(k)
            self._wait_nodes_idle()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - begin
        return self

    def stop(self):
        """Tears everything down; safe to call more than once and after a failed start."""
        deadline = time.monotonic() + STOP_DEADLINE
        if self.conf and "slurmctld" in self._procs:
            # Step processes ignore SIGTERM: end the jobs through Slurm first.
            _run(["scancel", "--full", "--quiet", "--partition=debug"], check=False,
                 env=self.env())
            _run(["scancel", "--quiet", "--partition=debug"], check=False, env=self.env())
        for ns in self.netns:
            _kill_netns_processes(ns, deadline)
        # Reverse order of start: munged last (the others may use it while they stop), and
        # briefly (it takes 2 s to stop on SIGTERM, and keeps nothing worth a clean stop).
        for name in reversed(list(self._procs)):
            end = min(deadline, time.monotonic() + 0.2) if name == "munged" else deadline
            self._stop_process(name, end)
        for ns in self.netns + ([self.bridge_ns] if self.bridge_ns else []):
            _run(["ip", "netns", "delete", ns], check=False)
        for link in self._links:
            _run(["ip", "link", "delete", link], check=False)
        self.netns, self.bridge_ns, self._links = [], None, []
        if self._hosts_added:
            _remove_hosts_block(self.tag)
            self._hosts_added = False
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def node_shm(self, k):
        """Names in node k's own /dev/shm (its private tmpfs), listed from inside."""
        return self.on_node(k, ["ls", "-1", "/dev/shm"]).stdout.split()

    def on_node(self, k, argv):
        """Runs argv "on" node k: in the namespaces of its slurmd (network, host name,
        mounts), as a process of that host would. Returns the CompletedProcess."""
        daemon = self._procs[f"slurmd{k}"]
        return _run(["nsenter", "-t", str(daemon.pid), "-n", "-u", "-m"] + argv, check=False)

    def node_processes(self, k):
        """(pid, command line) of every process in node k's namespace, slurmd excepted."""
        out = []
        daemon = self._procs.get(f"slurmd{k}")
        for pid in _netns_pids(self.netns[k]):
            if daemon and pid == daemon.pid:
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":  # a late-reaping PID 1 keeps dead daemons as zombies a while
                out.append((pid, cmd))
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- bring-up ----
    def _make_dir(self):
        self.dir = tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{self.pid}-", dir=self._parent_dir)
        os.chmod(self.dir, 0o755)  # munged (user munge) must reach its socket directory
        for sub in ("state", "log", "spool", "tmp"):
            os.makedirs(os.path.join(self.dir, sub))

    def _start_munge(self):
        mdir = os.path.join(self.dir, "munge")
        os.makedirs(mdir, mode=0o755)
        munge = pwd.getpwnam("munge")
        key = os.path.join(mdir, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        for path in (mdir, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)
        self.munge_socket = os.path.join(mdir, "munge.socket")
        self._spawn("munged", ["runuser", "-u", "munge", "--", "munged", "--foreground",
                               f"--socket={self.munge_socket}", f"--key-file={key}",
                               f"--pid-file={mdir}/munged.pid", f"--log-file={mdir}/munged.log",
                               f"--seed-file={mdir}/munged.seed"])
        # `munge -n` proves a live daemon (a zombie munged would fool a process check).
        self._wait(lambda: _run(["munge", "-n", f"--socket={self.munge_socket}"],
                                check=False).returncode == 0, "munged to answer", "munged")

    def _pick_subnet(self):
        used = _run(["ip", "-4", "route", "show"], check=False).stdout
        for i in range(254):
            x = (self.pid + i) % 250 + 1
            if f"10.201.{x}." not in used:
                return x
        raise RuntimeError("no free 10.201.X.0/24 subnet for the test cluster")

    def _make_network(self):
        self.subnet = self._pick_subnet()
        net = f"10.201.{self.subnet}"
        bridge_ns = f"{self.tag}br"
        _run(["ip", "netns", "add", bridge_ns])
        self.bridge_ns = bridge_ns  # ours to delete only once made
        _run(["ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", self.bridge_ns, "link", "set", "br0", "up"])
        # The root namespace's leg: where slurmctld listens and salloc's programs run.
        root_if, peer = f"{self.tag}r", f"{self.tag}rp"
        _run(["ip", "link", "add", root_if, "type", "veth", "peer", "name", peer])
        self._links.append(root_if)  # deleting one end of a veth pair deletes both
        _run(["ip", "link", "set", peer, "netns", self.bridge_ns])
        _run(["ip", "-n", self.bridge_ns, "link", "set", peer, "master", "br0", "up"])
        self.controller_address = f"{net}.254"
        _run(["ip", "addr", "add", f"{self.controller_address}/24", "dev", root_if])
        _run(["ip", "link", "set", root_if, "up"])
        for k in range(self.nodes):
            ns = f"{self.tag}n{k + 1}"
            _run(["ip", "netns", "add", ns])
            self.netns.append(ns)  # ours to delete only once made
            leg = f"{self.tag}v{k + 1}"
            _run(["ip", "link", "add", leg, "type", "veth", "peer", "name", "eth0",
                  "netns", ns])
            _run(["ip", "link", "set", leg, "netns", self.bridge_ns])
            _run(["ip", "-n", self.bridge_ns, "link", "set", leg, "master", "br0", "up"])
            address = f"{net}.{k + 1}"
            _run(["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0"])
            _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            self.node_names.append(f"s{self.subnet}n{k + 1}")
            self.node_addresses.append(address)

    def _add_hosts_block(self):
        # Node names must resolve where the user types salloc/srun.
        lines = [HOSTS_BEGIN.format(tag=self.tag)]
        lines += [f"{a} {n}" for a, n in zip(self.node_addresses, self.node_names)]
        lines.append(HOSTS_END.format(tag=self.tag))
        with open(HOSTS_FILE, "a") as f:
            f.write("\n".join(lines) + "\n")
        self._hosts_added = True

    def _write_conf(self):
        d = self.dir
        self.ctld_port = _free_port()
        node_lines = "\n".join(
            f"NodeName={n} NodeAddr={a} NodeHostname={n} CPUs={self.cpus} State=UNKNOWN"
            for n, a in zip(self.node_names, self.node_addresses))
        self.conf = os.path.join(d, "slurm.conf")
        with open(self.conf, "w") as f:
            f.write(f"""ClusterName=dragontest
SlurmctldHost={socket.gethostname()}({self.controller_address})
SlurmctldPort={self.ctld_port}
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
TmpFS={d}/tmp/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/spool/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SchedulerType=sched/builtin
ReturnToService=2
KillWait=2
InactiveLimit=0
MinJobAge=2
SlurmctldTimeout=30
SlurmdTimeout=30
{node_lines}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
        for n in self.node_names:
            os.makedirs(os.path.join(d, "spool", n))
            os.makedirs(os.path.join(d, "tmp", n))

    def _start_slurmctld(self):
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", self.conf])
        self._wait(lambda: _run(["scontrol", "ping"], check=False,
                                env=self.env()).stdout.count("UP") > 0,
                   "slurmctld to answer", "slurmctld")

    def _on_node(self, k, argv):
        return ["nsenter", f"--net=/run/netns/{self.netns[k]}", "unshare", "--uts", "--mount",
                "sh", "-c", 'hostname "$0" && mount -t tmpfs -o mode=1777 tmpfs /dev/shm && '
                'exec "$@"', self.node_names[k]] + argv

    def _start_slurmd(self, k):
        # nsenter, not `ip netns exec` (which remounts /sys and breaks slurmd); own UTS and
        # mount namespace: own host name and own /dev/shm, as on a real node.
        self._spawn(f"slurmd{k}",
                    self._on_node(k, ["slurmd", "-D", "-f", self.conf, "-N", self.node_names[k]]))

    def _wait_nodes_idle(self):
        def idle():
            r = _run(["sinfo", "-h", "-N", "-o", "%N %t"], check=False, env=self.env())
            states = dict(line.split() for line in r.stdout.splitlines() if line.strip())
            return all(states.get(n) == "idle" for n in self.node_names)
        self._wait(idle, "every slurmd to register", None)

    # ---- processes ----
    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, "log", f"{name}.out"), "w")
        env = dict(os.environ)
        if self.conf:
            env["SLURM_CONF"] = self.conf
        self._procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env,
                                             start_new_session=True)
        log.close()

    def _wait(self, ready, what, proc_name):
        deadline = time.monotonic() + DAEMON_START_DEADLINE
        while not ready():
            p = self._procs.get(proc_name)
            if p is not None and p.poll() is not None:
                raise RuntimeError(f"{proc_name} exited with {p.returncode} while waiting for "
                                   f"{what}; see {self.dir}/log:\n{self._log_tail(proc_name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {DAEMON_START_DEADLINE} s waiting for "
                                   f"{what}:\n{self._log_tail(proc_name)}")
            time.sleep(0.05)

    def _log_tail(self, name):
        out = []
        logdir = os.path.join(self.dir, "log")
        for f in sorted(os.listdir(logdir)):
            if name is None or f.startswith(name):
                with open(os.path.join(logdir, f), errors="replace") as fh:
                    out.append(f"--- {f}\n" + "".join(fh.readlines()[-15:]))
        return "\n".join(out)

    def _stop_process(self, name, deadline):
        p = self._procs.pop(name)
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)


def _main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    run = sub.add_parser("run", help="bring a cluster up, run a command under it, tear down")
    run.add_argument("--nodes", type=int, default=2)
    run.add_argument("--cpus", type=int, default=2, help="CPUs each node offers")
    run.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("sweep", help="remove what killed runs of this harness left")
    args = parser.parse_args()
    if args.what == "sweep":
        for r in sweep():
            print("removed", r)
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command after --")
    # SIGTERM/SIGHUP end the run through the same teardown as an exception.
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda signum, _: sys.exit(128 + signum))
    with SlurmCluster(nodes=args.nodes, cpus_per_node=args.cpus) as cluster:
        print(f"slurm test cluster: {args.nodes} nodes {' '.join(cluster.node_names)} up in "
              f"{cluster.startup_seconds:.2f} s; SLURM_CONF={cluster.conf}", file=sys.stderr)
        env = cluster.env()
        env["SLURM_TEST_CLUSTER_BRIDGE"] = cluster.controller_address
        proc = subprocess.Popen(command, env=env)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            return proc.wait()
        finally:
            t = time.monotonic()
            cluster.stop()
            print(f"slurm test cluster: down in {time.monotonic() - t:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(_main())
