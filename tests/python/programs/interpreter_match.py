# A child runs on its parent's interpreter, also when the job's program is an
# interpreter other than the python3 on PATH (dragon /usr/bin/python3 prog.py).
import multiprocessing as mp
import sys

import dragon  # noqa: F401


def show(q):
    q.put(sys.executable)


if __name__ == '__main__':
    mp.set_start_method('dragon')
    q = mp.Queue()
    p = mp.Process(target=show, args=(q,))
    p.start()
    child = q.get(timeout=30)
    p.join(30)
    print('parent', sys.executable, 'child', child, flush=True)
    assert child == sys.executable, (sys.executable, child)
    print('interpreter ok', flush=True)
