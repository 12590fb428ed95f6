# Pipe (duplex and one-way) under 'dragon': send/recv, bytes, poll, wait.
import array
import multiprocessing as mp
import time
from multiprocessing.connection import wait

import dragon  # noqa: F401


def echo(conn):
    while True:
        obj = conn.recv()
        if obj is None:
            return
        conn.send(obj)


def send_three_and_exit(w):
    for i in range(3):
        w.send(i)


def write_later(w, delay, payload):
    time.sleep(delay)
    w.send_bytes(payload)


if __name__ == '__main__':
    mp.set_start_method('dragon')

    a, b = mp.Pipe()
    assert a.readable and a.writable
    a.send({'x': 1})
    assert b.poll(5) and b.recv() == {'x': 1}
    b.send_bytes(b'hello world', 6, 5)
    assert a.recv_bytes() == b'world'
    t0 = time.monotonic()
    assert a.poll(0.2) is False
    assert time.monotonic() - t0 >= 0.15
    print('duplex ok', flush=True)

    p = mp.Process(target=echo, args=(b,))
    p.start()
    for i in range(50):
        a.send(('round', i))
        assert a.recv() == ('round', i)
    a.send(None)
    p.join(30)
    assert p.exitcode == 0
    print('duplex child ok', flush=True)

    r, w = mp.Pipe(duplex=False)
    assert r.readable and not r.writable and w.writable and not w.readable
    for bad in (lambda: r.send(1), lambda: w.recv()):
        try:
            bad()
        except OSError:
            pass
        else:
            raise AssertionError('one-way pipe allowed the wrong direction')
    w.send_bytes(b'0123456789')
    buf = bytearray(16)
    assert r.recv_bytes_into(buf, 3) == 10 and buf[3:13] == b'0123456789'
    arr = array.array('i', [0] * 4)
    w.send_bytes(array.array('i', [7, 8]))
    assert r.recv_bytes_into(arr, 4) == 8 and arr.tolist() == [0, 7, 8, 0]   # offset in bytes
    w.send_bytes(b'x' * 100)
    try:
        r.recv_bytes_into(bytearray(10))
    except mp.BufferTooShort as e:
        assert e.args[0] == b'x' * 100
    else:
        raise AssertionError('expected BufferTooShort')
    print('one-way ok', flush=True)

    # connection.wait over Connections and a Process sentinel together.
    r2, w2 = mp.Pipe(duplex=False)
    writer = mp.Process(target=write_later, args=(w2, 0.3, b'late'))
    writer.start()
    assert wait([r, r2], 0.05) == []
    ready = wait([r, r2], 30)
    assert ready == [r2], ready
    assert r2.recv_bytes() == b'late'
    assert wait([writer.sentinel, r], 30) == [writer.sentinel]
    writer.join(30)
    w.send('now')
    assert wait([r], 5) == [r]
    assert wait([writer.sentinel], 5) == [writer.sentinel]
    assert set(wait([writer.sentinel, r], 5)) == {writer.sentinel, r}
    assert r.recv() == 'now'
    # After this process's own receive the fd is up to date at once: CPython's
    # Pool and concurrent.futures wait() and then recv() without a timeout.
    assert wait([r], 0) == []
    for i in range(200):
        w.send(i)
        assert wait([r], 5) == [r]
        assert r.recv() == i
        assert wait([r], 0) == [], 'readiness fd still readable on an empty channel'
    print('wait ok', flush=True)

    # End of file: once every holder of the sending end has closed it or exited.
    r3, w3 = mp.Pipe(duplex=False)
    w3.send('last')
    w3.close()
    assert r3.recv() == 'last'
    for _ in range(2):
        try:
            r3.recv()
        except EOFError:
            pass
        else:
            raise AssertionError('expected EOFError after the writer closed')
    assert r3.poll(0)
    r4, w4 = mp.Pipe(duplex=False)
    sender = mp.Process(target=send_three_and_exit, args=(w4,))
    sender.start()
    w4.close()              # the child's copy keeps the end open
    got = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert wait([r4], 30) == [r4]
        try:
            got.append(r4.recv())
        except EOFError:
            break
    assert got == [0, 1, 2], got
    sender.join(30)
    d1, d2 = mp.Pipe()
    d2.close()
    try:
        d1.recv_bytes()
    except EOFError:
        pass
    else:
        raise AssertionError('expected EOFError on a duplex pipe')
    print('eof ok', flush=True)

    for c in (a, b, r, w, r2, w2, r3, r4, d1):
        c.close()
    try:
        a.send(1)
    except OSError:
        pass
    else:
        raise AssertionError('closed connection usable')
    print('close ok', flush=True)
