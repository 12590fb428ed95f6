# A consumer whose only producer dies before sending: its wait says so on stderr
# (DRAGON_STUCK_WAIT_WARNING seconds in), then goes on until the test interrupts it.
import multiprocessing as mp
import os
import sys

import dragon  # noqa: F401


def producer(q):
    raise RuntimeError('the producer fails before it puts anything')


def late(q):
    import time
    time.sleep(2)
    q.put('late but sent')


def writer(conn):
    os._exit(3)                      # dies holding its end, without closing it


if __name__ == '__main__':
    mp.set_start_method('dragon')
    kind = sys.argv[1]
    if kind == 'late':                 # a producer that is alive: no warning
        q = mp.Queue()
        p = mp.Process(target=late, args=(q,))
        p.start()
        print(q.get(), flush=True)
        p.join()
    elif kind == 'queue':
        q = mp.Queue()
        p = mp.Process(target=producer, args=(q,))
        p.start()
        p.join()
        print('waiting', flush=True)
        q.get()
    else:
        r, w = mp.Pipe(duplex=False)
        p = mp.Process(target=writer, args=(w,))
        p.start()
        del w
        p.join()
        print('waiting', flush=True)
        r.recv()
