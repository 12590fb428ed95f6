"""concurrent.futures' own tests (test.test_concurrent_futures, from the
libpython3.11-testsuite package of /usr/bin/python3) with a ProcessPoolExecutor
on start method 'dragon'.

The stock module builds one class per (test mixin, executor mixin) pair with
create_executor_tests(): ProcessPoolSpawnExecutorTest and so on. This module
finds every ProcessPoolSpawn* class there, takes its test mixin and builds the
same class on ProcessPoolDragonMixin (mp_context=get_context('dragon')):
ProcessPoolDragonExecutorTest etc. The thread-pool and Future tests do not
involve a start method and are left out.

run_suite.py writes a test module that calls install_tests(globals(), METHOD)
and runs it with `python3 -m test`: METHOD 'dragon' under `dragon`, 'spawn'
(the stock classes, unchanged) as the baseline.
"""

import sys

from concurrent import futures
from concurrent.futures.process import _check_system_limits
from test import test_concurrent_futures as cf

STOCK_PREFIX = 'ProcessPoolSpawn'


class ProcessPoolDragonMixin(cf.ExecutorMixin):
    """As cf.ProcessPoolSpawnMixin, on the 'dragon' context."""
    executor_type = futures.ProcessPoolExecutor
    ctx = 'dragon'

    def get_context(self):
        try:
            _check_system_limits()
        except NotImplementedError:
            self.skipTest('ProcessPoolExecutor unavailable on this system')
        return super().get_context()


def _stock_classes():
    """(name, class) of every stock ProcessPoolSpawn* test class."""
    for name in sorted(vars(cf)):
        obj = getattr(cf, name)
        if (name.startswith(STOCK_PREFIX) and isinstance(obj, type)
                and issubclass(obj, cf.unittest.TestCase)):
            yield name, obj


def _dragon_bases(name, stock):
    # create_executor_tests() made stock as (test mixin, executor mixin, *bases).
    test_mixin, executor_mixin, *bases = stock.__bases__
    if executor_mixin is not cf.ProcessPoolSpawnMixin:
        raise RuntimeError(f'{name}: unexpected bases {stock.__bases__}')
    return (test_mixin, ProcessPoolDragonMixin, *bases)


def install_tests(namespace, start_method):
    """Puts the process-pool test classes for start_method into namespace."""
    if start_method == 'dragon':
        import dragon  # noqa: F401  (registers the start method)
    elif start_method != 'spawn':
        raise ValueError(f'start method {start_method!r}: use dragon or spawn')
    classes = list(_stock_classes())
    if not classes:
        sys.exit(f'no {STOCK_PREFIX}* classes in {cf.__file__}')
    for name, stock in classes:
        if start_method == 'dragon':
            name = 'ProcessPoolDragon' + name[len(STOCK_PREFIX):]
            bases = _dragon_bases(name, stock)
        else:
            bases = (stock,)
        # Defined in the calling module (not cf), so that a pickled test case
        # names a class its children can import.
        namespace[name] = type(name, bases, {'__module__': namespace['__name__'],
                                             '__qualname__': name})
    namespace['setUpModule'] = cf.setUpModule
