# Does the runtime work end to end (pool, warm server, queue)?
import multiprocessing as mp

import dragon  # noqa: F401


def child(q):
    q.put('ok')


if __name__ == '__main__':
    ctx = mp.get_context('dragon')
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    print('probe', q.get(timeout=20), flush=True)
    p.join(20)
