#
# Run at the start of every Python process of a Dragon job (dragon-node puts the
# directory holding this file on PYTHONPATH). It lets a program select the
# 'dragon' start method without `import dragon`: multiprocessing.get_context
# ("dragon") and set_start_method("dragon") import the package when first asked
# for it. Cheap: nothing is imported until multiprocessing.context is.
# Then it runs the sitecustomize this one shadows (Debian's python3 has one).
#

import os
import sys


class _LazyContexts(dict):
    '''multiprocessing.context._concrete_contexts that imports dragon on first
    use of the 'dragon' start method (importing it registers the context).'''

    def __missing__(self, method):
        if method != 'dragon':
            raise KeyError(method)
        import dragon  # noqa: F401
        if not dict.__contains__(self, method):
            raise KeyError(method)
        return dict.__getitem__(self, method)


class _PatchContextOnImport(object):
    '''A meta path finder that lets multiprocessing.context load as usual, then
    swaps its table of start methods for a _LazyContexts.'''

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'multiprocessing.context':
            return None
        import importlib.machinery
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _patch(module)
            _remove()

        spec.loader.exec_module = exec_module
        return spec


def _patch(module):
    contexts = getattr(module, '_concrete_contexts', None)
    if isinstance(contexts, dict) and not isinstance(contexts, _LazyContexts):
        module._concrete_contexts = _LazyContexts(contexts)
    process = getattr(module, 'Process', None)
    if process is not None and not getattr(process, '_dragon_hint', False):
        stock = process._Popen

        def _Popen(process_obj):
            _hint_start_method(module)
            return stock(process_obj)

        process._Popen = staticmethod(_Popen)
        process._dragon_hint = True


def _hint_start_method(module):
    '''Once per job, at info level: a program under dragon that never chose a start
    method runs its processes with the platform's default, outside Dragon.'''
    if (os.environ.get('DRAGON_LOG_LEVEL') not in ('info', 'debug')
            or os.environ.get('_DRAGON_START_METHOD_HINTED')):
        return
    method = module._default_context.get_context().get_start_method()
    if method == 'dragon':
        return
    os.environ['_DRAGON_START_METHOD_HINTED'] = '1'     # children need not say it again
    sys.stderr.write(
        'dragon (python pid %d): info: processes start with the %r start method: they stay '
        'on this node, outside Dragon; multiprocessing.set_start_method("dragon") runs them '
        'under Dragon\n' % (os.getpid(), method))
    sys.stderr.flush()


_finder = _PatchContextOnImport()


def _remove():
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass


def _install():
    if 'multiprocessing.context' in sys.modules:
        _patch(sys.modules['multiprocessing.context'])
    else:
        sys.meta_path.insert(0, _finder)


def _run_shadowed_sitecustomize():
    import importlib.machinery
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules['sitecustomize'] = module
        spec.loader.exec_module(module)


_install()
_run_shadowed_sitecustomize()
