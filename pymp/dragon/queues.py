#
# Queue, JoinableQueue and SimpleQueue on channels, in the shape of
# multiprocessing.queues.
#
# A Queue is an unbounded items channel: a put() never waits for room, as with
# stock's feeder thread; what does not fit the channel's ring overflows to pool
# blocks, in order per producer (framework/dataplane/channel_overflow.cpp), so a
# Queue holds whatever the pool holds, and a full pool raises naming the knob.
# A bounded queue (maxsize > 0) also has a slots semaphore counting free places:
# put() takes one (waiting up to its timeout, else queue.Full), get() gives one
# back, so Full happens at exactly maxsize. A JoinableQueue counts unfinished
# tasks in a semaphore too (up to SEM_VALUE_MAX). There is no feeder thread:
# put() pickles and sends directly, and blocking calls release the GIL while
# they wait. An object that cannot be pickled is reported as stock's feeder
# thread reports it (_on_queue_feeder_error) and put() returns, so programs
# written for stock queues behave the same.
#
# Queues pickle to their channel descriptors, so they can be passed to children
# and also sent through other queues and pipes. A pickled descriptor holds a
# reference of its sender until a process unpickles it, and every channel is
# freed when its last reference in the job is gone (framework/dataplane/holders.hpp).
#

import queue as _queue
import threading
import time

from multiprocessing.synchronize import SEM_VALUE_MAX

from . import _dragon
from . import reduction
from . import remote
from . import runtime
from . import waits
from .connection import Connection

__all__ = ['Queue', 'SimpleQueue', 'JoinableQueue']

# Messages in an items channel's ring (more overflow to pool blocks): 1024 slots
# of 256 bytes are quick to set up (Pool makes three SimpleQueues) and take a
# 512 KiB pool block.
ITEM_CAPACITY = 1024
ITEM_SLOT_SIZE = 256            # pickles up to 240 bytes travel inline
_SEMAPHORE = 1                  # multiprocessing.synchronize.SEMAPHORE


def _timeout(block, timeout):
    '''A channel timeout (None: forever, 0: do not wait) from put/get arguments.'''
    if not block:
        return 0.0
    if timeout is None:
        return None
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return timeout


def _attach(descriptor):
    return remote.attach_channel(descriptor) if descriptor else None


def _new_items():
    return _dragon.Channel.create(runtime.node_pool(), ITEM_CAPACITY, ITEM_SLOT_SIZE, True)


def _new_counter(value, maxvalue, what):
    return _dragon.semlock_create(runtime.node_pool(), _SEMAPHORE, value, maxvalue, what)


def _counter_state(counter):
    return (counter._transit_handle(), counter.maxvalue, counter.name) if counter else None


def _attach_counter(state):
    if state is None:
        return None
    handle, maxvalue, name = state
    return remote.attach_semlock(handle, _SEMAPHORE, maxvalue, name)


class Queue(object):

    def __init__(self, maxsize=0, *, ctx=None):
        self._maxsize = maxsize if maxsize > 0 else 0
        if self._maxsize > SEM_VALUE_MAX:
            raise ValueError('maxsize %d is above SEM_VALUE_MAX (%d)' % (maxsize, SEM_VALUE_MAX))
        self._items = _new_items()
        self._slots = _new_counter(maxsize, maxsize, 'queue-slots') if maxsize > 0 else None
        self._after_init()

    def _after_init(self):
        self._closed = False

    def __getstate__(self):
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")
        return (self._maxsize, self._items.transit_descriptor(), _counter_state(self._slots))

    def __setstate__(self, state):
        maxsize, items, slots = state
        self._maxsize = maxsize
        self._items = _attach(items)
        self._slots = _attach_counter(slots)
        self._after_init()

    def _check_closed(self):
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")

    def put(self, obj, block=True, timeout=None):
        self._put(obj, block, timeout)

    def _put(self, obj, block, timeout):
        '''Sends obj; False when it could not be pickled. As stock's feeder thread
        does, that error goes to _on_queue_feeder_error (which prints it) and the
        queue carries on, instead of raising from put().'''
        self._check_closed()
        try:
            parts = reduction.dumps_parts(obj)
        except Exception as e:
            self._on_queue_feeder_error(e, obj)
            return False
        if self._slots is None and timeout is None and block:
            # The common case, kept short: unbounded, blocking, no timeout.
            reduction.send_parts(self._items, parts)
            return True
        t = _timeout(block, timeout)
        if self._slots is not None and not self._slots.acquire(block, t):
            raise _queue.Full
        try:
            reduction.send_parts(self._items, parts, t)
        except TimeoutError:
            self._give_back_slot()
            raise _queue.Full from None
        except BaseException:
            self._give_back_slot()
            raise
        return True

    @staticmethod
    def _on_queue_feeder_error(e, obj):
        '''The hook stock Queue calls when an object cannot be pickled, for
        subclasses to override; prints the traceback.'''
        import traceback
        traceback.print_exc()

    def _give_back_slot(self):
        if self._slots is not None:
            self._slots.release()

    def get(self, block=True, timeout=None):
        self._check_closed()
        t = _timeout(block, timeout)
        try:
            if t is None:
                message = waits.recv_watching(self._items, self._items.recv_payload,
                                              '%s.get()' % type(self).__name__)
            else:
                message = self._items.recv_payload(t)
        except TimeoutError:
            raise _queue.Empty from None
        if self._slots is not None:
            self._slots.release()
        return reduction.loads_message(message)

    def qsize(self):
        return self._items.size()

    def empty(self):
        return self._items.size() == 0

    def full(self):
        return self._slots is not None and self._slots._is_zero()

    def get_nowait(self):
        return self.get(False)

    def put_nowait(self, obj):
        return self.put(obj, False)

    def close(self):
        '''No more puts or gets from this process (as in multiprocessing).'''
        self._closed = True

    def join_thread(self):
        # There is no feeder thread: everything put() has already been sent.
        assert self._closed, "Queue {0!r} not closed".format(self)

    def cancel_join_thread(self):
        pass

    def __repr__(self):
        return '<%s maxsize=%d>' % (type(self).__name__, self._maxsize)


class JoinableQueue(Queue):

    def __init__(self, maxsize=0, *, ctx=None):
        self._tasks = _new_counter(0, SEM_VALUE_MAX, 'unfinished-tasks')
        Queue.__init__(self, maxsize, ctx=ctx)

    def __getstate__(self):
        return Queue.__getstate__(self) + (_counter_state(self._tasks),)

    def __setstate__(self, state):
        Queue.__setstate__(self, state[:-1])
        self._tasks = _attach_counter(state[-1])

    def put(self, obj, block=True, timeout=None):
        self._check_closed()
        _timeout(block, timeout)
        # The task is counted before the item is visible, so a consumer's
        # task_done() can never find the count empty.
        try:
            self._tasks.release()
        except ValueError:
            raise ValueError('more than %d unfinished tasks' % SEM_VALUE_MAX) from None
        try:
            sent = self._put(obj, block, timeout)
        except BaseException:
            self._tasks.acquire(False)
            raise
        if not sent:
            # Unlike stock, an item that was never sent is not left counted, so
            # join() does not wait for it forever.
            self._tasks.acquire(False)

    def task_done(self):
        if not self._tasks.acquire(False):
            raise ValueError('task_done() called too many times')

    def join(self, timeout=None):
        '''Blocks until every item put has been task_done(); with `timeout`
        (an extension) returns False if that did not happen in time.'''
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0002
        while not self._tasks._is_zero():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.005)
        return True


class _NoLock(object):
    '''Stands for SimpleQueue's write lock: a channel send needs none.'''

    def acquire(self, block=True, timeout=None):
        return True

    def release(self):
        pass

    __enter__ = acquire

    def __exit__(self, *args):
        pass


_NO_LOCK = _NoLock()


class _ReadLock(object):
    '''SimpleQueue's read lock as others see it (multiprocessing.pool takes it to
    drain the queue at terminate()), knowing which thread of this process holds it.'''

    def __init__(self, semlock):
        self.semlock = semlock
        self.holder = None

    def acquire(self, block=True, timeout=None):
        got = self.semlock.acquire(block, timeout)
        if got:
            self.holder = threading.get_ident()
        return got

    def release(self):
        self.holder = None
        self.semlock.release()

    __enter__ = acquire

    def __exit__(self, *args):
        self.release()

    def held_by_me(self):
        return self.holder == threading.get_ident()


class _DrainingReader(Connection):
    '''SimpleQueue's reading end. multiprocessing.pool drains the queue at terminate()
    with poll() then recv() while it holds the read lock; a getter on another node
    takes no lock (SimpleQueue.get), so it may take that item in between: the lock
    holder's recv() then gives None (the drain drops what it reads) instead of
    waiting for an item that may never come.'''

    def __init__(self, channel, read_lock):
        super().__init__(recv_channel=channel)
        self._read_lock = read_lock

    def recv(self):
        if not self._read_lock.held_by_me():
            return super().recv()
        self._check_closed()
        if self._eof:
            raise EOFError
        try:
            msg = self._recv_ch.recv_payload(0)
        except TimeoutError:
            return None
        self._refresh_readiness()
        self._check_eof(msg)
        return reduction.loads_message(msg)


class SimpleQueue(object):

    def __init__(self, *, ctx=None):
        pool = runtime.node_pool()
        self._items = _new_items()     # unbounded: put() never blocks
        # The read lock, as stock's: get() on this node holds it, so that one getter
        # at a time waits on the channel (a send wakes every waiter), and
        # multiprocessing.pool takes it to drain the queue while stopping.
        self._semlock = _dragon.semlock_create(pool, _SEMAPHORE, 1, 1, 'simplequeue-rlock')
        self._after_init()

    def _after_init(self):
        self._closed = False
        # A getter on another node waits at the owner node, which hands each message
        # to one waiter: the lock there would only add two round trips per get().
        self._get_locks = not isinstance(self._items, remote.RemoteChannel)
        self._rlock = _ReadLock(self._semlock)
        # The same channel seen as pipe ends, as multiprocessing.pool expects.
        self._reader = _DrainingReader(self._items, self._rlock)
        self._writer = Connection(send_channel=self._items)
        self._wlock = _NO_LOCK       # a channel send needs no lock

    def __getstate__(self):
        return (self._items.transit_descriptor(), self._semlock._transit_handle())

    def __setstate__(self, state):
        items, rlock = state
        self._items = _attach(items)
        self._semlock = remote.attach_semlock(rlock, _SEMAPHORE, 1, 'simplequeue-rlock')
        self._after_init()

    def _check_closed(self):
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")

    def close(self):
        self._closed = True
        self._reader.close()
        self._writer.close()

    def empty(self):
        return self._items.size() == 0

    def get(self):
        self._check_closed()
        with self._semlock if self._get_locks else _NO_LOCK:
            obj = reduction.loads_message(waits.recv_watching(
                self._items, self._items.recv_payload, 'SimpleQueue.get()'))
        self._reader._refresh_readiness()
        return obj

    def put(self, obj):
        self._check_closed()
        reduction.send_object(self._items, obj)
