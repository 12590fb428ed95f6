#
# Value, Array, RawValue and RawArray for the 'dragon' start method (and
# multiprocessing.sharedctypes while 'dragon' is the selected method), in the
# shape of multiprocessing.sharedctypes.
#
# Each object's memory is a memory channel in the node's pool (shared memory every
# process of the node maps already), not a block of CPython's fd-passed heap. So:
#   - on the node that made it, it is a real ctypes object over that memory, with
#     stock's synchronized wrappers and lock semantics: accesses cost what stock's
#     cost, and np.frombuffer(arr.get_obj()) is a view of the shared bytes;
#   - pickled (at process start, or through a Queue or a Pipe to a process already
#     running: as in Dragon, unlike stock) it is the channel's transit descriptor,
#     which keeps it alive until received; unpickled on its node it is that memory
#     again, on another node a proxy with the same interface whose reads and writes
#     are one gateway request each, performed by the owner node's dragon-node in its
#     shared memory (a slice is one request);
#   - its lifetime is the channel's: freed when the last holder in the job drops it
#     or dies (a program making Values in a loop gives their memory back).
#

import ctypes
import multiprocessing
import operator
from multiprocessing import sharedctypes as _stock

from . import _dragon
from . import remote
from . import runtime

__all__ = ['RawValue', 'RawArray', 'Value', 'Array', 'SharedBlock', 'install']


class SharedBlock(object):
    '''The memory of one Value or Array: a memory channel of some node's pool. It has
    the interface of multiprocessing.heap.BufferWrapper that stock's rebuild_ctype
    uses (create_memoryview) where the channel is this node's.'''

    def __init__(self, channel, size):
        self._channel = channel
        self._size = size

    @classmethod
    def create(cls, size):
        # A memory channel holds at least one byte (a zero-length Array has none).
        return cls(_dragon.Channel.create_memory(runtime.node_pool(), max(size, 1)), size)

    @property
    def local(self):
        return isinstance(self._channel, _dragon.Channel)

    @property
    def channel(self):
        return self._channel

    def create_memoryview(self):
        if not self.local:
            raise ValueError('the memory of this shared object lives on node %d: there is no '
                             'local buffer of it here' % self._channel.node)
        return memoryview(self._channel.memory())

    def __reduce__(self):
        return _attach_block, (self._channel.transit_descriptor(), self._size)


def _attach_block(descriptor, size):
    return SharedBlock(remote.attach_channel(descriptor), size)


def _new_value(type_):
    return _stock.rebuild_ctype(type_, SharedBlock.create(ctypes.sizeof(type_)), None)


def RawValue(typecode_or_type, *args):
    '''A ctypes object in shared memory (zeroed, then initialized with args).'''
    type_ = _stock.typecode_to_type.get(typecode_or_type, typecode_or_type)
    obj = _new_value(type_)
    obj.__init__(*args)
    return obj


def RawArray(typecode_or_type, size_or_initializer):
    '''A ctypes array in shared memory: zeroed of that length, or a copy of the sequence.'''
    type_ = _stock.typecode_to_type.get(typecode_or_type, typecode_or_type)
    if isinstance(size_or_initializer, int):
        return _new_value(type_ * size_or_initializer)
    obj = _new_value(type_ * len(size_or_initializer))
    obj.__init__(*size_or_initializer)
    return obj


def _with_lock(obj, lock, ctx):
    if lock is False:
        return obj
    if lock in (True, None):
        ctx = ctx or multiprocessing.get_context('dragon')
        lock = ctx.RLock()
    if not hasattr(lock, 'acquire'):
        raise AttributeError("%r has no method 'acquire'" % lock)
    return _stock.synchronized(obj, lock, ctx=ctx)


def Value(typecode_or_type, *args, lock=True, ctx=None):
    '''A synchronized ctypes object in shared memory (lock: True, False or a lock).'''
    return _with_lock(RawValue(typecode_or_type, *args), lock, ctx)


def Array(typecode_or_type, size_or_initializer, *, lock=True, ctx=None):
    '''A synchronized ctypes array in shared memory (lock: True, False or a lock).'''
    return _with_lock(RawArray(typecode_or_type, size_or_initializer), lock, ctx)


# -- pickling -------------------------------------------------------------------------

def _pool_backed(obj):
    return isinstance(obj, _Remote) or isinstance(getattr(obj, '_wrapper', None), SharedBlock)


def _rebuild_ctype(type_, block, length):
    if block.local:
        return _stock.rebuild_ctype(type_, block, length)
    full = type_ * length if length is not None else type_
    if issubclass(full, ctypes.Array):
        return RemoteArray(full, block)
    if issubclass(full, (ctypes.Structure, ctypes.Union)):
        return RemoteStructure(full, block)
    return RemoteValue(full, block)


def _ctype_parts(obj):
    '''What _rebuild_ctype rebuilds a pool-backed object from (an array's type goes
    as its element type and length: array types cannot be pickled by name).'''
    if isinstance(obj, _Remote):
        return obj.__reduce__()[1]
    if isinstance(obj, ctypes.Array):
        return obj._type_, obj._wrapper, obj._length_
    return type(obj), obj._wrapper, None


def _reduce_ctype(obj, stock=_stock.reduce_ctype):
    # Registered for every ctypes type stock's rebuild_ctype meets (it looks this
    # name up in its module at each call): the heap's objects keep stock's rules.
    if not _pool_backed(obj):
        return stock(obj)
    return _rebuild_ctype, _ctype_parts(obj)


def _reduce_synchronized(self, stock=_stock.SynchronizedBase.__reduce__):
    if not _pool_backed(self._obj):
        return stock(self)
    # The parts, not the object: so that plain pickle (no ForkingPickler reducers)
    # pickles it too.
    return _rebuild_synchronized, (_ctype_parts(self._obj), self._lock)


_remote_struct_wrappers = {}


def _rebuild_synchronized(parts, lock):
    obj = _rebuild_ctype(*parts)
    if not isinstance(obj, _Remote):
        return _stock.synchronized(obj, lock)
    if isinstance(obj, RemoteValue):
        return RemoteSynchronized(obj, lock)
    if isinstance(obj, RemoteArray):
        if obj._type_ is ctypes.c_char:
            return RemoteSynchronizedString(obj, lock)
        return RemoteSynchronizedArray(obj, lock)
    cls = _remote_struct_wrappers.get(obj._type)
    if cls is None:
        names = [field[0] for field in obj._type._fields_]
        cls = type('Synchronized' + obj._type.__name__, (_stock.SynchronizedBase,),
                   {name: _stock.make_property(name) for name in names})
        _remote_struct_wrappers[obj._type] = cls
    return cls(obj, lock)


# -- another node's objects -----------------------------------------------------------

class _Remote(object):
    '''A shared ctypes object of another node: every read and write is one request to
    its node (RemoteChannel.read_memory/write_memory). Copies come back as ctypes
    objects of this process, so values convert exactly as stock's do.'''

    def __init__(self, type_, block, offset=0):
        object.__setattr__(self, '_type', type_)
        object.__setattr__(self, '_block', block)
        object.__setattr__(self, '_size', ctypes.sizeof(type_))
        object.__setattr__(self, '_offset', offset)     # an element of a larger object

    @property
    def _wrapper(self):
        return self._block

    # `lock`: a RemoteSemLock of the same node that the owner takes around the access
    # (see _carried_lock): still one request.
    def _read(self, offset, length, lock=None):
        return self._block.channel.read_memory(self._offset + offset, length, lock)

    def _write(self, offset, data, lock=None):
        if len(data):
            self._block.channel.write_memory(self._offset + offset, data, lock)

    def _copy(self, lock=None):
        '''The whole object, copied here.'''
        return self._type.from_buffer_copy(self._read(0, self._size, lock))

    def __reduce__(self):
        if self._offset:
            raise TypeError('an element of a shared array cannot be pickled on its own: '
                            'pickle the array (or its Synchronized wrapper)')
        if issubclass(self._type, ctypes.Array):
            return _rebuild_ctype, (self._type._type_, self._block, self._type._length_)
        return _rebuild_ctype, (self._type, self._block, None)

    def __repr__(self):
        return '<%s of node %d: %r>' % (self._type.__name__, self._block.channel.node,
                                        self._copy())


class RemoteValue(_Remote):

    def _get_value(self, lock=None):
        return self._copy(lock).value

    def _set_value(self, value, lock=None):
        self._write(0, bytes(self._type(value)), lock)

    value = property(_get_value, _set_value)


# Elements of these types are objects sharing the array's memory (as ctypes' are):
# on another node, proxies of the element's bytes rather than copies.
_AGGREGATES = (ctypes.Structure, ctypes.Union, ctypes.Array)


def _items_of(item_type, whole):
    '''The items of a whole-array slice, as iterating the array gives them (a c_char
    array's slice is bytes, whose items would be ints).'''
    if item_type is ctypes.c_char:
        return (whole[i:i + 1] for i in range(len(whole)))
    return iter(whole)


class RemoteArray(_Remote):
    '''Indexing and slicing as a ctypes array's; a slice is one request. An element
    that is a Structure or an array is a proxy of its bytes, as ctypes' is a view.
    Not a buffer: copy it (arr[:]) where a local array is needed.'''

    def __init__(self, type_, block, offset=0):
        _Remote.__init__(self, type_, block, offset)
        object.__setattr__(self, '_type_', type_._type_)
        object.__setattr__(self, '_length_', type_._length_)
        object.__setattr__(self, '_item', ctypes.sizeof(type_._type_))

    def __len__(self):
        return self._length_

    def _items(self, start, count, lock=None):
        return (self._type_ * count).from_buffer_copy(
            self._read(start * self._item, count * self._item, lock))

    def _index(self, key):
        i = operator.index(key)
        if i < 0:
            i += self._length_
        if not 0 <= i < self._length_:
            raise IndexError('invalid index')
        return i

    def _element(self, i):
        '''A proxy of element i (an aggregate).'''
        proxy = RemoteStructure if not issubclass(self._type_, ctypes.Array) else RemoteArray
        return proxy(self._type_, self._block, self._offset + i * self._item)

    @property
    def _aggregate(self):
        return issubclass(self._type_, _AGGREGATES)

    def __getitem__(self, key, lock=None):
        aggregate = self._aggregate
        if not isinstance(key, slice):
            if aggregate:
                return self._element(self._index(key))
            return self._items(self._index(key), 1, lock)[0]
        start, stop, step = key.indices(self._length_)
        if aggregate:
            return [self._element(i) for i in range(start, stop, step)]
        if (stop - start) * step <= 0:
            return (self._type_ * 0)()[:]       # [] (b'' for characters), as ctypes'
        if step > 0:
            low, high = start, stop
        else:
            low, high = stop + 1, start + 1
        chunk = self._items(low, high - low, lock)
        end = stop - low
        return chunk[start - low:end if end >= 0 else None:step]

    def _one_write(self, key):
        '''Whether setting `key` is one request (an item, a slice of step 1).'''
        return not isinstance(key, slice) or key.indices(self._length_)[2] == 1

    def __setitem__(self, key, value, lock=None):
        if not isinstance(key, slice):
            item = (self._type_ * 1)()
            item[0] = value
            self._write(self._index(key) * self._item, bytes(item), lock)
            return
        start, stop, step = key.indices(self._length_)
        indices = range(start, stop, step)
        if step == 1:
            items = (self._type_ * len(indices))()
            items[:] = value            # a sequence of another length: ctypes' ValueError
            self._write(start * self._item, bytes(items), lock)
            return
        assert lock is None, 'a strided write is several requests: take the lock around it'
        values = list(value)
        if len(values) != len(indices):
            raise ValueError('Can only assign sequence of same size')
        for i, v in zip(indices, values):
            self[i] = v

    def __iter__(self):
        return _items_of(self._type_, self[:])

    def __buffer__(self, flags):
        # Python 3.12+ asks here for a buffer (memoryview, np.frombuffer): say why not
        # and what to do (3.11 and older say only that it is not bytes-like).
        raise BufferError('this %s lives on node %d: its memory is not mapped on this node, '
                          'so it has no buffer here; copy it with arr[:] (one request), '
                          'e.g. np.array(arr[:]), or run this process on node %d'
                          % (self._type.__name__, self._block.channel.node,
                             self._block.channel.node))

    # c_char arrays (and c_wchar's value), as on a ctypes array of them.
    def _text_array(self, what):
        if not hasattr(self._type, what):
            raise AttributeError('%r object has no attribute %r' % (self._type.__name__, what))

    def _get_value(self, lock=None):
        self._text_array('value')
        return self._copy(lock).value

    def _set_value(self, value, lock=None):
        self._text_array('value')
        items = self._type()
        items.value = value
        self._write(0, bytes(items)[:min(len(value) + 1, self._length_) * self._item], lock)

    def _get_raw(self, lock=None):
        self._text_array('raw')
        return bytes(self._read(0, self._size, lock))

    def _set_raw(self, value, lock=None):
        self._text_array('raw')
        items = self._type()
        items.raw = value
        self._write(0, bytes(items)[:len(value)], lock)

    value = property(_get_value, _set_value)
    raw = property(_get_raw, _set_raw)


class RemoteStructure(_Remote):
    '''Fields read and written as a ctypes Structure's (a field write sends the
    field's bytes; a bit field's, the whole structure). A field that is itself a
    Structure or an array reads as a copy.'''

    def _field(self, name):
        for field in self._type._fields_:
            if field[0] == name:
                return field
        return None

    def __getattr__(self, name):
        if name.startswith('__') or self._field(name) is None:
            raise AttributeError('%r object has no attribute %r' % (self._type.__name__, name))
        return getattr(self._copy(), name)

    def __setattr__(self, name, value):
        field = self._field(name)
        if field is None:
            raise AttributeError('%r object has no field %r' % (self._type.__name__, name))
        copy = self._copy()
        setattr(copy, name, value)
        if len(field) == 3 or issubclass(field[1], _AGGREGATES):
            self._write(0, bytes(copy))
            return
        where = getattr(self._type, name)
        self._write(where.offset, bytes(copy)[where.offset:where.offset + where.size])


# -- multiprocessing.sharedctypes itself ----------------------------------------------

def _new_value_where_selected(type_, stock=_stock._new_value):
    from .context import DragonContext
    from multiprocessing import context as mp_context
    if isinstance(mp_context._default_context._actual_context, DragonContext):
        return _new_value(type_)
    return stock(type_)


def install():
    '''multiprocessing.sharedctypes' objects in the pool while 'dragon' is the selected
    start method, and pool-backed ones picklable to processes already running.'''
    if getattr(_stock, '_dragon_installed', False):
        return
    _stock._dragon_installed = True
    _stock.reduce_ctype = _reduce_ctype
    _stock.SynchronizedBase.__reduce__ = _reduce_synchronized
    _stock._new_value = _new_value_where_selected


# -- the synchronized wrappers of another node's objects ------------------------------
#
# Stock's wrappers take the lock around every access: on another node that is three
# round trips (acquire, access, release). When the lock lives on the object's node
# and this thread does not hold it, the owner node takes it around the access
# instead: one request (the owner waits for the lock as for a remote acquire).

def _carried_lock(wrapper):
    semlock = getattr(wrapper._lock, '_semlock', None)
    if (isinstance(semlock, remote.RemoteSemLock)
            and semlock.node == wrapper._obj._block.channel.node and not semlock._is_mine()):
        return semlock
    return None


def _locked_property(name):
    get, set_ = '_get_' + name, '_set_' + name

    def getter(self):
        lock = _carried_lock(self)
        if lock is None:
            with self:
                return getattr(self._obj, name)
        return getattr(self._obj, get)(lock)

    def setter(self, value):
        lock = _carried_lock(self)
        if lock is None:
            with self:
                setattr(self._obj, name, value)
            return
        getattr(self._obj, set_)(value, lock)
    return property(getter, setter)


class RemoteSynchronized(_stock.Synchronized):
    value = _locked_property('value')


class RemoteSynchronizedArray(_stock.SynchronizedArray):

    def __getitem__(self, key):
        lock = None if self._obj._aggregate else _carried_lock(self)
        if lock is None:
            with self:
                return self._obj[key]
        return self._obj.__getitem__(key, lock)

    def __setitem__(self, key, value):
        lock = _carried_lock(self) if self._obj._one_write(key) else None
        if lock is None:
            with self:
                self._obj[key] = value
            return
        self._obj.__setitem__(key, value, lock)

    def __iter__(self):
        # One request for the whole array (stock's iterates item by item, a request each).
        return _items_of(self._obj._type_, self[:])


class RemoteSynchronizedString(RemoteSynchronizedArray, _stock.SynchronizedString):
    value = _locked_property('value')
    raw = _locked_property('raw')
