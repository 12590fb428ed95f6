# A put that can never fit the node pool (more than its largest free block can
# ever be, with the job's channels in it) must fail at once with the pool-size
# message, not block forever (issue 15, "Memory: errors, not hangs").
import multiprocessing as mp
import sys
import time

import dragon  # noqa: F401

if __name__ == '__main__':
    mp.set_start_method('dragon')
    size = int(sys.argv[1])
    q = mp.Queue()
    t0 = time.monotonic()
    try:
        q.put(b'x' * size)
        q.get(timeout=30)
        print('put and got', size, flush=True)
    except Exception as e:
        print('failed after %.1f s: %s' % (time.monotonic() - t0, e), flush=True)
