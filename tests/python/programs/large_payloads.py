# 64 MiB bytes, bytearray and numpy arrays through Queue and Pipe to a child and back.
import hashlib
import multiprocessing as mp
import sys

import dragon  # noqa: F401

SIZE = 64 << 20


def echo_queue(inq, outq):
    for _ in range(int(sys.argv[1])):
        outq.put(inq.get(timeout=60))


def echo_pipe(conn):
    for _ in range(int(sys.argv[1])):
        conn.send(conn.recv())


def payloads():
    base = bytes(range(256)) * (SIZE // 256)
    yield 'bytes', base
    yield 'bytearray', bytearray(base)
    try:
        sys.path.append('/usr/lib/python3/dist-packages')
        import numpy as np
    except ImportError:
        print('numpy not importable: skipped', flush=True)
        return
    yield 'numpy', np.arange(SIZE // 8, dtype=np.float64)


def in_received_block(arr):
    '''The array is a view of the pool block the message arrived in (no copy).'''
    base = arr.base
    while base is not None and not isinstance(base, memoryview):
        base = getattr(base, 'base', None)
    return (isinstance(base, memoryview) and type(base.obj).__name__ == 'Message'
            and base.obj.zero_copy)


def same(a, b):
    if type(a) is not type(b):
        return False
    if type(a).__module__ == 'numpy':
        return a.dtype == b.dtype and a.shape == b.shape and bool((a == b).all())
    return hashlib.sha1(a).digest() == hashlib.sha1(b).digest()


if __name__ == '__main__':
    mp.set_start_method('dragon')
    items = list(payloads())
    sys.argv[1:] = [str(len(items))]
    inq, outq = mp.Queue(), mp.Queue()
    a, b = mp.Pipe()
    procs = [mp.Process(target=echo_queue, args=(inq, outq)), mp.Process(target=echo_pipe, args=(b,))]
    for p in procs:
        p.start()
    for kind, obj in items:
        inq.put(obj)
        back = outq.get(timeout=60)
        assert same(obj, back), kind
        print('queue', kind, 'ok', flush=True)
        a.send(obj)
        assert a.poll(60)
        back = a.recv()
        assert same(obj, back), kind
        if kind == 'numpy':
            assert in_received_block(back)
            back[0] = 42.0          # a received array is writable
            print('numpy zero-copy ok', flush=True)
        print('pipe', kind, 'ok', flush=True)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0, p.exitcode
