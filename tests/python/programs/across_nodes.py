"""Programs for test_across_nodes.py: stock multiprocessing code whose processes the
dragon start method spreads over every node (round-robin by default). Each case
prints what it found as JSON; the test checks it."""

import ctypes
import json
import os
import socket
import sys
import threading
import time
import multiprocessing as mp
from multiprocessing import connection

import dragon  # noqa: F401


def where():
    return int(os.environ['DRAGON_NODE_INDEX']), socket.gethostname()


def report(q):
    table = os.environ.get('DRAGON_POLLING_TABLE', '')
    q.put(where() + (os.getpid(), sorted(os.sched_getaffinity(0)),
                     (table, os.path.exists('/dev/shm/' + table))))


def spread(nodes):
    q = mp.Queue()
    ps = [mp.Process(target=report, args=(q,)) for _ in range(2 * nodes)]
    for p in ps:
        p.start()
    seen = [q.get(timeout=30) for _ in ps]
    for p in ps:
        p.join(30)
    return {'nodes': sorted({s[0] for s in seen}), 'hosts': sorted({s[1] for s in seen}),
            'pids': [p.pid for p in ps], 'exitcodes': [p.exitcode for p in ps],
            'cpu_count': mp.cpu_count(),
            'cpus_of_node': {s[0]: s[3] for s in seen},
            'polling_tables': sorted({s[4] for s in seen})}


def count_under_lock(lock, counter, rounds):
    for _ in range(rounds):
        with lock:
            v = counter.get()
            counter.put(v + 1)


def wait_then_set(event, barrier, sem, out):
    barrier.wait(30)
    with sem:
        out.put(where()[0])
    event.set()


def sync(nodes):
    lock, rlock, counter = mp.Lock(), mp.RLock(), mp.Queue()
    counter.put(0)
    ps = [mp.Process(target=count_under_lock, args=(lock, counter, 20)) for _ in range(nodes)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(60)
    total = counter.get(timeout=10)
    event, barrier, sem, out = mp.Event(), mp.Barrier(nodes + 1), mp.Semaphore(1), mp.Queue()
    ws = [mp.Process(target=wait_then_set, args=(event, barrier, sem, out)) for _ in range(nodes)]
    for p in ws:
        p.start()
    barrier.wait(30)
    set_in_time = event.wait(30)
    for p in ws:
        p.join(30)
    with rlock:
        with rlock:
            pass
    return {'total': total, 'expected': 20 * nodes, 'event': set_in_time,
            'barrier_nodes': sorted({out.get(timeout=10) for _ in ws}),
            'exitcodes': [p.exitcode for p in ps + ws]}


def echo(conn):
    while True:
        x = conn.recv()
        if x is None:
            break
        conn.send(x)
    conn.send_bytes(b'z' * (3 << 20))
    conn.close()


def pipes(nodes):
    a, b = mp.Pipe()
    p = mp.Process(target=echo, args=(b,))
    p.start()
    b.close()
    back = [a.send(i) or a.recv() for i in range(100)]
    ready_before = a.poll(0)
    a.send(None)
    # connection.wait on a remote Connection and a remote sentinel together
    got = connection.wait([a, p.sentinel], 30)
    big = a.recv_bytes()
    p.join(30)
    try:
        a.recv()
        eof = False
    except EOFError:
        eof = True
    return {'echo_ok': back == list(range(100)), 'ready_before': ready_before,
            'wait_found_conn': a in got, 'big': len(big), 'eof': eof, 'exitcode': p.exitcode,
            'child_node': p.pid >> 22}


def square(x):
    return x * x, where()[0]


def pools(nodes):
    with mp.Pool(2 * nodes) as pool:
        res = pool.map(square, range(200), chunksize=1)
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(2 * nodes, mp_context=mp.get_context('dragon')) as ex:
        ex_res = list(ex.map(square, range(50)))
    return {'sum': sum(r[0] for r in res), 'expected': sum(x * x for x in range(200)),
            'ex_sum': sum(r[0] for r in ex_res)}


def sleeper():
    time.sleep(60)


def hold(q):
    q.get(timeout=60)


def lifecycle(nodes):
    p = mp.Process(target=sleeper, name='remote-sleeper')
    p.start()
    alive = p.is_alive()
    t = time.monotonic()
    p.join(0.2)
    timed = time.monotonic() - t
    p.terminate()
    p.join(30)
    k = mp.Process(target=sleeper)
    k.start()
    k.kill()
    k.join(30)
    # a non-blocking get and a get with a timeout on a queue of another node
    q = mp.Queue()
    h = mp.Process(target=hold, args=(q,))
    h.start()
    q.put('go')
    h.join(30)
    return {'alive': alive, 'join_timeout_ok': 0.15 < timed < 5, 'terminated': p.exitcode,
            'killed': k.exitcode, 'held': h.exitcode, 'name': p.name,
            'nodes': [p.pid >> 22, k.pid >> 22]}


def killed_at_birth(nodes):
    """Children on the other node signalled right after start(), often before they
    read their request: every one of them must still be joinable (their exit once
    got lost when the warm server closed the connection in the same read as the exit
    code). Then the same through Pool.terminate() right after map_async()."""
    codes, where_ = [], set()
    for i in range(20):
        p = mp.Process(target=sleeper)
        p.start()
        (p.terminate if i % 2 else p.kill)()
        p.join(20)
        codes.append(p.exitcode)
        where_.add(p.pid >> 22)
    pools_ended = 0
    for _ in range(8):
        pool = mp.Pool(3)
        pool.map_async(time.sleep, [300] * 1000, chunksize=1)
        ended = threading.Event()
        watch = threading.Timer(30, lambda: ended.is_set() or os._exit(3))
        watch.start()
        pool.terminate()
        pool.join()
        ended.set()
        watch.cancel()
        pools_ended += 1
    return {'codes': sorted(set(codes)), 'nodes': sorted(where_), 'pools': pools_ended}


def remote_get(q, out):
    import queue
    t = time.monotonic()
    try:
        q.get(timeout=0.5)
        out.put('got')
    except queue.Empty:
        out.put(round(time.monotonic() - t, 2))
    try:
        q.get_nowait()
    except queue.Empty:
        out.put('empty')
    out.put(where()[0])


def timeouts(nodes):
    q, out = mp.Queue(), mp.Queue()
    p = mp.Process(target=remote_get, args=(q, out))
    p.start()
    waited, nowait, node = out.get(timeout=30), out.get(timeout=30), out.get(timeout=30)
    p.join(30)
    return {'waited': waited, 'nowait': nowait, 'node': node, 'exitcode': p.exitcode}


def get_one(q, out):
    out.put((q.get(), where()[0]))


def simplequeue_read_lock(nodes):
    '''A SimpleQueue's read lock held as multiprocessing.pool holds it to drain the
    queue at terminate(): the holder's recv() does not wait on an empty queue (a
    getter elsewhere may have taken the item it polled), and a getter on another
    node, which takes no read lock, still gets.'''
    from dragon.infrastructure.policy import Policy
    q, out = mp.SimpleQueue(), mp.Queue()
    q._rlock.acquire()
    t = time.monotonic()
    drained_empty = q._reader.recv()
    empty_took = time.monotonic() - t
    with Policy(placement=Policy.Placement.HOST_ID, host_id=1):
        p = mp.Process(target=get_one, args=(q, out))
        p.start()
    q.put('for the remote getter')
    remote_got = out.get(timeout=60)
    p.join(60)
    q.put('for the holder')
    drained = q._reader.recv()
    q._rlock.release()
    q.put('after')
    return {'drained_empty': drained_empty, 'empty_took_under_1s': empty_took < 1,
            'remote_got': remote_got, 'drained': drained, 'after': q.get(),
            'exitcode': p.exitcode}


def make_remote_queue(setup):
    q = mp.Queue()
    setup.put(q)
    time.sleep(600)


def node_loss(nodes):
    '''Waits on a queue of node 1 until the test kills node 1's dragon-node: the wait
    must end with an error naming the node (SIGTERM, which the stopping job sends, is
    ignored here so that the error is seen).'''
    import signal
    signal.signal(signal.SIGTERM, lambda *a: None)
    setup = mp.Queue()
    p = mp.Process(target=make_remote_queue, args=(setup,))
    p.start()
    remote_q = setup.get(timeout=30)
    print('ready', os.environ['DRAGON_JOB_ID'], flush=True)
    t = time.monotonic()
    try:
        remote_q.get()
        return {'error': None}
    except Exception as e:
        return {'error': '%s: %s' % (type(e).__name__, e), 'after': time.monotonic() - t}



def use_proxy(d, lock, ev, i):
    with lock:
        d[i] = where()[0]
    ev.set()


def attach_shm(inbox, out):
    try:
        shm = inbox.get(timeout=30)
        shm.buf[0] = 1
        out.put('attached')
    except Exception as e:
        out.put('%s: %s' % (type(e).__name__, e))


def bump(value):
    with value.get_lock():
        value.value += 1


def shared(nodes):
    from multiprocessing import shared_memory
    m = mp.Manager()
    d, lock, ev = m.dict(), mp.Lock(), mp.Event()
    ps = [mp.Process(target=use_proxy, args=(d, lock, ev, i)) for i in range(nodes)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(30)
    proxy_nodes = sorted(set(d.values()))
    manager_address = m.address
    m.shutdown()
    # a SharedMemory pickled to a child on another node: an error naming the nodes
    shm = shared_memory.SharedMemory(create=True, size=16)
    out, inbox = mp.Queue(), mp.Queue()
    from dragon.infrastructure.policy import Policy
    try:
        with Policy(placement=Policy.Placement.HOST_ID, host_id=1):
            p = mp.Process(target=attach_shm, args=(inbox, out))
            p.start()
        inbox.put(shm)
        shm_result = out.get(timeout=30)
        p.join(30)
    finally:
        shm.close()
        shm.unlink()
    # a Value lives in the pool: its children go where the placement says
    v = mp.Value('i', 0)
    vs = [mp.Process(target=bump, args=(v,)) for _ in range(nodes)]
    for p in vs:
        p.start()
    for p in vs:
        p.join(30)
    return {'proxy_nodes': proxy_nodes, 'manager_host': manager_address[0],
            'shm': shm_result, 'value': v.value, 'value_nodes': sorted({p.pid >> 22 for p in vs}),
            'exitcodes': [p.exitcode for p in ps + vs]}


def add_under_lock(value, rounds):
    for _ in range(rounds):
        with value.get_lock():
            value.value += 1


def on_node(host_id, target, *args):
    '''A process started on node `host_id`.'''
    from dragon.infrastructure.policy import Policy
    with Policy(placement=Policy.Placement.HOST_ID, host_id=host_id):
        p = mp.Process(target=target, args=args)
        p.start()
    return p


class Point(ctypes.Structure):
    _fields_ = [('x', ctypes.c_double), ('y', ctypes.c_double)]


def write_slices(arr, chars, raw, points, point, done):
    for p in points:                # the docs' example: elements are views, also remotely
        p.x **= 2
        p.y **= 2
    point.y = -point.x
    arr[100:200] = [float(i) for i in range(100)]
    arr[-1] = -1.0
    arr[1:9:2] = [7.0, 7.0, 7.0, 7.0]
    chars.value = b'from node %d' % where()[0]
    raw.value = 42
    done.put((where()[0], len(arr), arr[98:102], arr[::-250]))


def read_slices(arr, chars, raw, direct, out):
    try:
        memoryview(arr.get_obj())       # not mapped on this node: no buffer
        buffer = 'a buffer'
    except (TypeError, BufferError) as e:
        buffer = type(e).__name__
    out.put((buffer, where()[0], arr[100:200], arr[-1], arr[0:10], chars.value.decode(),
             chars.raw[:4].decode(), direct[:],
             raw.value, list(arr.get_obj()[195:205]),
             [c.decode() for c in chars][:4], list(arr)[100:103], len(list(arr.get_obj()))))


def values(nodes):
    '''Value, Array, RawValue and RawArray with their users on every node.'''
    counter = mp.Value('i', 0)
    rounds = 30
    ps = [mp.Process(target=add_under_lock, args=(counter, rounds)) for _ in range(2 * nodes)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(120)
    counted = {'total': counter.value, 'expected': rounds * len(ps),
               'nodes': sorted({p.pid >> 22 for p in ps}),
               'exitcodes': [p.exitcode for p in ps]}
    # slices written on the last node, read on node 1 and here
    arr, chars, raw = mp.Array('d', 1000), mp.Array('c', 16), mp.RawValue('i', 7)
    points = mp.Array(Point, [(1.5, -2.0), (3.0, 0.5)], lock=mp.Lock())
    point = mp.Value(Point, 4.0, 1.0)
    out = mp.Queue()
    w = on_node(nodes - 1, write_slices, arr, chars, raw, points, point, out)
    wrote = out.get(timeout=60)
    w.join(30)
    from multiprocessing import sharedctypes
    direct = sharedctypes.RawArray('i', [3, 4])     # sharedctypes itself: in the pool too
    r = on_node(1, read_slices, arr, chars, raw, direct, out)
    got = out.get(timeout=60)
    r.join(30)
    local = memoryview(arr.get_obj()).cast('B').cast('d')     # a view of the shared bytes
    return {'counter': counted, 'wrote': wrote, 'read': got,
            'here': [arr[150], local[150], local[999], chars.value.decode(), raw.value],
            'points': [(p.x, p.y) for p in points] + [(point.x, point.y)],
            'exitcodes': [w.exitcode, r.exitcode]}


def locked_access(arr, go, out):
    out.put(arr[0])         # the owner node takes the lock around the read: it waits
    go.get(timeout=60)
    arr[1] = 7              # and around the write
    out.put('written')


def locked(nodes):
    '''A synchronized Array's reads and writes from another node wait for its lock
    while this process holds it (the owner node takes it around each access).'''
    arr, go, out = mp.Array('i', 2), mp.Queue(), mp.Queue()
    lock = arr.get_lock()
    lock.acquire()
    p = on_node(1, locked_access, arr, go, out)
    time.sleep(0.5)         # the read is waiting now (or the child still starts)
    arr[0] = 5
    lock.release()
    first = out.get(timeout=60)
    lock.acquire()
    go.put('go')
    time.sleep(0.5)
    during = arr[1]
    lock.release()
    written = out.get(timeout=60)
    p.join(30)
    return {'first': first, 'during': during, 'after': arr[1], 'written': written,
            'exitcode': p.exitcode}


def use_sent(inbox, outbox, conn):
    '''Pascal's triangle, the shape of Dragon's shared_state_pascal_triangle: row k
    arrives through a queue as an Array with its Value, Lock and Event, made after this
    process started; the next row is written into it under the lock.'''
    for _ in range(3):
        row, length, lock, ready = inbox.get(timeout=60)
        with lock:
            n = length.value
            cells = row[:n]
            row[:n + 1] = [1] + [cells[i] + cells[i + 1] for i in range(n - 1)] + [1]
            length.value = n + 1
        ready.set()
    if not conn.poll(60):
        raise TimeoutError('nothing came through the pipe')
    back = conn.recv()
    outbox.put((where()[0], back))      # sent back: the owner gets its own memory again


def sent(nodes):
    inbox, outbox = mp.Queue(), mp.Queue()
    mine, theirs = mp.Pipe()
    p = on_node(nodes - 1, use_sent, inbox, outbox, theirs)
    rows = []
    row, length = mp.Array('l', 10, lock=False), mp.RawValue('i', 1)
    row[0] = 1
    lock = mp.Lock()
    for _ in range(3):
        ready = mp.Event()
        inbox.put((row, length, lock, ready))
        ready_in_time = ready.wait(60)
        with lock:
            rows.append(row[:length.value])
    v = mp.Value('d', 2.5)
    mine.send(v)                            # through a Pipe as well
    node, back = outbox.get(timeout=60)
    back.value = 7.25                       # its copy here is this memory
    p.join(30)
    return {'rows': rows, 'ready': ready_in_time, 'node': node, 'back': v.value,
            'same_type': type(back).__name__, 'exitcode': p.exitcode}


def drop_values(inbox, done):
    while True:
        item = inbox.get(timeout=60)
        if item is None:
            break
        done.put(item.value)


def churn(nodes):
    '''Values made and dropped in a loop, some sent to another node and dropped there:
    the pool's bytes come back (the job's pool is made small, so a leak exhausts it).'''
    from dragon import runtime
    pool = runtime.node_pool()
    inbox, done = mp.Queue(), mp.Queue()
    p = on_node(1, drop_values, inbox, done)

    def channel_bytes():        # the holder table grows as holders come (not a leak)
        return pool.stats()['bytes_in_use'] - pool.holder_bytes()

    before = channel_bytes()
    made = 0
    for i in range(3000):
        v = mp.Value('i', i)
        a = mp.Array('d', 64)
        a[0] = v.value
        if i % 100 == 0:
            inbox.put(v)
            assert done.get(timeout=60) == i
        made += 2
        del v, a
    inbox.put(None)
    p.join(30)
    deadline = time.monotonic() + 30
    while channel_bytes() > before and time.monotonic() < deadline:
        time.sleep(0.05)        # the remote holders' detaches arrive shortly
    return {'made': made, 'before': before, 'after': channel_bytes(),
            'capacity': pool.stats()['capacity'], 'exitcode': p.exitcode}


def make_remote_value(setup):
    v = mp.Value('i', 5)
    setup.put(v)
    time.sleep(600)


def value_loss(nodes):
    '''Reads a Value of node 1 until the test kills node 1's dragon-node: the read
    must fail with an error naming the node.'''
    import signal
    signal.signal(signal.SIGTERM, lambda *a: None)
    setup = mp.Queue()
    p = on_node(1, make_remote_value, setup)
    v = setup.get(timeout=30)
    first = v.value
    print('ready', os.environ['DRAGON_JOB_ID'], flush=True)
    t = time.monotonic()
    try:
        while time.monotonic() - t < 30:
            v.value
            time.sleep(0.01)
        return {'error': None}
    except Exception as e:
        return {'error': '%s: %s' % (type(e).__name__, e), 'after': time.monotonic() - t,
                'first': first}


def tell(q):
    from dragon.native import machine
    q.put((where()[0], machine.current().h_uid))


def policy(nodes):
    from dragon.infrastructure.policy import Policy
    from dragon.native import machine
    q = mp.Queue()
    placed = []
    for target in range(nodes):
        with Policy(placement=Policy.Placement.HOST_ID, host_id=target):
            p = mp.Process(target=tell, args=(q,))
            p.start()
        placed.append(q.get(timeout=30))
        p.join(30)
    with Policy(placement=Policy.Placement.LOCAL):
        with Policy(distribution=Policy.Distribution.ROUNDROBIN):   # inner: LOCAL stays
            p = mp.Process(target=tell, args=(q,))
            p.start()
    local = q.get(timeout=30)
    p.join(30)
    system = machine.System()
    return {'placed': placed, 'local': local, 'nnodes': system.nnodes,
            'primary': system.primary_node.is_primary,
            'cpus': [machine.Node(i).num_cpus for i in system.nodes],
            'cpu_count': machine.cpu_count(), 'mp_cpu_count': mp.cpu_count()}



def mixed(i):
    """Small objects, and every fifth a large one (a pool block; on a lane, read
    straight from the socket), with content that tells them apart."""
    return bytes([i]) * (100_000 + (i << 14)) if i % 5 == 0 else i


def put_mixed(q, back, lock, value, out):
    from dragon import gateway
    for i in range(60):
        q.put(mixed(i))
    got_back = [back.get(timeout=30) for _ in range(60)]
    with lock:
        value.value += 1
    out.put((got_back == [mixed(i) for i in range(60)],
             sorted(n for n, lane in gateway._lanes().items() if lane is not None)))


def lanes(nodes):
    q, back, out = mp.Queue(), mp.Queue(), mp.Queue()
    lock, value = mp.Lock(), mp.Value('i', 0)
    p = on_node(1, put_mixed, q, back, lock, value, out)
    got = [q.get(timeout=30) for _ in range(60)]
    for i in range(60):             # and the other way: the child gets them remotely
        back.put(mixed(i))
    back_in_order, used = out.get(timeout=60)
    p.join(30)
    return {'in_order': got == [mixed(i) for i in range(60)], 'back_in_order': back_in_order,
            'lanes': used, 'value': value.value, 'exitcode': p.exitcode}


def accept_and_send(conn):
    listener = connection.Listener()
    conn.send(listener.address)
    accepted = listener.accept()
    conn.send(accepted)              # a socket Connection: its fd goes by resource_sharer
    accepted.close()
    conn.recv()
    listener.close()


def dial(address):
    with connection.Client(address) as c:
        c.send('hello from %d' % int(os.environ['DRAGON_NODE_INDEX']))


def socket_connections(nodes):
    out = {}
    for node in (0, 1):
        a, b = mp.Pipe()
        lp = on_node(node, accept_and_send, b)
        address = a.recv()
        rp = on_node(1 - node, dial, address)
        try:
            out[str(node)] = a.recv().recv()
        except Exception as e:
            out[str(node)] = '%s: %s' % (type(e).__name__, e)
        a.send(None)
        for p in (lp, rp):
            p.join(30)
    return out


def fail_loudly():
    raise RuntimeError('a failure on node %d' % where()[0])


def remote_exception(nodes):
    p = mp.Process(target=fail_loudly)  # round-robin: node 1
    p.start()
    p.join(30)
    return {'exitcode': p.exitcode, 'node': p.pid >> 22}


def block_on(q, ready):
    ready.put(where()[0])
    q.get()


def wait_forever(nodes):
    '''Processes on every node blocked in get() on queues of other nodes, the head
    too, until the test signals dragon.'''
    q, ready = mp.Queue(), mp.Queue()
    ps = [mp.Process(target=block_on, args=(q, ready)) for _ in range(2 * nodes)]
    for p in ps:
        p.start()
    seen = sorted({ready.get(timeout=60) for _ in ps})
    print('ready', os.environ['DRAGON_JOB_ID'], seen, flush=True)
    q.get()


if __name__ == '__main__':
    mp.set_start_method('dragon')
    case = sys.argv[1]
    nodes = int(os.environ['DRAGON_NUM_NODES'])
    print(json.dumps(globals()[case](nodes)), flush=True)
