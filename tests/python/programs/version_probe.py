# A small program of every kind of object, on whatever interpreter runs it: the
# extension built for that interpreter is the one loaded, in parent and children.
import multiprocessing as mp
import sys

import dragon  # noqa: F401
from dragon import _dragon


def square(x):
    return x * x


def child(q, lock, conn):
    with lock:
        q.put(('%d.%d' % sys.version_info[:2], _dragon.__file__))
    conn.send(conn.recv() + 1)


if __name__ == '__main__':
    mp.set_start_method('dragon')
    q, lock = mp.Queue(), mp.Lock()
    a, b = mp.Pipe()
    p = mp.Process(target=child, args=(q, lock, b))
    p.start()
    a.send(41)
    assert a.recv() == 42
    version, extension = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0, p.exitcode
    with mp.Pool(2) as pool:
        assert pool.map(square, range(20)) == [x * x for x in range(20)]
    print('parent %d.%d %s' % (sys.version_info[:2] + (_dragon.__file__,)), flush=True)
    print('child %s %s' % (version, extension), flush=True)
    print('version probe ok', flush=True)
