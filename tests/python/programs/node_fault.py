# A job that keeps every kind of process busy on its node: a dragon child, a
# Pool's workers, a subprocess of the head program and the head itself; the test
# kills a dragon-node under it.
import multiprocessing as mp
import os
import subprocess
import time

import dragon  # noqa: F401


def forever():
    while True:
        time.sleep(1)

def square(x):
    return x * x

if __name__ == '__main__':
    mp.set_start_method('dragon')
    p = mp.Process(target=forever)
    p.start()
    pool = mp.Pool(2)
    assert pool.map(square, range(4)) == [0, 1, 4, 9]
    subprocess.Popen(['sleep', '600'])
    print('ready', os.environ['DRAGON_JOB_ID'], flush=True)
    forever()
