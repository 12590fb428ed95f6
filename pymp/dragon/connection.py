#
# Connection and Pipe over channels, in the shape of multiprocessing.connection.
#
# A Connection receives from one channel and/or sends to another. fileno() is a
# readiness fd (readable while a message waits), so multiprocessing.connection.wait
# works on Connections and Process sentinels together. Connections pickle to
# their channel descriptors; the receiving process attaches the same channels.
#
# End of file, as with an OS pipe: a Pipe's sending end is counted in a small
# "writers" channel holding one token per holder (the creator's, plus one per
# pickled copy, taken at pickling so a copy in transit counts). Closing an end,
# its garbage collection, or the exit of its process (a multiprocessing
# finalizer) takes a token back; whoever takes the last one sends an EOF marker
# after the data, so the reader's recv() raises EOFError, poll() is True and the
# readiness fd is readable. A SIGKILLed holder never gives its token back: then,
# unlike an OS pipe, the reader sees no EOF.
#

import os
import time

from multiprocessing import BufferTooShort
from multiprocessing import util

from . import _dragon
from . import reduction
from . import remote
from . import runtime
from . import waits

__all__ = ['Connection', 'Pipe', 'exact_wait']

PIPE_CAPACITY = 1024     # messages in flight per direction before send() blocks
PIPE_SLOT_SIZE = 256     # payloads up to 240 bytes travel inline in the slot

WRITER_TOKENS = 1024     # holders (processes, copies) of one sending end
EOF_MARKER = b'\x02dragon-eof\x02'

_inherited_readiness = []


def _release_writer(writers, channel):
    '''One holder of a sending end is gone; the last one marks end of file.'''
    try:
        writers.try_recv()
        if writers.size() == 0:
            channel.try_send(EOF_MARKER)
    except Exception:
        pass                # the channels were destroyed: nobody is reading


class Connection:
    '''One end of a Pipe.'''

    def __init__(self, recv_channel=None, send_channel=None, writers=None):
        self._recv_ch = recv_channel
        self._send_ch = send_channel
        self._writers = writers
        self._writer_release = None
        if writers is not None:
            self._holder_pid = os.getpid()
            self._hold_writer()
            # A child's Process._bootstrap clears the finalizers (also the one made
            # while unpickling its arguments) and then runs the after-fork hooks.
            util.register_after_fork(self, Connection._hold_writer)
        self._eof = False
        self._readable = recv_channel is not None
        self._writable = send_channel is not None
        self._readiness = None
        self._readiness_pid = None
        self._closed = False

    # -- state

    def _hold_writer(self):
        if self._writers is None:
            return
        if self._holder_pid != os.getpid():
            # A copy made by fork, not by pickling: one more holder.
            self._writers.try_send(b'')
            self._holder_pid = os.getpid()
        # Gives the token back at close(), at garbage collection or at the process's exit.
        self._writer_release = util.Finalize(self, _release_writer,
                                             (self._writers, self._send_ch), exitpriority=-100)

    def _check_closed(self):
        if self._closed:
            raise OSError("handle is closed")

    def _check_readable(self):
        if not self._readable:
            raise OSError("connection is write-only")

    def _check_writable(self):
        if not self._writable:
            raise OSError("connection is read-only")

    @property
    def closed(self):
        return self._closed

    @property
    def readable(self):
        return self._readable

    @property
    def writable(self):
        return self._writable

    def fileno(self):
        '''File descriptor readable while a message waits (a per-process eventfd).'''
        self._check_closed()
        # A readiness fd is mirrored by a thread, which a fork does not copy.
        if self._readiness is None or self._readiness_pid != os.getpid():
            self._drop_readiness()
            self._readiness = (self._recv_ch or self._send_ch).readiness_fd()
            self._readiness_pid = os.getpid()
        return self._readiness.fileno()

    def _drop_readiness(self):
        readiness, self._readiness = self._readiness, None
        if readiness is None:
            return
        if self._readiness_pid == os.getpid():
            readiness.close()
        else:
            # Inherited through a fork: its thread does not exist here, and joining
            # it would never return. Keep it (and its fd) for the process's life.
            _inherited_readiness.append(readiness)

    def close(self):
        if not self._closed:
            self._closed = True
            self._drop_readiness()
            if self._writer_release is not None:
                self._writer_release()
            self._recv_ch = self._send_ch = self._writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        self.close()

    def __del__(self):
        if getattr(self, '_readiness', None) is not None:
            self._drop_readiness()

    # -- sending

    def send_bytes(self, buf, offset=0, size=None):
        self._check_closed()
        self._check_writable()
        if type(buf) is bytes and offset == 0 and size is None:
            self._send_ch.send(buf)     # the common case, without a view and its checks
            return
        m = memoryview(buf)
        if m.itemsize > 1:
            m = m.cast('B')
        n = m.nbytes
        if offset < 0:
            raise ValueError("offset is negative")
        if n < offset:
            raise ValueError("buffer length < offset")
        if size is None:
            size = n - offset
        elif size < 0:
            raise ValueError("size is negative")
        elif offset + size > n:
            raise ValueError("buffer length < offset + size")
        self._send_ch.send(m[offset:offset + size])

    def send(self, obj):
        self._check_closed()
        self._check_writable()
        reduction.send_object(self._send_ch, obj)

    # -- receiving

    def recv_bytes(self, maxlength=None):
        self._check_closed()
        self._check_readable()
        if maxlength is not None and maxlength < 0:
            raise ValueError("negative maxlength")
        if self._eof:
            raise EOFError
        # An inline message comes as bytes already; a pool block as a Message.
        msg = waits.recv_watching(self._recv_ch, self._recv_ch.recv_payload,
                                  'Connection.recv_bytes()')
        self._refresh_readiness()
        self._check_eof(msg)
        if maxlength is not None and len(msg) > maxlength:
            raise OSError("bad message length")
        return msg if type(msg) is bytes else reduction.bytes_from_buffer(msg)

    def recv_bytes_into(self, buf, offset=0):
        self._check_closed()
        self._check_readable()
        with memoryview(buf) as m:
            itemsize = m.itemsize
            bytesize = itemsize * len(m)
            if offset < 0:
                raise ValueError("negative offset")
            elif offset > bytesize:
                raise ValueError("offset too large")
            if self._eof:
                raise EOFError
            got = self._recv_ch.recv_into(m.cast('B'), offset)   # offset in bytes, as stock
            self._refresh_readiness()
            if not isinstance(got, int):
                self._check_eof(got)
                raise BufferTooShort(got.tobytes())
            if got == len(EOF_MARKER) and m.cast('B')[offset:offset + got] == EOF_MARKER:
                self._at_eof()
        return got

    def recv(self):
        self._check_closed()
        self._check_readable()
        if self._eof:
            raise EOFError
        # Inline messages come as bytes, which unpickle faster than a Message.
        msg = waits.recv_watching(self._recv_ch, self._recv_ch.recv_payload, 'Connection.recv()')
        self._refresh_readiness()
        self._check_eof(msg)
        return reduction.loads_message(msg)

    def poll(self, timeout=0.0):
        '''Whether there is data to read, waiting up to `timeout` (None: forever).'''
        self._check_closed()
        self._check_readable()
        return self._eof or self._recv_ch.poll(timeout)

    def _ready_now(self):
        '''Whether recv() would not block, from the channel itself (not the fd).'''
        if self._closed or self._recv_ch is None:
            return False
        self._refresh_readiness()
        return self._eof or self._recv_ch.readable()

    def _refresh_readiness(self):
        # After a receive the fd must not stay readable on an empty channel: callers
        # wait() on it and then recv() without a timeout (see readiness_fd.hpp).
        if self._readiness is not None and self._readiness_pid == os.getpid():
            self._readiness.refresh()

    def _check_eof(self, msg):
        # msg: bytes (an inline message) or a Message (a pool block).
        if len(msg) == len(EOF_MARKER) and bytes(msg) == EOF_MARKER:
            self._at_eof()

    def _at_eof(self):
        self._eof = True
        # Put the marker back for the other holders of this receiving end.
        self._recv_ch.try_send(EOF_MARKER)
        raise EOFError

    # -- pickling: by channel descriptors

    def __reduce__(self):
        self._check_closed()
        if self._writers is not None:
            # The copy holds the sending end from now on, even while in transit.
            if not self._writers.try_send(b''):
                raise OSError('too many copies of this connection (%d)' % WRITER_TOKENS)
        return (_rebuild_connection,
                (self._recv_ch.transit_descriptor() if self._recv_ch else None,
                 self._send_ch.transit_descriptor() if self._send_ch else None,
                 self._writers.transit_descriptor() if self._writers else None))

    def __repr__(self):
        state = 'closed' if self._closed else (
            'duplex' if self._readable and self._writable else
            'read' if self._readable else 'write')
        return '<%s %s>' % (type(self).__name__, state)


def _rebuild_connection(recv_desc, send_desc, writers_desc=None):
    attach = remote.attach_channel
    return Connection(attach(recv_desc) if recv_desc else None,
                      attach(send_desc) if send_desc else None,
                      attach(writers_desc) if writers_desc else None)


def _new_channel():
    return _dragon.Channel.create(runtime.node_pool(), PIPE_CAPACITY, PIPE_SLOT_SIZE)


def _new_writers():
    writers = _dragon.Channel.create(runtime.node_pool(), WRITER_TOKENS, 64)
    writers.send(b'', 0)        # the creator's end
    return writers


def Pipe(duplex=True):
    '''Returns (conn1, conn2); with duplex=False conn1 only receives, conn2 only sends.'''
    if duplex:
        a, b = _new_channel(), _new_channel()
        return Connection(a, b, _new_writers()), Connection(b, a, _new_writers())
    ch = _new_channel()
    return Connection(recv_channel=ch), Connection(send_channel=ch, writers=_new_writers())


def exact_wait(stock_wait):
    '''multiprocessing.connection.wait, exact for Dragon Connections.

    A Connection's fd is mirrored from its channel by a helper thread, a moment
    late. With OS pipes, data sent before a process exits is readable by the time
    its sentinel is; callers rely on that (concurrent.futures takes a sentinel
    without a result for a crashed worker). So after the stock wait returns, the
    Connections are judged by their channels, and one whose fd was stale is dropped.
    Lists without Dragon Connections go straight to the stock wait.'''
    def wait(object_list, timeout=None):
        ours = [o for o in object_list if isinstance(o, Connection)]
        if not ours:
            return stock_wait(object_list, timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ready_ours = [c for c in ours if c._ready_now()]
            left = 0 if ready_ours else (
                None if deadline is None else max(0.0, deadline - time.monotonic()))
            ready = [o for o in stock_wait(object_list, left) if not isinstance(o, Connection)]
            ready_ours = [c for c in ours if c._ready_now()]
            if ready or ready_ours or left == 0:
                return [o for o in object_list if o in ready or o in ready_ours]
    wait.stock = stock_wait
    wait.__doc__ = stock_wait.__doc__
    return wait
