"""For test_wake_slices.py: a child of the job asleep in a get() while every CPU
is busy; prints (JSON) the time slices its threads ask for meanwhile, as
/proc/<pid>/task/*/sched shows them (se.slice, in ns)."""

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

import dragon  # noqa: F401


def wait_for_one(q, ready):
    ready.put(os.getpid())
    q.get(timeout=60)


def slices_of(pid):
    out = set()
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            for line in open('/proc/%d/task/%s/sched' % (pid, tid)):
                if line.startswith('se.slice'):
                    out.add(int(line.split(':')[1]))
        except OSError:
            pass
    return out


if __name__ == '__main__':
    mp.set_start_method('dragon')
    # One CPU-bound process more than there are CPUs: no CPU is to spare.
    hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(len(os.sched_getaffinity(0)) + 1)]
    try:
        q, ready = mp.Queue(), mp.Queue()
        p = mp.Process(target=wait_for_one, args=(q, ready))
        p.start()
        pid = ready.get(timeout=60)
        seen = set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            seen |= slices_of(pid)
            time.sleep(0.01)
        q.put(None)
        p.join(30)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    print(json.dumps({'slices': sorted(seen), 'exitcode': p.exitcode}), flush=True)
