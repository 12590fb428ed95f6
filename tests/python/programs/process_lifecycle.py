# Process under 'dragon': start/join/exitcode/signals/sentinel/daemon/name/pid/
# close/current_process/parent_process/active_children.
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import wait

import dragon  # noqa: F401


def identify(q):
    me = mp.current_process()
    parent = mp.parent_process()
    q.put((me.name, me.pid, os.getpid(), me.daemon, parent.pid, parent.name,
           os.environ.get('PYMP_MARK')))


def sleeper(seconds):
    time.sleep(seconds)


def exit_with(code):
    sys.exit(code)


def runtime_sockets_seen(q):
    '''The warm server's listening socket or node control socket, if inherited.'''
    seen = []
    for name in os.listdir('/proc/self/fd'):
        fd = int(name)
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with s:
            if s.type == socket.SOCK_SEQPACKET:
                seen.append('control socket')
            elif s.family == socket.AF_UNIX and s.getsockname() == os.environ['DRAGON_WARM_SOCKET']:
                seen.append('listening socket')
    q.put(seen)


def wait_for_parent_alive(q):
    q.put(mp.parent_process().is_alive())


if __name__ == '__main__':
    mp.set_start_method('dragon')
    os.environ['PYMP_MARK'] = 'set-before-start'
    q = mp.Queue()

    p = mp.Process(target=identify, args=(q,), name='worker-1', daemon=True)
    assert p.pid is None and p.exitcode is None
    p.start()
    name, pid, ospid, daemon, ppid, pname, mark = q.get(timeout=30)
    assert (name, daemon, ppid, pname, mark) == ('worker-1', True, os.getpid(), 'MainProcess',
                                                 'set-before-start'), (name, daemon, ppid, pname)
    assert pid == ospid == p.pid, (pid, ospid, p.pid)
    p.join(30)
    assert p.exitcode == 0 and not p.is_alive()
    p.close()
    try:
        p.is_alive()
    except ValueError:
        pass
    else:
        raise AssertionError('closed process still usable')
    print('identity ok', flush=True)

    p = mp.Process(target=exit_with, args=(3,))
    p.start()
    p.join(30)
    assert p.exitcode == 3, p.exitcode
    print('exitcode ok', flush=True)

    p = mp.Process(target=sleeper, args=(30,))
    p.start()
    assert p.is_alive()
    assert p in mp.active_children()
    t0 = time.monotonic()
    p.join(0.3)
    waited = time.monotonic() - t0
    assert 0.25 < waited < 5, waited
    assert p.is_alive() and p.exitcode is None
    assert wait([p.sentinel], 0.1) == []
    p.terminate()
    assert wait([p.sentinel], 30) == [p.sentinel]
    p.join(30)
    assert p.exitcode == -signal.SIGTERM, p.exitcode
    assert p not in mp.active_children()
    print('terminate ok', flush=True)

    p = mp.Process(target=sleeper, args=(30,))
    p.start()
    p.kill()
    p.join(30)
    assert p.exitcode == -signal.SIGKILL, p.exitcode
    print('kill ok', flush=True)

    # An exited child that was not joined keeps its pid (a zombie, as with spawn):
    # signalling it is no error. join() frees the pid.
    p = mp.Process(target=sleeper, args=(0,))
    p.start()
    assert wait([p.sentinel], 30) == [p.sentinel]
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGUSR1)
    p.join(30)
    assert p.exitcode == 0, p.exitcode
    try:
        os.kill(p.pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError('pid %d still taken after join()' % p.pid)
    print('zombie until join ok', flush=True)

    procs = [mp.Process(target=sleeper, args=(0.2 * i,)) for i in range(4)]
    for p in procs:
        p.start()
    pending = {p.sentinel: p for p in procs}
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        for s in wait(list(pending), 5):
            pending.pop(s).join(5)
    assert not pending and all(p.exitcode == 0 for p in procs)
    print('sentinels ok', flush=True)

    # A client that connects and says nothing holds up nobody.
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(os.environ['DRAGON_WARM_SOCKET'])
    p = mp.Process(target=runtime_sockets_seen, args=(q,))
    t0 = time.monotonic()
    p.start()
    assert q.get(timeout=30) == []
    assert time.monotonic() - t0 < 5, "a stalled client held up the warm server"
    p.join(30)
    stalled.close()
    print('no runtime sockets inherited ok', flush=True)

    p = mp.Process(target=wait_for_parent_alive, args=(q,))
    p.start()
    assert q.get(timeout=30) is True
    p.join(30)
    print('parent alive ok', flush=True)
