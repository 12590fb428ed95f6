#
# Channels and semaphores of other nodes, with the interface of the local ones
# (_dragon.Channel, _dragon.SemLock), so that Queue, Pipe, Connection and the
# synchronization primitives work unchanged with their users on different nodes.
# Every operation is a request to the owner node through this node's gateway
# (gateway.py); blocking ones wait on the owner node with the caller's deadline.
# Attaching one takes a reference on the owner node (the channel stays alive while
# this process holds it); dropping it, or this process's end, gives it back.
#

import os
import struct
import threading
import weakref

from multiprocessing import util

from . import _dragon
from . import gateway

__all__ = ['attach_channel', 'attach_semlock', 'RemoteChannel', 'RemoteSemLock']

_PARTS_TAG = _dragon.PARTS_TAG
_RANGE = struct.Struct('<QQ')       # a memory read: offset, length
_OFFSET = struct.Struct('<Q')       # a memory write: offset, then the bytes
_LOCK_NAME = struct.Struct('<H')    # a locked access: the lock's descriptor length first


def attach_channel(descriptor):
    node = gateway.owner_node(descriptor) if gateway.available() else None
    if node is None:
        return _dragon.Channel.attach(descriptor)
    return RemoteChannel(descriptor, node)


def attach_semlock(handle, kind, maxvalue, name):
    node = gateway.owner_node(handle) if gateway.available() else None
    if node is None:
        return _dragon.semlock_attach(handle, kind, maxvalue, name)
    return RemoteSemLock(handle, node, kind, maxvalue, name)


def _base(descriptor):
    return ':'.join(descriptor.split(':')[:5])


def _detach(node, base):
    try:
        gateway.call(gateway.DETACH, node, base)
    except Exception:
        pass                 # the node or the job is ending: nothing left to give back


class _RemoteHandle(object):
    '''A reference on the owner node, given back when this object goes.'''

    def __init__(self, descriptor, node):
        self._node = node
        self._base = _base(descriptor)
        self._base_b = self._base.encode()
        gateway.call(gateway.ATTACH, node, descriptor)
        self._finalizer = weakref.finalize(self, _detach, node, self._base)
        # A fork child holds no reference of its own: it must not give one back.
        util.register_after_fork(self, _RemoteHandle._forget)

    def _forget(self):
        self._finalizer.detach()

    def _call(self, op, timeout=None, payload=b''):
        return gateway.call(op, self._node, self._base_b, timeout, payload)

    @property
    def descriptor(self):
        return self._base

    def transit_descriptor(self):
        _, data = self._call(gateway.TRANSIT)
        return bytes(data).decode()

    @property
    def node(self):
        return self._node


def _as_bytes(data):
    return data if type(data) is bytes else bytes(data)


class RemoteChannel(_RemoteHandle):

    def send(self, data, timeout=None):
        view = memoryview(data).cast('B')
        if len(view) >= gateway.BLOCK_MIN:
            gateway.send_block_request(gateway.SEND, self._node, self._base_b, timeout,
                                       [view], False)
            return
        self._call(gateway.SEND, timeout, view)

    def try_send(self, data):
        try:
            self.send(data, 0)
        except TimeoutError:
            return False
        return True

    def send_parts(self, parts, timeout=None):
        gateway.send_block_request(gateway.SEND, self._node, self._base_b, timeout, parts, True)

    def recv(self, timeout=None):
        _, data = self._call(gateway.RECV, timeout)
        return data if isinstance(data, _dragon.Message) else _Received(data)

    def recv_payload(self, timeout=None):
        _, data = self._call(gateway.RECV, timeout)
        if isinstance(data, _dragon.Message):
            return data                     # a large message: the pool block itself
        if len(data) and data[0] == _PARTS_TAG:
            # A parts block (one that came inline, on a lane): loads_message frames it,
            # given it as a view (plain bytes are read as one pickle).
            return memoryview(data)
        return _as_bytes(data)

    def try_recv(self):
        try:
            return self.recv(0)
        except TimeoutError:
            return None

    def recv_into(self, target, offset=0, timeout=None):
        msg = self.recv(timeout)
        view = memoryview(target).cast('B')
        if offset > len(view) or len(view) - offset < len(msg):
            return msg
        view[offset:offset + len(msg)] = memoryview(msg) if isinstance(
            msg, _dragon.Message) else msg.data
        return len(msg)

    def poll(self, timeout=0.0):
        value, _ = self._call(gateway.POLL, timeout)
        return bool(value)

    def readable(self):
        return self.poll(0)

    def size(self):
        value, _ = self._call(gateway.SIZE)
        return value

    def destroy(self):
        self._call(gateway.DESTROY)

    def readiness_fd(self):
        return _RemoteReadiness(self)

    # A memory channel (Value, Array): one request each, performed on the owner node
    # in its shared memory. With `lock` (a RemoteSemLock of the owner node), the owner
    # takes the lock around the access, waiting for it as for an acquire.
    def read_memory(self, offset, length, lock=None):
        '''`length` bytes at `offset` (a bytes-like object).'''
        request = _RANGE.pack(offset, length)
        if lock is None:
            _, data = self._call(gateway.MEM_READ, None, request)
        else:
            _, data = self._call(gateway.MEM_READ_LOCKED, None, _locked(lock) + request)
        return data

    def write_memory(self, offset, data, lock=None):
        request = _OFFSET.pack(offset) + bytes(data)
        if lock is None:
            self._call(gateway.MEM_WRITE, None, request)
        else:
            self._call(gateway.MEM_WRITE_LOCKED, None, _locked(lock) + request)


def _locked(lock):
    name = lock.handle.encode()
    return _LOCK_NAME.pack(len(name)) + name


class _Received(object):
    '''A message received from another node (bytes-like, as a local Message).'''
    __slots__ = ('data',)

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def tobytes(self):
        return bytes(self.data)

    @property
    def zero_copy(self):
        return False


class _RemoteReadiness(object):
    '''An fd readable while a remote channel has a message: a pipe that a thread
    keeps in step with the owner (it waits there in slices).'''

    def __init__(self, channel):
        self._channel = channel
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._signalled = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def fileno(self):
        return self._r

    def _set(self, readable):
        with self._lock:
            if readable and not self._signalled:
                os.write(self._w, b'x')
                self._signalled = True
            elif not readable and self._signalled:
                try:
                    os.read(self._r, 16)
                except BlockingIOError:
                    pass
                self._signalled = False

    def refresh(self):
        readable = self._channel.readable()
        self._set(readable)
        return readable

    def _run(self):
        while not self._stop.is_set():
            try:
                readable = self._channel.poll(0.0 if self._signalled else 0.2)
            except Exception:
                readable = True          # destroyed or gone: the reader finds out
            self._set(readable)
            if readable:
                # A message waits: the reader's refresh() after its receive brings the
                # fd up to date, so only a message another process took needs this look
                # again (it was every 5 ms: 200 remote operations a second per idle fd).
                self._stop.wait(0.2)

    def close(self):
        self._stop.set()
        self._thread.join(1.0)
        os.close(self._r)
        os.close(self._w)


class RemoteSemLock(_RemoteHandle):
    '''A SemLock whose semaphore channel lives on another node. The recursion count
    and owner of a lock are this process's own, as with a local SemLock.'''

    def __init__(self, handle, node, kind, maxvalue, name):
        _RemoteHandle.__init__(self, handle, node)
        self.kind = kind
        self.maxvalue = maxvalue
        self.name = name
        self._owner = None
        self._depth = 0

    @property
    def handle(self):
        return self._base

    def _transit_handle(self):
        return self.transit_descriptor()

    def _is_mine(self):
        return self._depth > 0 and self._owner == threading.get_ident()

    def _count(self):
        return self._depth

    def _get_value(self):
        value, _ = self._call(gateway.SEM_VALUE)
        return value

    def _is_zero(self):
        return self._get_value() == 0

    def _after_fork(self):
        self._depth = 0
        self._owner = None

    def acquire(self, block=True, timeout=None):
        if self.kind == 0 and self._is_mine():       # RECURSIVE_MUTEX
            self._depth += 1
            return True
        if not block:
            timeout = 0.0
        elif timeout is not None and timeout < 0:
            timeout = 0.0
        taken, _ = self._call(gateway.SEM_ACQUIRE, timeout)
        if not taken:
            return False
        self._depth += 1
        self._owner = threading.get_ident()
        return True

    def release(self):
        if self.kind == 0:
            if not self._is_mine():
                raise AssertionError('attempt to release recursive lock not owned by thread')
            if self._depth > 1:
                self._depth -= 1
                return
        released, _ = self._call(gateway.SEM_RELEASE)
        if not released:
            raise ValueError('semaphore or lock released too many times')
        self._depth = max(0, self._depth - 1)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *args):
        self.release()
