# The rest of multiprocessing's public names under a start method, with the
# semantics CPython documents: shared_memory.SharedMemory, ShareableList and
# SharedMemoryManager, cpu_count, freeze_support, set_executable,
# allow_connection_pickling, parent_process, multiprocessing.dummy, every name
# of multiprocessing.__all__ on the context, and (last) get_logger/log_to_stderr.
# Usage: api_misc.py [start-method [check...]]
import logging
import multiprocessing as mp
import multiprocessing.dummy
import multiprocessing.pool
import os
import sys
import threading
from multiprocessing import shared_memory, spawn
from multiprocessing.connection import Client, Listener
from multiprocessing.managers import SharedMemoryManager

from api_common import LONG, check, expect, join_all, main, method, wait_until, within


# --- children -----------------------------------------------------------------

def use_shm(shm, name, out):
    other = shared_memory.SharedMemory(name=name)       # attach by name
    out.put((bytes(shm.buf[:5]), bytes(other.buf[:5]), shm.size >= 1000))
    other.buf[5:10] = b'world'
    other.close()
    shm.close()


def use_shareable(sl, name, out):
    same = shared_memory.ShareableList(name=name)
    out.put((list(sl), len(same)))
    same[0] = 42
    same[1] = -1.5
    same[2] = 'TEXT'
    same[4] = 'new'
    same.shm.close()
    sl.shm.close()


def sum_shareable(sl, out):
    out.put(sum(sl))
    sl[0] = 100
    sl.shm.close()


def report_cpu_count(out):
    out.put(mp.cpu_count())


def family(out, depth):
    parent = mp.parent_process()
    out.put((depth, os.getpid(), parent.pid, parent.name, parent.is_alive(),
             mp.current_process().name))
    if depth == 1:
        p = mp.Process(target=family, args=(out, 2), name='grandchild')
        p.start()
        p.join(LONG)


def use_sent_connections(inbox, out):
    for _ in range(2):
        conn = inbox.get(timeout=LONG)
        conn.send(('sent by the child through', type(conn).__name__))
        conn.close()
    out.put('done')


def freeze_and_report(out):
    mp.freeze_support()
    out.put(('frozen support ok', mp.get_start_method()))


def log_from_child(out):
    logger = mp.get_logger()
    logger.info('hello from the child')
    out.put((logger.getEffectiveLevel(), any(h for h in logger.handlers)))


def start(target, *args, **kwargs):
    p = mp.Process(target=target, args=args, **kwargs)
    p.start()
    return p


# --- checks ---------------------------------------------------------------------

@check
def check_public_names_and_start_method():
    ctx = mp.get_context(method())
    stock = mp.context.BaseContext                         # what every start method's context has
    missing = [n for n in mp.__all__
               if not hasattr(mp, n) or (hasattr(stock, n) and not hasattr(ctx, n))]
    assert not missing, missing
    assert mp.get_start_method() == method() == ctx.get_start_method()
    assert method() in mp.get_all_start_methods()
    assert mp.get_context() is mp.get_context(method())
    mp.set_forkserver_preload([])                       # accepted (a no-op but for forkserver)
    for name in ('ProcessError', 'BufferTooShort', 'TimeoutError', 'AuthenticationError'):
        assert issubclass(getattr(mp, name), Exception)
    assert mp.current_process().name == 'MainProcess' and mp.active_children() == []


@check
def check_shared_memory_between_processes():
    shm = shared_memory.SharedMemory(create=True, size=1000)
    try:
        assert shm.size >= 1000
        shm.buf[:5] = b'hello'
        out = mp.Queue()
        p = start(use_shm, shm, shm.name, out)          # pickled (by name) and by name
        assert out.get(timeout=LONG) == (b'hello', b'hello', True)
        join_all([p])
        assert bytes(shm.buf[:10]) == b'helloworld'
    finally:
        shm.close()
        shm.unlink()
    expect(FileNotFoundError, shared_memory.SharedMemory, name=shm.name)
    assert not os.path.exists('/dev/shm/' + shm.name)
    name = f'pymp_api_{os.getpid()}'
    named = shared_memory.SharedMemory(name=name, create=True, size=64)
    try:
        assert named.name == name
        expect(FileExistsError, shared_memory.SharedMemory, name=name, create=True, size=64)
    finally:
        named.close()
        named.unlink()
    assert not os.path.exists('/dev/shm/' + name)


@check
def check_shareable_list_between_processes():
    sl = shared_memory.ShareableList([1, 2.5, 'text', b'bytes', None, True])
    try:
        out = mp.Queue()
        p = start(use_shareable, sl, sl.shm.name, out)
        assert out.get(timeout=LONG) == ([1, 2.5, 'text', b'bytes', None, True], 6)
        join_all([p])
        assert list(sl) == [42, -1.5, 'TEXT', b'bytes', 'new', True], list(sl)
        assert sl.count(True) == 1 and sl.index('TEXT') == 2
        expect(ValueError, sl.__setitem__, 2, 'x' * 100)  # longer than its slot
    finally:
        sl.shm.close()
        sl.shm.unlink()


@check
def check_shared_memory_manager():
    out = mp.Queue()
    with SharedMemoryManager() as smm:
        sm = smm.SharedMemory(size=128)
        sl = smm.ShareableList(range(5))
        sm.buf[:3] = b'abc'
        p = start(sum_shareable, sl, out)
        assert out.get(timeout=LONG) == 10
        join_all([p])
        assert sl[0] == 100
        names = (sm.name, sl.shm.name)
        sm.close()
        sl.shm.close()
    for name in names:                                    # the manager unlinked them
        expect(FileNotFoundError, shared_memory.SharedMemory, name=name)


@check
def check_cpu_count_is_the_jobs_cpus():
    n = mp.cpu_count()
    usable = len(os.sched_getaffinity(0))
    print('cpu_count', n, 'usable', usable, 'os.cpu_count', os.cpu_count(), flush=True)
    assert isinstance(n, int) and n >= 1
    if method() == 'dragon':
        # One node, this machine: the CPUs the job may use (its affinity).
        if int(os.environ.get('DRAGON_NUM_NODES', '1')) == 1:
            assert n == usable, (n, usable)
    else:
        assert n == os.cpu_count()                        # stock
    out = mp.Queue()
    p = start(report_cpu_count, out)
    assert out.get(timeout=LONG) == n                      # the same in a child
    join_all([p])


@check
def check_freeze_support_and_set_executable():
    assert mp.freeze_support() is None
    out = mp.Queue()
    p = start(freeze_and_report, out)
    assert out.get(timeout=LONG) == ('frozen support ok', method())
    join_all([p])
    before = spawn.get_executable()
    mp.set_executable(sys.executable)
    try:
        assert os.fsdecode(spawn.get_executable()) == sys.executable
        p = start(freeze_and_report, out)                  # children still start
        assert out.get(timeout=LONG)[0] == 'frozen support ok'
        join_all([p])
    finally:
        mp.set_executable(before)


@check
def check_allow_connection_pickling():
    mp.allow_connection_pickling()
    inbox, out = mp.Queue(), mp.Queue()
    p = start(use_sent_connections, inbox, out)           # running before anything is sent
    with Listener(family='AF_UNIX') as listener:
        c = Client(listener.address)
        s = within(LONG, listener.accept)
        inbox.put(c)                                       # a socket connection, pickled
        assert s.poll(LONG) and s.recv() == ('sent by the child through', 'Connection')
        reader, writer = mp.Pipe(duplex=False)
        inbox.put(writer)                                  # a Pipe end, pickled
        assert reader.poll(LONG)
        assert reader.recv()[0] == 'sent by the child through'
        assert out.get(timeout=LONG) == 'done'
        for conn in (c, s, reader, writer):
            conn.close()
    join_all([p])


@check
def check_parent_process():
    assert mp.parent_process() is None                     # in the main process
    out = mp.Queue()
    p = start(family, out, 1, name='child')
    got = sorted(out.get(timeout=LONG) for _ in range(2))
    join_all([p])
    (d1, child_pid, ppid1, pname1, alive1, name1), (d2, _, ppid2, pname2, alive2, name2) = got
    assert (d1, ppid1, pname1, alive1, name1) == (1, os.getpid(), 'MainProcess', True, 'child')
    assert (d2, ppid2, pname2, alive2, name2) == (2, child_pid, 'child', True, 'grandchild')
    assert child_pid == p.pid


@check(main_thread=True)      # dummy.active_children() wants the main thread
def check_multiprocessing_dummy():
    from multiprocessing import dummy
    seen = []
    t = dummy.Process(target=lambda: seen.append((os.getpid(), threading.get_ident())))
    t.start()
    t.join(LONG)
    assert seen and seen[0][0] == os.getpid() and seen[0][1] != threading.get_ident()
    with dummy.Pool(2) as pool:
        assert pool.map(lambda x: x * x, range(10)) == [x * x for x in range(10)]
        assert pool.apply_async(os.getpid).get(timeout=LONG) == os.getpid()
    with multiprocessing.pool.ThreadPool(2) as pool:
        assert sorted(pool.imap_unordered(abs, [-1, -2])) == [1, 2]
    q = dummy.Queue()
    q.put(1)
    assert q.get(timeout=LONG) == 1
    a, b = dummy.Pipe()
    a.send('x')
    assert b.recv() == 'x'
    lock, ev = dummy.Lock(), dummy.Event()
    with lock:
        assert not lock.acquire(False)
    ev.set()
    assert ev.wait(0)
    assert dummy.Value('i', 3).value == 3
    assert dummy.Manager() is not None
    assert dummy.current_process() is threading.main_thread()
    # Pool.__exit__ terminates without joining: its worker threads end a moment later.
    wait_until(lambda: dummy.active_children() == [], what='dummy pool threads to end')


@check
def check_get_logger_and_log_to_stderr():
    logger = mp.get_logger()
    assert logger.name == 'multiprocessing'
    assert mp.log_to_stderr(logging.INFO) is logger and logger.level == logging.INFO
    try:
        logger.info('hello from the parent')
        out = mp.Queue()
        p = start(log_from_child, out, name='api-logging-child')
        assert out.get(timeout=LONG) == (logging.INFO, True)   # the child logs to stderr too
        join_all([p])
    finally:
        logger.setLevel(logging.WARNING)


if __name__ == '__main__':
    main()
