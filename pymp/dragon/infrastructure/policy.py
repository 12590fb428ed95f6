#
# Dragon's placement Policy, so that programs written for Dragon run unchanged:
#
#     from dragon.infrastructure.policy import Policy
#     with Policy(placement=Policy.Placement.HOST_NAME, host_name='node7'):
#         p = mp.Process(...); p.start()            # on node7
#
# A Policy in a `with` block applies to the processes (and Pool workers) created in
# it by this thread. Nested blocks merge: what the inner one leaves at DEFAULT comes
# from the outer one. Host ids are node indices (dragon.native.machine.Node.h_uid).
# Only placement is honoured; CPU and GPU affinity are accepted and not applied.
#

import enum
from dataclasses import dataclass, field, fields

from .. import placement as _placement

__all__ = ['Policy']


@dataclass
class Policy:

    class Placement(enum.IntEnum):
        DEFAULT = -5
        LOCAL = -4
        ANYWHERE = -3
        HOST_NAME = -2
        HOST_ID = -1

    class Distribution(enum.IntEnum):
        DEFAULT = 0
        ROUNDROBIN = 1
        BLOCK = 2

    class WaitMode(enum.IntEnum):
        DEFAULT = 0
        IDLE = 1
        SPIN = 2

    placement: 'Policy.Placement' = Placement.DEFAULT
    host_name: str = ''
    host_id: int = -1
    distribution: 'Policy.Distribution' = Distribution.DEFAULT
    cpu_affinity: list = field(default_factory=list)
    gpu_env_str: str = ''
    gpu_affinity: list = field(default_factory=list)
    wait_mode: 'Policy.WaitMode' = WaitMode.DEFAULT
    refcounted: bool = True

    def __post_init__(self):
        self.placement = Policy.Placement(self.placement)
        self.distribution = Policy.Distribution(self.distribution)
        if self.placement == Policy.Placement.HOST_NAME and not self.host_name:
            raise ValueError('Policy.Placement.HOST_NAME needs host_name')
        if self.placement == Policy.Placement.HOST_ID and self.host_id < 0:
            raise ValueError('Policy.Placement.HOST_ID needs host_id (a node index)')

    def merge(self, inner):
        '''`inner` over self: its fields at their defaults take ours.'''
        merged = Policy()
        defaults = Policy()
        for f in fields(Policy):
            value = getattr(inner, f.name)
            setattr(merged, f.name,
                    getattr(self, f.name) if value == getattr(defaults, f.name) else value)
        return merged

    # -- as a context manager

    def __enter__(self):
        outer = _placement.current_policy()
        _placement.push_policy(outer.merge(self) if outer is not None else self)
        return self

    def __exit__(self, *exc):
        _placement.pop_policy()
        return False

    # -- where a new process goes (placement.node_for_new_process)

    def _node_for(self, nodes, me, next_in_turn):
        from ..native import machine
        P = Policy.Placement
        if self.placement == P.LOCAL:
            return me
        if self.placement == P.HOST_NAME:
            return machine.Node(self.host_name).h_uid
        if self.placement == P.HOST_ID:
            return machine.Node(int(self.host_id)).h_uid
        if self.distribution == Policy.Distribution.ROUNDROBIN:
            return next_in_turn('roundrobin', nodes, me) if nodes > 1 else me
        if self.distribution == Policy.Distribution.BLOCK:
            return next_in_turn('block', nodes, me) if nodes > 1 else me
        return None                 # ANYWHERE / DEFAULT: the job's default placement
