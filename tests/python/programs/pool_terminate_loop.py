# Pool's context manager terminates the pool; its drain of the task queue (poll,
# then recv) must not race a worker for the last item and wait forever.
import multiprocessing as mp

import dragon  # noqa: F401


def ident(x):
    return x


if __name__ == '__main__':
    mp.set_start_method('dragon')
    for i in range(30):
        with mp.Pool(2) as pool:
            assert pool.map(ident, range(2000), chunksize=1) == list(range(2000))
    print('terminate loop ok', flush=True)
