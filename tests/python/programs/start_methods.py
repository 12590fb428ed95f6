# 'dragon' is registered beside spawn/fork/forkserver, and all work in one program.
import multiprocessing as mp
import sys

import dragon


def report(q, tag):
    q.put((tag, mp.current_process().name))


def run(method):
    ctx = mp.get_context(method)
    q = ctx.Queue()
    p = ctx.Process(target=report, args=(q, method), name='child-' + method)
    p.start()
    got = q.get(timeout=30)
    p.join(30)
    assert got == (method, 'child-' + method), got
    assert p.exitcode == 0, (method, p.exitcode)
    print(method, 'ok', type(q).__module__, flush=True)


if __name__ == '__main__':
    methods = mp.get_all_start_methods()
    assert 'dragon' in methods and 'spawn' in methods and 'fork' in methods, methods
    assert isinstance(mp.get_context('dragon'), dragon.DragonContext)
    assert mp.get_context('spawn').get_start_method() == 'spawn'
    # Selecting dragon first: stock contexts keep working beside it.
    mp.set_start_method('dragon')
    for method in sys.argv[1:]:
        run(method)
    assert mp.get_start_method() == 'dragon'
    q = mp.Queue()
    assert type(q).__module__ == 'dragon.queues', type(q)
    p = mp.Process(target=report, args=(q, 'default'), name='via-default')
    p.start()
    assert q.get(timeout=30) == ('default', 'via-default')
    p.join(30)
    assert p.exitcode == 0
    print('default dragon ok', flush=True)
