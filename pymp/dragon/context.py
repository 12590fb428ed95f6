#
# The 'dragon' start method: a context like multiprocessing.context's
# ForkServerContext, and its registration with multiprocessing.
#

import multiprocessing
import os
import sys
from multiprocessing import connection as mp_connection
from multiprocessing import context as _mp_context
from multiprocessing import process
from multiprocessing import queues
from multiprocessing import spawn

__all__ = ['DragonProcess', 'DragonContext', 'register']


class DragonProcess(process.BaseProcess):
    _start_method = 'dragon'

    @staticmethod
    def _Popen(process_obj):
        from .popen_dragon import DragonPopen
        return DragonPopen(process_obj)


class DragonContext(_mp_context.BaseContext):
    _name = 'dragon'
    Process = DragonProcess

    def Queue(self, maxsize=0):
        from .queues import Queue
        return Queue(maxsize, ctx=self.get_context())

    def JoinableQueue(self, maxsize=0):
        from .queues import JoinableQueue
        return JoinableQueue(maxsize, ctx=self.get_context())

    def SimpleQueue(self):
        from .queues import SimpleQueue
        return SimpleQueue(ctx=self.get_context())

    def Pipe(self, duplex=True):
        from .connection import Pipe
        return Pipe(duplex)

    def Lock(self):
        from .synchronize import Lock
        return Lock(ctx=self.get_context())

    def RLock(self):
        from .synchronize import RLock
        return RLock(ctx=self.get_context())

    def Semaphore(self, value=1):
        from .synchronize import Semaphore
        return Semaphore(value, ctx=self.get_context())

    def BoundedSemaphore(self, value=1):
        from .synchronize import BoundedSemaphore
        return BoundedSemaphore(value, ctx=self.get_context())

    def Condition(self, lock=None):
        from .synchronize import Condition
        return Condition(lock, ctx=self.get_context())

    def Barrier(self, parties, action=None, timeout=None):
        from .synchronize import Barrier
        return Barrier(parties, action, timeout, ctx=self.get_context())

    # Value, Array, RawValue, RawArray: in memory channels of the node's pool, usable
    # from every node and picklable to running processes (see sharedctypes.py).
    def RawValue(self, typecode_or_type, *args):
        from .sharedctypes import RawValue
        return RawValue(typecode_or_type, *args)

    def RawArray(self, typecode_or_type, size_or_initializer):
        from .sharedctypes import RawArray
        return RawArray(typecode_or_type, size_or_initializer)

    def Value(self, typecode_or_type, *args, lock=True):
        from .sharedctypes import Value
        return Value(typecode_or_type, *args, lock=lock, ctx=self.get_context())

    def Array(self, typecode_or_type, size_or_initializer, *, lock=True):
        from .sharedctypes import Array
        return Array(typecode_or_type, size_or_initializer, lock=lock, ctx=self.get_context())

    def Manager(self):
        '''A started SyncManager whose connections spin before they block
        (see managers.py).'''
        from multiprocessing.managers import SyncManager
        from .managers import SERIALIZER
        m = SyncManager(ctx=self.get_context(), serializer=SERIALIZER)
        m.start()
        return m

    def cpu_count(self):
        '''The CPUs the job may use: the sum over its nodes of each node's usable CPUs.'''
        from .runtime import job_cpu_count
        return job_cpu_count()


# Factories that multiprocessing's default context must route to Dragon's when
# 'dragon' is the selected start method (stock ones cannot cross nodes).
# (Event needs no routing: CPython's is built from the context's Condition and Lock.)
_ROUTED = ('Queue', 'JoinableQueue', 'SimpleQueue', 'Pipe', 'Lock', 'RLock', 'Semaphore',
           'BoundedSemaphore', 'Condition', 'Barrier', 'Manager', 'cpu_count', 'RawValue',
           'RawArray', 'Value', 'Array')


def _routed(name, stock):
    def method(self, *args, **kwargs):
        # Peek, do not select: a stock program keeps its exact behaviour.
        actual = self._actual_context
        if isinstance(actual, DragonContext):
            return getattr(actual, name)(*args, **kwargs)
        return stock(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = stock.__doc__
    return method


def _preparation_data_for_stock_children(stock):
    # A spawn or forkserver child applies the parent's start method before it
    # imports anything that could register 'dragon'; such children get the
    # platform default instead (DragonPopen puts 'dragon' back for its own).
    def get_preparation_data(name):
        data = stock(name)
        if data.get('start_method') == 'dragon':
            del data['start_method']
        return data
    get_preparation_data.stock = stock
    return get_preparation_data


def _queue_init_on_channels(stock_init):
    # CPython's own Queue class (concurrent.futures subclasses it) with a 'dragon'
    # context: its pipe becomes a channel pipe, so no OS pipe has to reach the
    # children (it could not reach another node).
    def __init__(self, maxsize=0, *, ctx):
        stock_init(self, maxsize, ctx=ctx)
        if isinstance(ctx, DragonContext):
            from .connection import Pipe
            self._reader.close()
            self._writer.close()
            self._reader, self._writer = Pipe(duplex=False)
            self._reset()
    __init__.stock = stock_init
    return __init__


def register():
    '''Registers 'dragon' with multiprocessing; spawn, fork and forkserver are unchanged.'''
    if 'dragon' in _mp_context._concrete_contexts:
        return
    _mp_context._concrete_contexts['dragon'] = DragonContext()
    default_cls = _mp_context.DefaultContext
    stock_methods = default_cls.get_all_start_methods

    def get_all_start_methods(self):
        methods = stock_methods(self)
        return methods if 'dragon' in methods else methods + ['dragon']
    default_cls.get_all_start_methods = get_all_start_methods
    for name in _ROUTED:
        setattr(default_cls, name, _routed(name, getattr(default_cls, name)))
    spawn.get_preparation_data = _preparation_data_for_stock_children(spawn.get_preparation_data)
    queues.Queue.__init__ = _queue_init_on_channels(queues.Queue.__init__)
    from .managers import register_serializer
    register_serializer()
    from .sharedctypes import install as install_sharedctypes
    install_sharedctypes()
    from .connection import exact_wait
    mp_connection.wait = exact_wait(mp_connection.wait)
    if os.environ.get('DRAGON_NUM_NODES', '1') != '1':
        from .node_local import install
        install()
    pool_module = sys.modules.get('multiprocessing.pool')
    if pool_module is not None:       # imported before dragon: it holds the stock wait
        pool_module.wait = mp_connection.wait
    # multiprocessing's module namespace holds methods bound at its import.
    for name in _ROUTED + ('get_all_start_methods',):
        setattr(multiprocessing, name, getattr(_mp_context._default_context, name))
