# connection.wait is exact for Dragon Connections: a message sent before a process
# exits is seen with its sentinel (ProcessPoolExecutor with max_tasks_per_child
# took a retiring worker for a crashed one when the readiness fd lagged).
# ProcessPoolExecutor has max_tasks_per_child from CPython 3.11; before, the same
# retiring workers are made with Pool(maxtasksperchild=1), whose worker handler
# waits on their sentinels and its change notifier with connection.wait too.
import multiprocessing as mp
import multiprocessing.connection
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import dragon  # noqa: F401


def send_and_exit(conn, i):
    conn.send(i)


def pid(_):
    return os.getpid()


if __name__ == '__main__':
    ctx = mp.get_context('dragon')
    r, w = ctx.Pipe(duplex=False)
    for i in range(50):
        p = ctx.Process(target=send_and_exit, args=(w, i))
        p.start()
        ready = multiprocessing.connection.wait([p.sentinel, r], 30)
        if p.sentinel in ready:
            assert r in ready, 'sentinel seen without the message sent before the exit'
        assert r.recv() == i
        p.join(30)
    print('sentinel with message ok', flush=True)
    if sys.version_info >= (3, 11):
        for _ in range(5):
            with ProcessPoolExecutor(2, mp_context=ctx, max_tasks_per_child=1) as ex:
                pids = [ex.submit(pid, i).result(timeout=30) for i in range(10)]
            assert len(set(pids)) == 10, pids
        print('retiring workers ok: ProcessPoolExecutor(max_tasks_per_child=1)', flush=True)
    else:
        for _ in range(5):
            with ctx.Pool(2, maxtasksperchild=1) as pool:
                pids = [pool.apply_async(pid, (i,)).get(timeout=30) for i in range(10)]
            assert len(set(pids)) == 10, pids
        print('retiring workers ok: Pool(maxtasksperchild=1)', flush=True)
