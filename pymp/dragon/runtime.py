#
# What a process of a Dragon job finds in its environment: the node's memory
# pool and the node's warm server. Outside a job, a clear error says how to run.
#

import os
import sys

__all__ = ['DragonRuntimeError', 'in_dragon_job', 'require_runtime', 'node_pool',
           'warm_socket_path', 'job_cpu_count']


class DragonRuntimeError(RuntimeError):
    pass


def in_dragon_job():
    return bool(os.environ.get('DRAGON_WARM_SOCKET'))


def _program_name():
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else 'prog.py'
    return os.path.basename(argv0)


def require_runtime():
    '''Raise DragonRuntimeError unless this process runs under `dragon`.'''
    missing = [name for name in ('DRAGON_WARM_SOCKET', 'DRAGON_NODE_POOL', 'DRAGON_MEMORY')
               if not os.environ.get(name)]
    if missing:
        raise DragonRuntimeError(
            "the 'dragon' start method needs the Dragon runtime, but this program was "
            "not started by it (%s not set): run it as `dragon %s`"
            % (', '.join(missing), _program_name()))


_pool = None


def node_pool():
    '''The node's shared memory pool (attached once per process).'''
    global _pool
    if _pool is None:
        require_runtime()
        from . import _dragon
        _pool = _dragon.Pool.attach(os.environ['DRAGON_MEMORY'],
                                    os.environ['DRAGON_NODE_POOL'])
    return _pool


def warm_socket_path():
    require_runtime()
    return os.environ['DRAGON_WARM_SOCKET']


def job_cpu_count():
    '''The CPUs the job may use (dragon-node sums its nodes' usable CPUs into
    DRAGON_JOB_CPUS); outside a job, the CPUs this process may use.'''
    value = os.environ.get('DRAGON_JOB_CPUS', '')
    if value.isdigit() and int(value) > 0:
        return int(value)
    return len(os.sched_getaffinity(0))
