"""A process of the package keeps stock's signal dispositions: the package loads only
memory plugins, so no transport's library (UCX catches SIGHUP, SIGSEGV, SIGBUS, SIGILL
and SIGFPE as it loads) ends up in a user's process. Prints one JSON line: the signals
this process catches after using a Queue (and which it caught before), whether UCX is
mapped, and the exit code of a child sent SIGHUP (stock: -1, killed)."""

import json
import os
import signal
import time


def caught():
    for line in open('/proc/self/status'):
        if line.startswith('SigCgt:'):
            mask = int(line.split()[1], 16)
            return sorted(signal.Signals(n).name for n in range(1, 32) if mask >> (n - 1) & 1)


def sleeper(q):
    q.put(os.getpid())
    time.sleep(30)


if __name__ == '__main__':
    before = caught()
    import dragon  # noqa: F401
    import multiprocessing as mp
    mp.set_start_method('dragon')
    q = mp.Queue()
    q.put(1)
    q.get()
    after = caught()
    ucx = any('libucp' in line or 'libucs' in line for line in open('/proc/self/maps'))
    p = mp.Process(target=sleeper, args=(q,))
    p.start()
    q.get(timeout=30)
    p.join(0.3)
    os.kill(p.pid, signal.SIGHUP)
    p.join(30)
    print(json.dumps({'before': before, 'after': after, 'ucx_mapped': ucx,
                      'sighup_exitcode': p.exitcode}), flush=True)
