#
# Lock, RLock, Semaphore, BoundedSemaphore and Barrier for the 'dragon' start
# method, in the shape of multiprocessing.synchronize.
#
# Every SemLock is a semaphore channel in the node's pool (_dragon.SemLock): a
# channel is the primitive the runtime makes reachable from other nodes, so these
# are too, and none of them is a POSIX named semaphore that a killed job would
# leave in /dev/shm. Condition and Event are CPython's own classes: given this
# context they are built from these locks and semaphores. Barrier is CPython's,
# with its two shared integers (state, count) kept as one message in a channel
# instead of in a shared-memory heap block.
#

import itertools
import os
import struct

from multiprocessing import process
from multiprocessing import synchronize as _stock
from multiprocessing import util

from . import _dragon
from . import remote
from . import runtime

__all__ = ['Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Barrier', 'SEM_VALUE_MAX']

RECURSIVE_MUTEX = _stock.RECURSIVE_MUTEX
SEMAPHORE = _stock.SEMAPHORE
SEM_VALUE_MAX = _stock.SEM_VALUE_MAX

_names = itertools.count()


class SemLock(object):

    def __init__(self, kind, value, maxvalue, *, ctx=None):
        if not 0 <= value <= SEM_VALUE_MAX:
            raise ValueError('semaphore value %r is out of range: it must be between 0 and %d'
                             % (value, SEM_VALUE_MAX))
        name = '%s-%d-%d' % (process.current_process()._config.get('semprefix', '/mp'),
                             os.getpid(), next(_names))
        self._semlock = _dragon.semlock_create(runtime.node_pool(), kind, value, maxvalue, name)
        util.debug('created semlock with handle %s' % self._semlock.handle)
        self._make_methods()
        util.register_after_fork(self, SemLock._after_fork)

    @staticmethod
    def _after_fork(obj):
        obj._semlock._after_fork()

    def _make_methods(self):
        self.acquire = self._semlock.acquire
        self.release = self._semlock.release

    def __enter__(self):
        return self._semlock.__enter__()

    def __exit__(self, *args):
        return self._semlock.__exit__(*args)

    def __getstate__(self):
        # Unlike stock (inheritance only), and as in Dragon, a lock can also be sent
        # through a Queue or a Pipe to a process already running: it is a channel.
        sl = self._semlock
        return (sl._transit_handle(), sl.kind, sl.maxvalue, sl.name)

    def __setstate__(self, state):
        self._semlock = remote.attach_semlock(*state)
        util.debug('recreated blocker with handle %r' % state[0])
        self._make_methods()


class Semaphore(SemLock):

    def __init__(self, value=1, *, ctx=None):
        SemLock.__init__(self, SEMAPHORE, value, SEM_VALUE_MAX, ctx=ctx)

    get_value = _stock.Semaphore.get_value
    __repr__ = _stock.Semaphore.__repr__


class BoundedSemaphore(Semaphore):

    def __init__(self, value=1, *, ctx=None):
        SemLock.__init__(self, SEMAPHORE, value, value, ctx=ctx)

    __repr__ = _stock.BoundedSemaphore.__repr__


class Lock(SemLock):

    def __init__(self, *, ctx=None):
        SemLock.__init__(self, SEMAPHORE, 1, 1, ctx=ctx)

    __repr__ = _stock.Lock.__repr__


class RLock(SemLock):

    def __init__(self, *, ctx=None):
        SemLock.__init__(self, RECURSIVE_MUTEX, 1, 1, ctx=ctx)

    __repr__ = _stock.RLock.__repr__


# How long a Barrier waits for its state register: it is only ever held for a
# read or a write, so running out means its holder died in between.
_REGISTER_TIMEOUT = 30.0
_STATE = struct.Struct('<ii')


class _SharedInts(object):
    '''Two integers every process of the job can read and write: one message in a
    channel, taken and put back, so the channel itself serializes the accesses.'''

    def __init__(self, channel):
        self._channel = channel

    @classmethod
    def create(cls, first, second):
        channel = _dragon.Channel.create(runtime.node_pool(), 2, 64)
        channel.send(_STATE.pack(first, second), 0)
        return cls(channel)

    def __reduce__(self):
        return (_attach_shared_ints, (self._channel.transit_descriptor(),))

    def _take(self):
        try:
            return _STATE.unpack(self._channel.recv(_REGISTER_TIMEOUT).tobytes())
        except TimeoutError:
            raise RuntimeError('the barrier state register was not given back within %d s: a '
                               'process died while updating it' % _REGISTER_TIMEOUT) from None

    def get(self):
        values = self._take()
        self._channel.send(_STATE.pack(*values), 0)
        return values

    def set(self, index, value):
        values = list(self._take())
        values[index] = value
        self._channel.send(_STATE.pack(*values), 0)


def _attach_shared_ints(descriptor):
    return _SharedInts(remote.attach_channel(descriptor))


class Condition(_stock.Condition):
    '''Stock's Condition on Dragon's locks, which may also be sent through a Queue or
    a Pipe (so may an Event, built on it).'''

    def __getstate__(self):
        return (self._lock, self._sleeping_count, self._woken_count, self._wait_semaphore)


class Barrier(_stock.Barrier):

    def __init__(self, parties, action=None, timeout=None, *, ctx):
        # Stock's Barrier imports multiprocessing.heap (its counters live there), and
        # code that reaches multiprocessing.heap after creating one relies on it.
        import multiprocessing.heap  # noqa: F401
        cond = ctx.Condition()
        self.__setstate__((parties, action, timeout, cond, _SharedInts.create(0, 0)))

    def __setstate__(self, state):
        (self._parties, self._action, self._timeout, self._cond, self._ints) = state

    def __getstate__(self):
        return (self._parties, self._action, self._timeout, self._cond, self._ints)

    @property
    def _state(self):
        return self._ints.get()[0]

    @_state.setter
    def _state(self, value):
        self._ints.set(0, value)

    @property
    def _count(self):
        return self._ints.get()[1]

    @_count.setter
    def _count(self, value):
        self._ints.set(1, value)
