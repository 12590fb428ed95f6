#
# Dragon: Python multiprocessing across the nodes of an HPC allocation.
#
#   import dragon
#   import multiprocessing as mp
#   mp.set_start_method("dragon")
#
# and run the program as `dragon prog.py`. Importing this package registers the
# 'dragon' start method; programs using spawn, fork or forkserver are unaffected.
# With DRAGON_PATCH_MP set (to anything but 0/false/no/off), importing it also
# makes 'dragon' the default start method, as Dragon's does; set_start_method()
# can still choose another.
#


def _require_extension():
    """The package holds one dragon._dragon per CPython it was built for
    (_dragon.cpython-312-x86_64-linux-gnu.so, ...); without one for this
    interpreter, say which exist and how to add it, instead of the import error
    a submodule would meet first."""
    import importlib.machinery
    import os
    import re
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    if any(os.path.exists(os.path.join(here, '_dragon' + suffix))
           for suffix in importlib.machinery.EXTENSION_SUFFIXES):
        return
    built = sorted({'%s.%s' % (m.group(1), m.group(2))
                    for m in (re.match(r'_dragon\.cpython-(3)(\d+)', name)
                              for name in os.listdir(here)) if m},
                   key=lambda v: tuple(map(int, v.split('.'))))
    this = '%d.%d' % sys.version_info[:2]
    message = (
        'the dragon package has no extension for this interpreter, CPython %s (%s): it '
        'was built for %s (in %s). Run the program with one of those (DRAGON_PYTHON=/path/'
        'to/python3.X for dragon), or add this one: configure the build with '
        '-DDRAGON_PYTHONS="%s", then build and install again.'
        % (this, sys.executable,
           'CPython ' + ', '.join(built) if built else 'no CPython at all', here,
           ';'.join(built + [this])))
    if os.environ.get('DRAGON_WARM_LISTEN_FD'):
        # dragon-node starting its warm server: one line, and the exit code that
        # tells it not to start one again (WarmServerLink::exit_no_extension).
        sys.stderr.write('dragon warm server: %s\n' % message)
        raise SystemExit(78)
    raise ImportError(message, name='dragon._dragon')


_require_extension()

from .context import DragonContext, DragonProcess, register  # noqa: E402
from .runtime import DragonRuntimeError, in_dragon_job  # noqa: E402

__all__ = ['DragonContext', 'DragonProcess', 'DragonRuntimeError', 'in_dragon_job']

register()


def _patch_default_start_method():
    import os
    value = os.environ.get('DRAGON_PATCH_MP', '')
    if value.strip().lower() in ('', '0', 'false', 'no', 'off'):
        return
    from multiprocessing import context
    context._default_context._default_context = context._concrete_contexts['dragon']


_patch_default_start_method()
