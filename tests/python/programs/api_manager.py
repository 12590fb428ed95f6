# multiprocessing.Manager (SyncManager) with every proxy type used from child
# processes, BaseManager subclasses with register(), a manager reached by
# address and authkey, and connection.Listener/Client with authkey, with the
# semantics CPython documents.
# Usage: api_manager.py [start-method [check...]]
import multiprocessing as mp
import queue
import threading
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener
from multiprocessing.managers import BaseManager, BaseProxy, DictProxy, SyncManager

from api_common import (LONG, check, expect, hold_lock, join_all, main, method, start, wait_until,
                        within)

ROUNDS = 50


# --- registered types (module level: the manager's server process imports them) --

class Counter:
    def __init__(self, start=0):
        self._value = start
        self._lock = threading.Lock()

    def inc(self, by=1):
        with self._lock:
            self._value += by
            return self._value

    def get(self):
        return self._value

    def _hidden(self):
        return 'should not be reachable'


class CounterProxy(BaseProxy):
    _exposed_ = ('inc', 'get')

    def inc(self, by=1):
        return self._callmethod('inc', (by,))

    def get(self):
        return self._callmethod('get')


class Factory:
    def make(self, start):
        return Counter(start)


_shared_dict = {}


def get_shared_dict():
    return _shared_dict


class MyManager(BaseManager):
    pass


MyManager.register('Counter', Counter)                       # auto proxy, public methods
MyManager.register('ProxiedCounter', Counter, proxytype=CounterProxy)
# A typeid with no callable: the proxy type for objects that methods return.
MyManager.register('MadeCounter', proxytype=CounterProxy, create_method=False)
MyManager.register('Factory', Factory, method_to_typeid={'make': 'MadeCounter'})


class RemoteManager(BaseManager):
    pass


RemoteManager.register('get_shared', callable=get_shared_dict, proxytype=DictProxy)


# --- children -----------------------------------------------------------------

def use_containers(lst, dct, ns, nested):
    lst.append(3)
    lst.extend([4, 5])
    dct['b'] = 2
    dct.update(c=3)
    ns.y = 'from child'
    ns.x += 1
    nested[0]['inner'] = 'set through the outer list'


def increment_managed(v, arr, lock):
    for _ in range(ROUNDS):
        with lock:
            v.value += 1
            arr[0] = arr[0] + 1
            arr[2] = arr[2] - 1


def produce(q, n):
    for i in range(n):
        q.put(('item', i))


def consume_joinable(jq, out):
    while True:
        item = jq.get(timeout=LONG)
        if item is None:
            jq.task_done()
            return
        out.put(item * 10)
        jq.task_done()


def cond_waiter(cond, out):
    with cond:
        out.put('waiting')
        out.put(('woken', cond.wait(timeout=LONG)))


def event_waiter(ev, out):
    out.put(('event', ev.wait(LONG)))


def barrier_party(b, out):
    try:
        out.put(('index', b.wait(timeout=LONG)))
    except threading.BrokenBarrierError:
        out.put(('broken',))


def square(x):
    return x * x


def use_registered(counter, proxied, n):
    for _ in range(n):
        counter.inc()
        proxied.inc(2)


def use_remote(address, authkey, out):
    m = RemoteManager(address=address, authkey=authkey)
    m.connect()
    shared = m.get_shared()
    shared['from child'] = 'hello'
    out.put(sorted(shared.keys()))


def wrong_remote(address, out):
    m = RemoteManager(address=address, authkey=b'not the key')
    try:
        m.connect()
    except AuthenticationError:
        out.put('AuthenticationError')
    else:
        out.put('connected with a wrong key')


def proxy_user(inbox, out):
    lst, dct = inbox.get(timeout=LONG)
    lst.append('via queue')
    dct['via'] = 'queue'
    out.put('done')


def fill_dict(d, out):
    d['from child'] = 'hello'
    out.put('used')


def append_to(args):
    lst, x = args
    lst.append(x)
    return x


def client(address, authkey, out):
    try:
        with Client(address, authkey=authkey) as c:
            c.send({'hello': 'from child', 'n': [1, 2, 3]})
            c.send_bytes(b'raw bytes')
            out.put(('reply', c.recv()))
    except AuthenticationError:
        out.put(('AuthenticationError',))


# --- checks ---------------------------------------------------------------------

@check
def check_manager_list_dict_namespace_nested():
    with mp.Manager() as m:
        assert isinstance(m, SyncManager)
        lst, dct, ns = m.list([1, 2]), m.dict(a=1), m.Namespace(x=1)
        nested = m.list([m.dict()])
        p = start(use_containers, lst, dct, ns, nested)
        join_all([p])
        assert lst[:] == [1, 2, 3, 4, 5] and len(lst) == 5 and lst[-1] == 5
        assert dct.copy() == {'a': 1, 'b': 2, 'c': 3} and sorted(dct.keys()) == ['a', 'b', 'c']
        assert dct.get('zz', 0) == 0 and 'b' in dct
        assert (ns.x, ns.y) == (2, 'from child')
        assert nested[0]['inner'] == 'set through the outer list'
        expect(IndexError, lst.__getitem__, 10)          # exceptions come back as themselves
        expect(KeyError, dct.__getitem__, 'missing')
        expect(AttributeError, getattr, ns, 'missing')


@check
def check_manager_value_array_lock_exact_totals():
    with mp.Manager() as m:
        v, arr, lock = m.Value('i', 0), m.Array('i', [0, 7, 0]), m.Lock()
        assert v.value == 0 and len(arr) == 3 and arr[1] == 7
        procs = [start(increment_managed, v, arr, lock) for _ in range(3)]
        join_all(procs, timeout=60)
        assert v.value == 3 * ROUNDS, v.value
        assert list(arr) == [3 * ROUNDS, 7, -3 * ROUNDS], list(arr)
        v.value = 5
        assert v.get() == 5


@check
def check_manager_queue_and_joinable_queue():
    with mp.Manager() as m:
        q = m.Queue()
        assert q.empty() and q.qsize() == 0
        expect(queue.Empty, q.get, timeout=0.2)
        p = start(produce, q, 20)
        assert [q.get(timeout=LONG) for _ in range(20)] == [('item', i) for i in range(20)]
        join_all([p])
        small = m.Queue(1)
        small.put('x')
        assert small.full()
        expect(queue.Full, small.put, 'y', timeout=0.2)
        expect(queue.Full, small.put_nowait, 'y')
        jq, out = m.JoinableQueue(), mp.Queue()
        for i in range(5):
            jq.put(i)
        jq.put(None)
        p = start(consume_joinable, jq, out)
        within(LONG, jq.join)                            # every item was task_done()
        assert sorted(out.get(timeout=LONG) for _ in range(5)) == [0, 10, 20, 30, 40]
        join_all([p])


@check
def check_manager_lock_rlock_semaphores():
    with mp.Manager() as m:
        out, go = mp.Queue(), mp.Queue()
        for lock in (m.Lock(), m.RLock()):
            p = start(hold_lock, lock, out, go)
            assert out.get(timeout=LONG) == 'held'
            assert lock.acquire(timeout=0.2) is False
            assert lock.acquire(False) is False
            go.put('go')
            assert out.get(timeout=LONG) == 'released'
            assert lock.acquire(timeout=LONG) is True
            lock.release()
            join_all([p])
        rl = m.RLock()
        with rl:
            assert rl.acquire(timeout=LONG)                  # recursive
            rl.release()
        expect(RuntimeError, rl.release)                     # threading.RLock's error
        sem = m.Semaphore(2)
        p = start(hold_lock, sem, out, go)
        assert out.get(timeout=LONG) == 'held'
        assert sem.acquire(timeout=LONG) is True
        assert sem.acquire(timeout=0.2) is False
        go.put('go')
        assert out.get(timeout=LONG) == 'released'
        assert sem.acquire(timeout=LONG) is True
        join_all([p])
        bs = m.BoundedSemaphore(1)
        expect(ValueError, bs.release)
        assert bs.acquire(timeout=LONG)
        bs.release()


@check
def check_manager_condition_event_barrier():
    with mp.Manager() as m:
        cond, out = m.Condition(), mp.Queue()
        with cond:
            assert cond.wait(0.2) is False
            assert cond.wait_for(lambda: False, timeout=0.2) is False
        p = start(cond_waiter, cond, out)
        assert out.get(timeout=LONG) == 'waiting'
        with cond:
            cond.notify()
        assert out.get(timeout=LONG) == ('woken', True)
        join_all([p])
        ev = m.Event()
        assert not ev.is_set() and ev.wait(0.2) is False
        p = start(event_waiter, ev, out)
        ev.set()
        assert out.get(timeout=LONG) == ('event', True) and ev.is_set()
        ev.clear()
        assert not ev.is_set()
        join_all([p])
        b = m.Barrier(3)
        assert b.parties == 3 and not b.broken
        procs = [start(barrier_party, b, out) for _ in range(2)]
        mine = b.wait(timeout=LONG)
        assert sorted([mine] + [out.get(timeout=LONG)[1] for _ in procs]) == [0, 1, 2]
        join_all(procs)
        procs = [start(barrier_party, b, out) for _ in range(2)]
        wait_until(lambda: b.n_waiting == 2, what='two waiters')
        b.abort()
        assert [out.get(timeout=LONG) for _ in procs] == [('broken',), ('broken',)]
        assert b.broken
        expect(threading.BrokenBarrierError, b.wait, timeout=LONG)
        b.reset()
        assert not b.broken
        join_all(procs)


@check
def check_manager_pool():
    with mp.Manager() as m:
        pool = m.Pool(2)
        assert pool.map(square, range(10)) == [x * x for x in range(10)]
        assert pool.apply_async(square, (3,)).get(timeout=LONG) == 9
        r = pool.map_async(square, range(5))
        assert r.get(timeout=LONG) == [0, 1, 4, 9, 16]
        assert list(pool.imap(square, range(4))) == [0, 1, 4, 9]
        assert pool.starmap(pow, [(2, 3), (3, 2)]) == [8, 9]
        pool.close()
        within(LONG, pool.join)


@check
def check_proxies_travel_through_queue_and_pool_arguments():
    with mp.Manager() as m:
        lst, dct = m.list(), m.dict()
        inbox, out = mp.Queue(), mp.Queue()
        p = start(proxy_user, inbox, out)
        inbox.put((lst, dct))                            # after the child started
        assert out.get(timeout=LONG) == 'done'
        join_all([p])
        with mp.Pool(2) as pool:
            assert sorted(pool.map(append_to, [(lst, i) for i in range(6)])) == list(range(6))
            pool.close()
            within(LONG, pool.join)
        assert lst[0] == 'via queue' and sorted(lst[1:]) == list(range(6))
        assert dct.copy() == {'via': 'queue'}


@check
def check_base_manager_register():
    with MyManager() as m:
        counter, proxied = m.Counter(), m.ProxiedCounter(100)
        assert isinstance(proxied, CounterProxy)
        procs = [start(use_registered, counter, proxied, 10) for _ in range(3)]
        join_all(procs)
        assert counter.get() == 30 and proxied.get() == 160
        expect(AttributeError, getattr, counter, '_hidden')  # only public methods exposed
        made = m.Factory().make(41)                          # method_to_typeid: a proxy back
        assert isinstance(made, CounterProxy) and made.inc() == 42 and made.get() == 42
        assert not hasattr(m, 'MadeCounter')                 # create_method=False
    m = MyManager()
    m.start()
    assert m.Counter(5).inc() == 6
    within(LONG, m.shutdown)


@check
def check_manager_by_address_and_authkey():
    m = RemoteManager(address=('127.0.0.1', 0), authkey=b'secret')
    m.start()
    try:
        out = mp.Queue()
        p = start(use_remote, m.address, b'secret', out)
        assert out.get(timeout=LONG) == ['from child']
        join_all([p])
        assert m.get_shared().copy() == {'from child': 'hello'}
        p = start(wrong_remote, m.address, out)
        assert out.get(timeout=LONG) == 'AuthenticationError'
        join_all([p])
        expect(AuthenticationError, RemoteManager(address=m.address, authkey=b'bad').connect)
    finally:
        within(LONG, m.shutdown)


@check
def check_listener_client_with_authkey():
    out = mp.Queue()
    for address, family in ((('127.0.0.1', 0), None), (None, 'AF_UNIX')):
        with Listener(address, family=family, authkey=b'key') as listener:
            p = start(client, listener.address, b'key', out)
            with within(LONG, listener.accept) as conn:
                assert conn.poll(LONG)
                assert conn.recv() == {'hello': 'from child', 'n': [1, 2, 3]}
                assert conn.recv_bytes() == b'raw bytes'
                conn.send(('thanks', family))
                assert out.get(timeout=LONG) == ('reply', ('thanks', family))
            join_all([p])
            p = start(client, listener.address, b'wrong', out)
            expect(AuthenticationError, within, LONG, listener.accept)
            assert out.get(timeout=LONG) == ('AuthenticationError',)
            join_all([p])


@check
def check_manager_connections_interoperate_with_stock_ones():
    # mp.Manager() under 'dragon' talks through connections that spin before
    # they block (serializer 'dragon'); the bytes are stock's, so a stock client
    # reaches its server, and a spawn manager in the same program stays stock.
    m = mp.Manager()
    try:
        assert m._serializer == ('dragon' if method() == 'dragon' else 'pickle'), m._serializer
        d = m.dict()
        out = mp.Queue()
        p = start(fill_dict, d, out)
        assert out.get(timeout=LONG) == 'used'
        join_all([p])
        stock = SyncManager(address=m.address, authkey=bytes(mp.current_process().authkey))
        stock.connect()
        assert stock._serializer == 'pickle'
        lst = stock.list(range(3))
        lst.append(d['from child'])
        assert lst[:] == [0, 1, 2, 'hello'], lst[:]
        spawn_manager = mp.get_context('spawn').Manager()
        with spawn_manager:
            assert spawn_manager._serializer == 'pickle'
            assert spawn_manager.dict(a=1).copy() == {'a': 1}
    finally:
        within(LONG, m.shutdown)


if __name__ == '__main__':
    main()
