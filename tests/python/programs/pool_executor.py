# CPython's own multiprocessing.Pool and concurrent.futures run unchanged on 'dragon'.
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import dragon  # noqa: F401


def square(x):
    return x * x


def fail(x):
    raise KeyError(x)


if __name__ == '__main__':
    mp.set_start_method('dragon')
    with mp.Pool(2) as pool:
        assert pool.map(square, range(20)) == [x * x for x in range(20)]
        assert pool.apply_async(square, (7,)).get(timeout=30) == 49
        try:
            pool.apply_async(fail, ('k',)).get(timeout=30)
        except KeyError as e:
            assert e.args == ('k',)
        else:
            raise AssertionError('expected KeyError from the worker')
    print('pool ok', flush=True)
    with ProcessPoolExecutor(2, mp_context=mp.get_context('dragon')) as ex:
        assert list(ex.map(square, range(10), timeout=30)) == [x * x for x in range(10)]
        assert ex.submit(square, 9).result(timeout=30) == 81
    print('executor ok', flush=True)
