"""A multiprocessing program for the Slurm launcher's tests: a Pool, a Queue between
processes, then a line naming the head's host and what the runtime reports, and the
exit code given. With "wait", it says "ready" and then waits (for a signal)."""

import multiprocessing as mp
import os
import socket
import sys
import time


def square(x):
    return x * x


def sleeper(queue):
    queue.put(os.getpid())
    time.sleep(120)


if __name__ == "__main__":
    mp.set_start_method("dragon")
    if sys.argv[1:2] == ["wait"]:
        queue = mp.Queue()
        p = mp.Process(target=sleeper, args=(queue,))
        p.start()
        print("ready", queue.get(timeout=30), flush=True)
        p.join()
        sys.exit(0)
    with mp.Pool(2) as pool:
        total = sum(pool.map(square, range(10)))
    print(f"pool {total} head {socket.gethostname()} nodes {os.environ.get('DRAGON_NUM_NODES')} "
          f"cpus {os.environ.get('DRAGON_JOB_CPUS')} cpu_count {mp.cpu_count()}", flush=True)
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
