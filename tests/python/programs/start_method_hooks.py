# What a program under `dragon` can do with the start method (issue 15, "messages
# a user needs"). Modes:
#   no-import   selects "dragon" without `import dragon` (get_context, set_start_method)
#   patch-mp    imports dragon with DRAGON_PATCH_MP set: "dragon" is the default
#   barrier     creates a dragon Barrier, then reaches multiprocessing.heap as stock allows
#   unselected  never selects a start method and starts two processes
import multiprocessing as mp
import sys


def put(queue):
    queue.put('child ran')


def no_import():
    assert 'dragon' not in sys.modules
    mp.set_start_method('dragon')
    print('start method', mp.get_start_method(), flush=True)
    ctx = mp.get_context('dragon')
    queue = ctx.Queue()
    p = ctx.Process(target=put, args=(queue,))
    p.start()
    print(type(ctx).__name__, queue.get(timeout=30), flush=True)
    p.join(30)


def patch_mp():
    import dragon  # noqa: F401
    print('default', mp.get_start_method(), flush=True)
    queue = mp.Queue()
    p = mp.Process(target=put, args=(queue,))
    p.start()
    print('started by', p._popen.method, queue.get(timeout=30), flush=True)
    p.join(30)


def barrier():
    import dragon  # noqa: F401
    mp.set_start_method('dragon')
    mp.Barrier(2)
    print('heap', 'multiprocessing.heap' in sys.modules, flush=True)


def noop():
    pass


def unselected():
    for _ in range(2):
        p = mp.Process(target=noop)
        p.start()
        p.join(30)
    print('method', mp.get_start_method(), flush=True)


if __name__ == '__main__':
    {'no-import': no_import, 'patch-mp': patch_mp, 'barrier': barrier,
     'unselected': unselected}[sys.argv[1]]()
