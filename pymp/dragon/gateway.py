#
# A process's link to its node's gateway (DRAGON_GATEWAY_SOCKET), through which it
# reaches channels and starts processes on other nodes: dragon-node forwards each
# request to the owner node's dragon-node, which performs it and answers with the
# true outcome (done, timed out, destroyed, node lost). See
# launch/node/gateway_protocol.hpp for the frames.
#
# One connection per thread (a blocking call holds only its own), opened at the
# first call; a call interrupted (KeyboardInterrupt, any exception while waiting)
# drops its connection, which withdraws the request on the owner node.
#
# Lanes (launch/node/lane.hpp): channel operations go instead straight to the owner
# node's dragon-node, over a TCP connection of the thread's own (one per owner node),
# in the same frames: one process fewer to wake on each side of every remote
# operation. A large message is sent from the object's own buffers and received into
# a block of this node's pool. Attach, start and signal still go through this node's
# gateway (and everything, when a lane cannot be opened); a thread waits for each
# answer before it asks again, so its requests keep their order whichever way each
# goes.
#

import hashlib
import hmac
import itertools
import os
import re
import socket
import struct
import threading

from . import _dragon
from . import runtime
from .reduction import _align

SEND, RECV, POLL, SIZE, SEM_ACQUIRE, SEM_RELEASE, SEM_VALUE, ATTACH, DETACH, TRANSIT, \
    DESTROY, START, SIGNAL, MEM_READ, MEM_WRITE, MEM_READ_LOCKED, MEM_WRITE_LOCKED = range(1, 18)

OK, TIMEOUT, PEER_LOST = 0, 6, 10
_STATUS_NAMES = {1: 'invalid argument', 2: 'not found', 3: 'already exists',
                 4: 'out of memory', 5: 'permission denied', 6: 'timed out',
                 7: 'unavailable', 8: 'internal error', 9: 'try again', 10: 'peer lost',
                 11: 'canceled', 12: 'truncated'}

_REQUEST = struct.Struct('<IBBHIQq')     # length, op, flags, descriptor length, node, id, timeout
_REPLY = struct.Struct('<IiHHQq')        # length, status, text length, flags, id, value
_BLOCK = struct.Struct('<QQ')            # a payload that is a pool block: handle, length
PAYLOAD_IS_BLOCK = 1
# Messages at least this large travel as a block of the node's pool (one copy on each
# node), not through the socket.
BLOCK_MIN = 1 << 16
_NODE_OF_POOL = re.compile(r'-pool-n(\d+)$')

# What may travel on a lane (the node refuses anything else there).
_LANE_OPS = frozenset((SEND, RECV, POLL, SIZE, SEM_ACQUIRE, SEM_RELEASE, SEM_VALUE, MEM_READ,
                       MEM_WRITE, MEM_READ_LOCKED, MEM_WRITE_LOCKED))
_LANE_SETUP_TIMEOUT = 10.0

_ids = itertools.count(1)
_local = threading.local()


def available():
    return bool(os.environ.get('DRAGON_GATEWAY_SOCKET'))


def this_node():
    return int(os.environ.get('DRAGON_NODE_INDEX', '0'))


def num_nodes():
    return int(os.environ.get('DRAGON_NUM_NODES', '1'))


def owner_node(descriptor):
    '''The node whose pool holds the channel of `descriptor`, or None when it is this
    node's (a channel of this node is used in shared memory directly).'''
    parts = descriptor.split(':')
    if len(parts) < 5:
        return None
    segment = parts[2]
    if segment == os.environ.get('DRAGON_NODE_POOL'):
        return None
    m = _NODE_OF_POOL.search(segment)
    if m is None:
        return None
    node = int(m.group(1))
    return None if node == this_node() else node


def _error(status, text):
    if status == TIMEOUT:
        return TimeoutError(text)
    e = _dragon.DragonError(text)
    e.status = _STATUS_NAMES.get(status, 'unknown status')
    return e


def _connection():
    conn = getattr(_local, 'conn', None)
    if conn is not None and _local.pid == os.getpid():
        return conn
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = os.environ.get('DRAGON_GATEWAY_SOCKET', '')
    try:
        conn.connect(path)
    except OSError as e:
        conn.close()
        raise runtime.DragonRuntimeError(
            'cannot reach this node\'s gateway (%s: %s): dragon-node is gone, the job is '
            'ending' % (path or 'DRAGON_GATEWAY_SOCKET unset', e.strerror)) from None
    _local.conn, _local.pid = conn, os.getpid()
    return conn


def _drop_connection():
    conn = getattr(_local, 'conn', None)
    _local.conn = None
    if conn is not None:
        conn.close()


def _lane_addresses():
    text = os.environ.get('DRAGON_LANE_ADDRESSES', '')
    key = os.environ.get('DRAGON_LANE_KEY', '')
    if not text or not key:
        return None
    out = []
    for item in text.split(','):
        host, _, port = item.rpartition(':')
        out.append((host, int(port)))
    return out


def _lanes():
    '''This thread's lanes by node (None: cannot be opened), new in a forked child.'''
    lanes = getattr(_local, 'lanes', None)
    if lanes is None or _local.lanes_pid != os.getpid():
        lanes = _local.lanes = {}
        _local.lanes_pid = os.getpid()
    return lanes


def _lane_lost(node, why):
    from .native import machine
    host = machine.Node(node).hostname
    return _error(PEER_LOST, 'node %d (%s) was lost: %s' % (node, host, why))


def _lane_broke(e):
    if isinstance(e, runtime.DragonRuntimeError):
        return 'its dragon-node closed this process\'s lane (it died, or the job is ending)'
    return 'its lane broke: %s' % e


def _real_pid():
    # os.getpid() is job-wide under several nodes (node_local.py); the lane names the
    # process as its node knows it.
    return os.getpid() & ((1 << PID_NODE_SHIFT) - 1)


def _open_lane(node, address):
    key = bytes.fromhex(os.environ['DRAGON_LANE_KEY'])
    conn = socket.create_connection(address, timeout=_LANE_SETUP_TIMEOUT)
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A host that vanishes without closing (power, network) breaks the lane within
        # about 5 s (the kernel's keepalive probes, which a busy dragon-node does not
        # delay), not never: a wait on a lost node ends with that error.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 2)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 5000)
        hello = _recv_exactly(conn, 20)
        if hello[:4] != b'DLN1':
            raise OSError('%s:%d is not a dragon-node\'s lane' % address)
        me = struct.pack('<II', this_node(), _real_pid())
        mac = hmac.new(key, b'lane' + bytes(hello[4:]) + me, hashlib.sha256).digest()
        conn.sendall(b'DLP1' + me + mac)
        if _recv_exactly(conn, 1) != b'Y':
            raise OSError('it refused this process\'s proof of the lane key')
        conn.settimeout(None)
        return conn
    except BaseException:
        conn.close()
        raise


def _lane(node):
    '''This thread's lane to `node`, opened at its first use; None when there are no
    lanes, or this one could not be opened (then the call goes through our node, whose
    gateway reports a lost node as such).'''
    lanes = _lanes()
    if node in lanes:
        return lanes[node]
    addresses = _lane_addresses()
    conn = None
    if addresses and node < len(addresses):
        try:
            conn = _open_lane(node, addresses[node])
        except (OSError, EOFError, runtime.DragonRuntimeError):
            conn = None
    lanes[node] = conn
    return conn


def _drop_lane(node):
    conn = _lanes().pop(node, None)
    if conn is not None:
        conn.close()


def _fill(conn, view, got=0):
    '''Receives into view[got:] until it is full.'''
    while got < len(view):
        k = conn.recv_into(view[got:])
        if k == 0:
            raise runtime.DragonRuntimeError(
                'this node\'s dragon-node closed the gateway connection: the job is ending')
        got += k


def _recv_exactly(conn, n):
    data = bytearray(n)
    _fill(conn, memoryview(data))
    return data


def _frame(op, node, descriptor, timeout, payload_len, request_id, value=None, flags=0):
    d = descriptor.encode() if isinstance(descriptor, str) else descriptor
    if value is not None:
        timeout_ns = value          # an operation's argument (a signal number)
    else:
        timeout_ns = -1 if timeout is None else max(0, int(timeout * 1e9))
    return _REQUEST.pack(_REQUEST.size - 4 + len(d) + payload_len, op, flags, len(d), node,
                         request_id, timeout_ns) + d


# How long a wait for a reply sleeps before Python looks at its signals.
_REPLY_WAIT_SLICE = 0.1


def read_reply(conn, only=False):
    '''(status, value, text, payload) of the next reply on `conn`. `only`: it is the
    only reply that can come now, so one read may take all of it at once.'''
    if only:
        buf = _reply_buffer()
        # The reply usually comes within the spin window: looking for it first
        # spares the wake-up of a sleeping vCPU (see _dragon.await_readable); after
        # it, waiting there (in slices, for signals) lets the wake-up be prompt.
        fd = conn.fileno()
        while not _dragon.await_readable(fd, _REPLY_WAIT_SLICE):
            pass
        got = conn.recv_into(buf)
        while 0 < got < _REPLY.size:
            got += conn.recv_into(memoryview(buf)[got:])
        if got == 0:
            _recv_exactly(conn, 1)              # raises: the node closed it
        length, status, text_len, flags, _, value = _REPLY.unpack_from(buf)
        total = length + 4
        if got >= total:
            rest = bytes(memoryview(buf)[_REPLY.size:total])
        elif total - _REPLY.size >= BLOCK_MIN and not text_len:
            # A large message (on a lane): read straight into a block of our pool.
            return status, value, '', _recv_large(conn, memoryview(buf)[_REPLY.size:got],
                                                  total - _REPLY.size)
        else:
            rest = bytes(memoryview(buf)[_REPLY.size:got]) + _recv_exactly(conn, total - got)
    else:
        head = _recv_exactly(conn, _REPLY.size)
        length, status, text_len, flags, _, value = _REPLY.unpack(head)
        rest = (_recv_exactly(conn, length - (_REPLY.size - 4)) if length > _REPLY.size - 4
                else b'')
    text = bytes(rest[:text_len]).decode(errors='replace') if text_len else ''
    data = rest[text_len:] if text_len else rest
    if flags & PAYLOAD_IS_BLOCK:
        # A large message our node placed in its pool: we own the block now.
        handle, size = _BLOCK.unpack(data)
        data = _dragon.adopt_block(runtime.node_pool(), handle, size)
    return status, value, text, data


def _recv_large(conn, start, size):
    '''A message of `size` bytes whose first bytes are `start` and the rest still on
    `conn`: a Message in a block of this node's pool (a bytearray if it has no room).'''
    message = _dragon.new_message(runtime.node_pool(), size)
    data = message if message is not None else bytearray(size)
    with memoryview(data) as view:
        view[:len(start)] = start
        _fill(conn, view, len(start))
    return data


def _reply_buffer():
    buf = getattr(_local, 'buf', None)
    if buf is None:
        buf = _local.buf = bytearray(1 << 16)
    return buf


def _framed_pieces(parts):
    '''The parts as Channel.send_parts frames them (pymp/module/parts_layout.hpp), as
    a list of buffers to send one after the other, and their total length.'''
    views = [memoryview(p).cast('B') for p in parts]
    head = bytearray(_align(16 + 8 * len(views)))
    head[0] = _dragon.PARTS_TAG
    struct.pack_into('<Q', head, 8, len(views))
    for i, v in enumerate(views):
        struct.pack_into('<Q', head, 16 + 8 * i, len(v))
    pieces, total = [head], len(head)
    for v in views:
        pieces.append(v)
        total += len(v)
        pad = _align(total) - total
        if pad:
            pieces.append(bytes(pad))
            total += pad
    return pieces, total


def _ask_on_lane(lane, node, head, pieces):
    '''A request on the lane to `node`: its frame's head, then its payload in pieces;
    returns (value, payload) of the answer or raises the owner's error. A large message
    goes from its own buffers: the owner reads it straight into a block of its pool.'''
    try:
        if len(pieces) == 1 and len(pieces[0]) < BLOCK_MIN:
            lane.sendall(head + pieces[0])          # one system call
        else:
            lane.sendall(head)
            for piece in pieces:
                lane.sendall(piece)
        status, result, text, data = read_reply(lane, only=True)
    except (OSError, runtime.DragonRuntimeError) as e:
        _drop_lane(node)
        raise _lane_lost(node, _lane_broke(e)) from None
    except BaseException:
        # The owner withdraws a pending request, and drops a message cut short.
        _drop_lane(node)
        raise
    if status != OK:
        raise _error(status, text)
    return result, data


def send_block_request(op, node, descriptor, timeout, parts, framed):
    '''A request whose payload (the parts, framed as Channel.send_parts frames them, or
    one part as is) goes in a block of this node's pool: written once, then our node
    sends it from there and frees it. A send goes on the lane instead when there is
    one, straight from the parts.'''
    lane = _lane(node) if op == SEND else None
    if lane is not None:
        try:
            if framed:
                pieces, total = _framed_pieces(parts)
            else:
                pieces = [memoryview(parts[0]).cast('B')]
                total = len(pieces[0])
        except (TypeError, ValueError):
            pieces = None            # not a contiguous buffer: the block path copies it
        if pieces is not None and total < (1 << 31) - 4096:
            head = _frame(SEND, node, descriptor, timeout, total, next(_ids))
            return _ask_on_lane(lane, node, head, pieces)
    pool = runtime.node_pool()
    handle, size, record = _dragon.write_block(pool, parts, framed, timeout)
    try:
        return call(op, node, descriptor, timeout, _BLOCK.pack(handle, size) + record,
                    flags=PAYLOAD_IS_BLOCK)
    except BaseException:
        # Our node may not have taken the block (the request did not get through):
        # then it is still recorded as ours, and freed here.
        _dragon.reclaim_block(pool, handle, record)
        raise


def call(op, node, descriptor, timeout=None, payload=b'', fds=None, conn=None, value=None,
         flags=0):
    '''One request; returns (value, payload) or raises the owner's error.'''
    if (conn is None and op in _LANE_OPS and not fds and not flags
            and len(payload) < BLOCK_MIN):
        lane = _lane(node)
        if lane is not None:
            head = _frame(op, node, descriptor, timeout, len(payload), next(_ids), value)
            return _ask_on_lane(lane, node, head, [payload])
    own = conn is None
    if own:
        conn = _connection()
    request_id = next(_ids)
    try:
        head = _frame(op, node, descriptor, timeout, len(payload), request_id, value, flags)
        if fds:
            socket.send_fds(conn, [head], fds)
            if len(payload):
                conn.sendall(payload)
        elif len(payload) < BLOCK_MIN:
            conn.sendall(head + payload if len(payload) else head)    # one system call
        else:
            conn.sendall(head)
            conn.sendall(payload)
        if op == DETACH:
            return 0, b''
        status, result, text, data = read_reply(conn, only=own)
    except BaseException:
        if own:
            _drop_connection()       # the request may still be pending: withdraw it
        raise
    if status != OK:
        raise _error(status, text)
    return result, data


def send_request(conn, op, node, payload, fds=()):
    '''Sends a request without waiting for its reply (a process start: the replies,
    pid then exit code, are read later with read_reply).'''
    head = _frame(op, node, b'', None, len(payload), next(_ids))
    socket.send_fds(conn, [head], list(fds)) if fds else conn.sendall(head)
    conn.sendall(payload)


# A job-wide pid: a process of node k > 0 is named pid + k * 2**22 (above Linux's
# largest pid), so that pids stay unique in the job and say where the process runs.
PID_NODE_SHIFT = 22


def job_pid(node, pid):
    return pid + (node << PID_NODE_SHIFT)


def raise_for(status, text):
    if status != OK:
        raise _error(status, text)


def new_connection():
    '''A dedicated connection (a remote child's status line).'''
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.environ['DRAGON_GATEWAY_SOCKET'])
    return conn
