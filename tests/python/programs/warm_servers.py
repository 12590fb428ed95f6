"""Which of the job's nodes run a warm server, before and after a child starts on
node 2 (test_bring_up.py). Prints one JSON line: {"before": [...], "after": [...]}."""

import json
import multiprocessing as mp
import os
import time

import dragon  # noqa: F401
from dragon.infrastructure.policy import Policy


def nodes_with_warm_servers():
    job = os.environ['DRAGON_JOB_ID']
    nodes = set()
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                if b'dragon.warm_server' not in f.read():
                    continue
            with open('/proc/%s/environ' % pid, 'rb') as f:
                env = dict(kv.split(b'=', 1) for kv in f.read().split(b'\0') if b'=' in kv)
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if env.get(b'DRAGON_JOB_ID', b'').decode() == job:
            nodes.add(int(env[b'DRAGON_NODE_INDEX']))
    return sorted(nodes)


def nothing():
    pass


if __name__ == '__main__':
    mp.set_start_method('dragon')
    before = nodes_with_warm_servers()
    with Policy(placement=Policy.Placement.HOST_ID, host_id=2):
        p = mp.Process(target=nothing)
        p.start()
    p.join(60)
    time.sleep(0.2)
    print(json.dumps({'before': before, 'after': nodes_with_warm_servers(),
                      'exitcode': p.exitcode}))
