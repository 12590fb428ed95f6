#
# A wait that could last forever is told about: Queue.get() or Connection.recv()
# without a timeout on a channel that no other process of the job holds any more
# (its producer died, or exited without sending) can never return. After
# DRAGON_STUCK_WAIT_WARNING seconds (default 10; 0 turns it off) of such a wait,
# the process says so once on stderr, naming the wait, and goes on waiting, as
# stock's would (Ctrl-C ends it).
#

import os
import sys

__all__ = ['recv_watching']


_warn_after_s = None


def _warn_after():
    # Read once per process (it cost more than the receive it guards); a fork child,
    # such as the warm server's, reads it again after taking its own environment.
    global _warn_after_s
    if _warn_after_s is None:
        try:
            _warn_after_s = float(os.environ.get('DRAGON_STUCK_WAIT_WARNING', '10'))
        except ValueError:
            _warn_after_s = 10.0
    return _warn_after_s


def _forget_warn_after():
    global _warn_after_s
    _warn_after_s = None


os.register_at_fork(after_in_child=_forget_warn_after)


def recv_watching(channel, recv, what):
    '''recv(None), in slices: between them, whether anyone else holds `channel`.'''
    after = _warn_after()
    held_elsewhere = getattr(channel, 'held_elsewhere', None)
    if after <= 0 or held_elsewhere is None:       # a channel of another node: not known
        return recv(None)
    waited = 0.0
    while True:
        try:
            return recv(after)
        except TimeoutError:
            waited += after
        if not held_elsewhere():
            print('dragon: process %d has waited %g s in %s on a %s that no other process '
                  'holds any more: nothing can ever arrive (did the process that was to '
                  'send exit or die first?); still waiting'
                  % (os.getpid(), waited, what, 'queue' if 'Queue' in what else 'pipe'),
                  file=sys.stderr, flush=True)
            return recv(None)
