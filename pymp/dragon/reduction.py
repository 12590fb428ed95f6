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

from multiprocessing.reduction import ForkingPickler

from . import _dragon

__all__ = ['dumps_parts', 'send_object', 'loads_message', 'recv_object']

# A top-level bytes object at least this large goes out of band; pickle
# cannot be told to do that for bytes nested inside other objects.
BYTES_OOB_MIN = 1 << 16

_PARTS_TAG = _dragon.PARTS_TAG
_COUNT = struct.Struct('<Q')


class _BytesOutOfBand:
    '''Pickles the wrapped bytes as an out-of-band buffer; loads as bytes.'''
    __slots__ = ('data',)

    def __init__(self, data):
        self.data = data

    def __reduce_ex__(self, protocol):
        return bytes, (pickle.PickleBuffer(self.data),)


def dumps_parts(obj):
    '''Returns [pickle stream, *raw out-of-band buffers].'''
    if type(obj) is bytes and len(obj) >= BYTES_OOB_MIN:
        obj = _BytesOutOfBand(obj)
    buffers = []
    stream = _dumps(obj, buffers.append)
    return [stream] + [b.raw() for b in buffers]


class _Pickler(ForkingPickler):
    '''ForkingPickler (multiprocessing's reducers) with protocol 5 out-of-band buffers.'''

    def __init__(self, file, buffer_callback):
        pickle.Pickler.__init__(self, file, 5, buffer_callback=buffer_callback)
        self.dispatch_table = self._copyreg_dispatch_table.copy()
        self.dispatch_table.update(self._extra_reducers)


def _dumps(obj, buffer_callback):
    buf = io.BytesIO()
    _Pickler(buf, buffer_callback).dump(obj)
    return buf.getbuffer()


def send_object(channel, obj, timeout=None):
    parts = dumps_parts(obj)
    if len(parts) == 1:
        channel.send(parts[0], timeout)
    else:
        channel.send_parts(parts, timeout)


def _align(n):
    return (n + 63) // 64 * 64


def loads_message(message):
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
    return loads_message(channel.recv(timeout))
