#
# Objects as channel messages.
#
# Small objects travel as one plain pickle stream. Large payloads use pickle
# protocol 5 out-of-band buffers: the stream and the buffers are copied once,
# straight into one pool block (Channel.send_parts), and the receiver unpickles
# from views of that block, so a numpy array arrives as a view of the block (no
# further copy) that frees it when the array is gone. bytes and bytearray own
# their memory, so building them on receipt costs one more copy.
#

import io
import pickle
import struct
import threading

from multiprocessing.reduction import ForkingPickler

from . import _dragon

__all__ = ['dumps_parts', 'send_parts', 'send_object', 'loads_message', 'recv_object']

# A top-level bytes or bytearray object at least this large goes out of band;
# pickle cannot be told to do that for one nested inside other objects.
BYTES_OOB_MIN = 1 << 16

_PARTS_TAG = _dragon.PARTS_TAG
_COUNT = struct.Struct('<Q')


def bytes_from_buffer(buffer):
    '''bytes(buffer) for a large payload, at about half the cost (_dragon.bytes_of).'''
    return _dragon.bytes_of(buffer)


def bytearray_from_buffer(buffer):
    '''bytearray(buffer), as bytes_from_buffer.'''
    return _dragon.bytearray_of(buffer)


class _BytesOutOfBand:
    '''Pickles the wrapped bytes as an out-of-band buffer; loads as bytes.'''
    __slots__ = ('data',)

    def __init__(self, data):
        self.data = data

    def __reduce_ex__(self, protocol):
        return bytes_from_buffer, (pickle.PickleBuffer(self.data),)


class _ByteArrayOutOfBand(_BytesOutOfBand):
    '''The same for a bytearray (which pickle, too, writes into the stream itself).'''
    __slots__ = ()

    def __reduce_ex__(self, protocol):
        return bytearray_from_buffer, (pickle.PickleBuffer(self.data),)


# Types none of multiprocessing's extra reducers applies to, inside or out.
_PLAIN = frozenset((int, float, str, bool, complex, type(None)))
_PLAIN_ITEMS_MAX = 16


def _is_plain(obj, depth=2):
    '''Small plain data (the bulk of queue traffic, and Pool's result tuples), which
    the C pickler alone handles: setting up a Pickler with the extra reducers costs
    several times more.'''
    t = type(obj)
    if t in _PLAIN:
        return True
    if t is bytes:
        return len(obj) < BYTES_OOB_MIN
    if (t is tuple or t is list) and len(obj) <= _PLAIN_ITEMS_MAX and depth > 0:
        for x in obj:
            if type(x) not in _PLAIN and not _is_plain(x, depth - 1):
                return False
        return True
    return False


def dumps_parts(obj):
    '''Returns [pickle stream, *raw out-of-band buffers].'''
    if _is_plain(obj):
        return [pickle.dumps(obj, 5)]
    if type(obj) is bytes and len(obj) >= BYTES_OOB_MIN:
        obj = _BytesOutOfBand(obj)
    elif type(obj) is bytearray and len(obj) >= BYTES_OOB_MIN:
        obj = _ByteArrayOutOfBand(obj)
    return _dumps_with_reducers(obj)


_table = None
_table_key = None


def _dispatch_table():
    '''ForkingPickler's reducers (multiprocessing's and any registered later) over
    copyreg's, merged once and again only when either registry grows: merging on
    every call cost more than pickling a small object.'''
    global _table, _table_key
    extra = ForkingPickler._extra_reducers
    base = ForkingPickler._copyreg_dispatch_table
    key = (len(extra), len(base))
    if key != _table_key:
        table = base.copy()
        table.update(extra)
        _table, _table_key = table, key
    return _table


# A stream larger than this is handed over as a view of the pickler's buffer (no
# copy) and the pickler is replaced; smaller ones are copied and the buffer reused.
_REUSE_MAX = 1 << 16


class _ReusablePickler(object):
    '''A Pickler kept per thread and reset between uses: building one costs about
    as much as pickling a small object.'''

    def __init__(self):
        self.buf = io.BytesIO()
        self.buffers = []
        self.pickler = pickle.Pickler(self.buf, 5, buffer_callback=self.buffers.append)
        self.table = None
        self.busy = False

    def dump(self, obj):
        table = _dispatch_table()
        if table is not self.table:
            self.pickler.dispatch_table = self.table = table
        self.busy = True
        try:
            self.pickler.dump(obj)
            buffers = [b.raw() for b in self.buffers]
            if self.buf.tell() > _REUSE_MAX:
                stream = self.buf.getbuffer()
                self.__init__()
                return [stream] + buffers
            stream = self.buf.getvalue()
        except BaseException:
            self.__init__()          # a failed dump leaves the pickler in any state
            raise
        self.buf.seek(0)
        self.buf.truncate()
        self.buffers.clear()
        self.pickler.clear_memo()
        self.busy = False
        return [stream] + buffers


_local = threading.local()


def _dumps_with_reducers(obj):
    reusable = getattr(_local, 'pickler', None)
    if reusable is None:
        reusable = _local.pickler = _ReusablePickler()
    if reusable.busy:
        # A reducer pickling something itself, in the middle of a dump: a fresh one.
        reusable = _ReusablePickler()
    return reusable.dump(obj)


def send_parts(channel, parts, timeout=None):
    '''Sends what dumps_parts() returned as one message.'''
    if len(parts) == 1:
        channel.send(parts[0], timeout)
    else:
        channel.send_parts(parts, timeout)


def send_object(channel, obj, timeout=None):
    if _is_plain(obj):
        channel.send(pickle.dumps(obj, 5), timeout)
        return
    send_parts(channel, dumps_parts(obj), timeout)


def _align(n):
    return (n + 63) // 64 * 64


def loads_message(message):
    if type(message) is bytes:
        return pickle.loads(message)     # an inline message: never a parts block
    view = memoryview(message)
    if len(view) and view[0] == _PARTS_TAG:
        count, = _COUNT.unpack_from(view, 8)
        lengths = struct.unpack_from('<%dQ' % count, view, 16)
        at = _align(16 + 8 * count)
        parts = []
        for length in lengths:
            parts.append(view[at:at + length])
            at = _align(at + length)
        return pickle.loads(parts[0], buffers=parts[1:])
    return pickle.loads(view)


def recv_object(channel, timeout=None):
    return loads_message(channel.recv_payload(timeout))
