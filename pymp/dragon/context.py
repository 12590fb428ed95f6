#
# The 'dragon' start method: a context like multiprocessing.context's
# ForkServerContext, and its registration with multiprocessing.
#

import multiprocessing
from multiprocessing import context as _mp_context
from multiprocessing import process
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


# Factories that multiprocessing's default context must route to Dragon's when
# 'dragon' is the selected start method (stock ones cannot cross nodes).
_ROUTED = ('Queue', 'JoinableQueue', 'SimpleQueue', 'Pipe')


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
    # multiprocessing's module namespace holds methods bound at its import.
    for name in _ROUTED + ('get_all_start_methods',):
        setattr(multiprocessing, name, getattr(_mp_context._default_context, name))
