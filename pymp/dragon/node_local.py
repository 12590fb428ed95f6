#
# What a multi-node job changes in multiprocessing's node-local defaults:
#
# Listeners (and so managers) listen where other nodes can reach them: the default
# family becomes AF_INET, and an arbitrary address is this node's address (the one
# dragon-node publishes, DRAGON_NODE_ADDRESSES) with a free port, instead of an
# AF_UNIX path in this host's temporary directory.
#
# Pids are job-wide: a process of node k > 0 is pid + k * 2**22 (above Linux's
# largest pid) to every process of the job, itself included (os.getpid()), so that
# pids stay unique over the nodes and `os.kill(p.pid, sig)` reaches a child on any
# node (one of another node through the gateway).
#
# A file descriptor does not cross nodes either: a socket Connection (or a handle) sent
# to a running process goes through multiprocessing.resource_sharer, which hands the
# fd over with SCM_RIGHTS, possible only on one host. Its listener stays a UNIX socket
# (the AF_INET default above made every such handover fail, even on one node), its
# DupFd records the node it was made on, and detaching it on another node is a clear
# error, not the "received 0 items of ancdata" that stock code would meet.
#
# multiprocessing.shared_memory.SharedMemory is a segment of one host's memory. Pickled (a Process argument, a queued object) it names the node
# it lives on, and unpickling it on another node is a clear error rather than an
# attach to a different segment of the same name (on a cluster) or, between simulated
# nodes of one machine, a silent share that no real cluster would give.
#

import os

__all__ = ['install']


def _this_node():
    return int(os.environ.get('DRAGON_NODE_INDEX', '0'))


def _rebuild_shared_memory(name, size, node):
    from multiprocessing import shared_memory
    if node != _this_node():
        raise ValueError(
            'SharedMemory %r lives on node %d, and this process runs on node %d: shared '
            'memory does not cross nodes. Send the data through a Queue or a Pipe, or start '
            'this process on node %d (DRAGON_PLACEMENT=local, or `with Policy(placement='
            'Policy.Placement.LOCAL)`)' % (name, node, _this_node(), node))
    return shared_memory.SharedMemory(name, False, size)


def _reduce_shared_memory(self):
    return (_rebuild_shared_memory, (self.name, self.size, _this_node()))


def _reachable_arbitrary_address(stock):
    def arbitrary_address(family):
        if family == 'AF_INET':
            from .native import machine
            return (machine.current().ip, 0)
        return stock(family)
    arbitrary_address.stock = stock
    return arbitrary_address


def _job_pids():
    from . import gateway
    node = _this_node()
    shift = gateway.PID_NODE_SHIFT
    real_getpid, real_kill = os.getpid, os.kill

    def getpid():
        return real_getpid() + (node << shift)

    def kill(pid, sig):
        if pid <= 0 or pid >> shift == 0:
            return real_kill(pid, sig)              # node 0's, a group, or not ours
        target, local = pid >> shift, pid & ((1 << shift) - 1)
        if target == node:
            return real_kill(local, sig)
        try:
            gateway.call(gateway.SIGNAL, target, str(local), value=int(sig))
        except Exception as e:
            raise ProcessLookupError(3, 'No such process (%d on node %d: %s)'
                                     % (local, target, e)) from None

    getpid.real = real_getpid
    kill.real = real_kill
    if node:
        os.getpid = getpid
        # Finalize.__call__ binds os.getpid as a default argument at import: it must
        # compare with the same pids its __init__ records.
        from multiprocessing import util
        call = util.Finalize.__call__
        call.__defaults__ = tuple(getpid if d is real_getpid else d for d in call.__defaults__)
    os.kill = kill


def _fds_stay_on_their_node():
    from multiprocessing import connection, process, resource_sharer
    import threading

    def _start(self):
        # Stock's, with the family said: the default is AF_INET in a multi-node job.
        assert self._listener is None, 'Already have Listener'
        self._listener = connection.Listener(family='AF_UNIX', backlog=128,
                                             authkey=process.current_process().authkey)
        self._address = self._listener.address
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
    resource_sharer._ResourceSharer._start = _start

    dupfd = resource_sharer.DupFd
    stock_init, stock_detach = dupfd.__init__, dupfd.detach

    def __init__(self, fd):
        stock_init(self, fd)
        self.node = _this_node()

    def detach(self):
        node = getattr(self, 'node', _this_node())
        if node != _this_node():
            raise ValueError(
                'a file descriptor (a socket Connection, or a handle sent with '
                'multiprocessing.reduction) of a process on node %d cannot be used by this '
                'process on node %d: file descriptors do not cross nodes. Connect from this '
                'node instead (connection.Client(address)), or send the data through a Queue '
                'or a Pipe' % (node, _this_node()))
        return stock_detach(self)
    __init__.stock = stock_init
    dupfd.__init__, dupfd.detach = __init__, detach


def install():
    from multiprocessing import connection, resource_sharer, shared_memory
    if not hasattr(os.kill, 'real'):
        _job_pids()
    shared_memory.SharedMemory.__reduce__ = _reduce_shared_memory
    if not hasattr(resource_sharer.DupFd.__init__, 'stock'):
        _fds_stay_on_their_node()
    if not hasattr(connection.arbitrary_address, 'stock'):
        connection.arbitrary_address = _reachable_arbitrary_address(connection.arbitrary_address)
    connection.default_family = 'AF_INET'
