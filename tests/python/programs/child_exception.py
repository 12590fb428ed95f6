# An exception in a child prints its traceback on stderr and gives exitcode 1.
import multiprocessing as mp

import dragon  # noqa: F401


def fail():
    raise ValueError('boom-from-the-child')


if __name__ == '__main__':
    ctx = mp.get_context('dragon')
    p = ctx.Process(target=fail)
    p.start()
    p.join(30)
    print('exitcode', p.exitcode, flush=True)
