#
# Dragon: Python multiprocessing across the nodes of an HPC allocation.
#
#   import dragon
#   import multiprocessing as mp
#   mp.set_start_method("dragon")
#
# and run the program as `dragon prog.py`. Importing this package registers the
# 'dragon' start method; programs using spawn, fork or forkserver are unaffected.
#

from .context import DragonContext, DragonProcess, register
from .runtime import DragonRuntimeError, in_dragon_job

__all__ = ['DragonContext', 'DragonProcess', 'DragonRuntimeError', 'in_dragon_job']

register()
