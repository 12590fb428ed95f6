#
# Dragon's description of the allocation (dragon.native.machine): the nodes of the
# job, each with its host name, address and CPUs. A node's h_uid is its index in
# the job (0 is the primary node, where the head program runs).
#

import os

from .. import runtime

__all__ = ['System', 'Node', 'current', 'cpu_count']


def _listed(name, count):
    values = os.environ.get(name, '').split(',')
    return values if len(values) == count and all(values) else None


def _table():
    count = int(os.environ.get('DRAGON_NUM_NODES', '1'))
    hosts = _listed('DRAGON_NODE_HOSTS', count)
    if hosts is None:
        import socket
        hosts = [socket.gethostname()] * count
    cpus = _listed('DRAGON_NODE_CPU_COUNTS', count) or [str(len(os.sched_getaffinity(0)))] * count
    addrs = _listed('DRAGON_NODE_ADDRESSES', count) or ['127.0.0.1'] * count
    return hosts, [int(c) for c in cpus], addrs


class Node(object):
    '''A node of the job, by h_uid (its index) or host name.'''

    def __init__(self, ident):
        hosts, cpus, addrs = _table()
        if isinstance(ident, Node):
            ident = ident.h_uid
        if isinstance(ident, str):
            if hosts.count(ident) == 1:
                index = hosts.index(ident)
            elif ident in hosts:
                raise ValueError('host name %r names several nodes of this job (%s): use the '
                                 'node index (h_uid) instead' % (ident, ', '.join(hosts)))
            else:
                raise ValueError('no node of this job is named %r: the nodes are %s'
                                 % (ident, ', '.join(hosts)))
        else:
            index = int(ident)
            if not 0 <= index < len(hosts):
                raise ValueError('no node %d in this job of %d nodes' % (index, len(hosts)))
        self._h_uid = index
        self._hostname = hosts[index]
        self._cpus = cpus[index]
        self._ip = addrs[index]

    @property
    def h_uid(self):
        return self._h_uid

    @property
    def hostname(self):
        return self._hostname

    @property
    def name(self):
        return self._hostname

    @property
    def ip(self):
        return self._ip

    @property
    def ip_addrs(self):
        return [self._ip]

    @property
    def num_cpus(self):
        return self._cpus

    @property
    def cpus(self):
        '''The CPUs the job may use there, numbered from 0 (on this node: the real ids).'''
        if self._h_uid == int(os.environ.get('DRAGON_NODE_INDEX', '0')):
            return sorted(os.sched_getaffinity(0))
        return list(range(self._cpus))

    @property
    def is_primary(self):
        return self._h_uid == 0

    def __eq__(self, other):
        return isinstance(other, Node) and other.h_uid == self.h_uid

    def __hash__(self):
        return hash(self._h_uid)

    def __repr__(self):
        return 'Node(%d, %r)' % (self._h_uid, self._hostname)


class System(object):
    '''The allocation the job runs on.'''

    @property
    def nodes(self):
        return list(range(self.nnodes))

    @property
    def nnodes(self):
        return int(os.environ.get('DRAGON_NUM_NODES', '1'))

    @property
    def primary_node(self):
        return Node(0)


def current():
    '''The node this process runs on.'''
    return Node(int(os.environ.get('DRAGON_NODE_INDEX', '0')))


def cpu_count():
    '''The CPUs the whole job may use, over all its nodes.'''
    return runtime.job_cpu_count()
