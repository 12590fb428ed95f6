#
# Which node a new process goes to. DRAGON_PLACEMENT selects the default:
#   roundrobin  the next node in turn, starting after the parent's (Dragon's default)
#   block       fill a node's CPUs, then the next
#   local       the parent's node
# A Policy in effect (dragon.infrastructure.policy, `with Policy(...)`) overrides it.
#

import os
import threading

from . import gateway

__all__ = ['node_for_new_process', 'MODES', 'push_policy', 'pop_policy']

MODES = ('roundrobin', 'block', 'local')

_lock = threading.Lock()
_started = 0                       # processes this process placed by its default
_policies = threading.local()


def _stack():
    stack = getattr(_policies, 'stack', None)
    if stack is None:
        stack = _policies.stack = []
    return stack


def push_policy(policy):
    _stack().append(policy)


def pop_policy():
    _stack().pop()


def current_policy():
    stack = _stack()
    return stack[-1] if stack else None


def default_mode():
    mode = os.environ.get('DRAGON_PLACEMENT', 'roundrobin').strip().lower() or 'roundrobin'
    if mode not in MODES:
        raise ValueError('DRAGON_PLACEMENT=%r is not a placement: use one of %s'
                         % (mode, ', '.join(MODES)))
    return mode


def _cpus_per_node(nodes):
    total = int(os.environ.get('DRAGON_JOB_CPUS', '0') or 0)
    return max(1, total // nodes) if total else max(1, (os.cpu_count() or 1) // nodes)


def _next(mode, nodes, me):
    global _started
    with _lock:
        k = _started
        _started += 1
    if mode == 'roundrobin':
        return (me + 1 + k) % nodes
    per_node = _cpus_per_node(nodes)          # block
    return (me + k // per_node) % nodes


def node_for_new_process():
    nodes = gateway.num_nodes()
    me = gateway.this_node()
    policy = current_policy()
    if policy is not None:
        node = policy._node_for(nodes, me, _next)
        if node is not None:
            return node
    mode = default_mode()
    if nodes <= 1 or not gateway.available() or mode == 'local':
        return me
    return _next(mode, nodes, me)
