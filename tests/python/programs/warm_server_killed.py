# Kills the node's warm server (SIGKILL) under a running child, then starts more
# work: the child's exit code stays true, later starts and a Pool work (the node
# starts a new server). With the argument "exhaust" it kills every server the
# node starts until it gives up; a later start must then fail at once, clearly.
import multiprocessing as mp
import os
import signal
import sys
import time

import dragon  # noqa: F401


def warm_servers():
    marker = ('DRAGON_NODE_POOL=' + os.environ['DRAGON_NODE_POOL']).encode()
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmd = f.read().split(b'\0')
            with open(f'/proc/{entry}/environ', 'rb') as f:
                env = f.read().split(b'\0')
            with open(f'/proc/{entry}/stat') as f:
                state, ppid = f.read().rsplit(')', 1)[1].split()[:2]
            with open(f'/proc/{ppid}/comm') as f:
                parent = f.read().strip()
        except OSError:
            continue
        # The server's children share its command line: the server is dragon-node's child.
        if (b'dragon.warm_server' in cmd and marker in env and state != 'Z'
                and parent == 'dragon-node'):
            found.append(int(entry))
    return found


def kill_warm_server(old=None):
    '''Kills the current warm server; waits (5 s at most) for the node's next one.'''
    deadline = time.monotonic() + 5
    while True:
        now = [pid for pid in warm_servers() if pid != old]
        if now or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(now) == 1, now
    os.kill(now[0], signal.SIGKILL)
    return now[0]


def sleeper(seconds, code):
    time.sleep(seconds)
    sys.exit(code)


def square(x):
    return x * x


def survive():
    running = mp.Process(target=sleeper, args=(1.5, 3))
    running.start()
    assert running.pid                  # the server has forked it
    kill_warm_server()
    time.sleep(0.3)
    assert running.is_alive()
    running.join(30)
    print('running child exitcode', running.exitcode, flush=True)
    later = mp.Process(target=sleeper, args=(0, 5))
    later.start()
    later.join(30)
    print('later child exitcode', later.exitcode, flush=True)
    with mp.Pool(2) as pool:
        print('pool', pool.map(square, range(5)), flush=True)


def exhaust():
    old = None
    for _ in range(4):                  # the first server and its three restarts
        old = kill_warm_server(old)
    time.sleep(0.5)
    t0 = time.monotonic()
    child = mp.Process(target=sleeper, args=(0, 0))
    try:
        child.start()
    except dragon.DragonRuntimeError as e:
        print('start failed after %.1f s: %s' % (time.monotonic() - t0, e), flush=True)
    else:
        print('start did not fail', flush=True)


if __name__ == '__main__':
    mp.set_start_method('dragon')
    exhaust() if sys.argv[1:] == ['exhaust'] else survive()
