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

from .context import DragonContext, DragonProcess, register
from .runtime import DragonRuntimeError, in_dragon_job

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
