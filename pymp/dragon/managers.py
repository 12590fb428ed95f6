#
# Managers under 'dragon': CPython's SyncManager and proxies, talking over
# connections that look for a reply before they block.
#
# A manager request is a round trip over a Unix socket. A stock Connection
# blocks in read() at once, and waking a blocked thread costs tens of
# microseconds on a VM, on both sides of every request. SpinningConnection first
# looks at the socket for a moment (_dragon.await_readable: the spin-then-yield
# window channel receives use), so a reply that comes at once costs no wake-up.
# The bytes on the wire are stock's: stock clients and servers interoperate.
#
# The connections are chosen through multiprocessing.managers' serializer table,
# under the name 'dragon': managers that ctx.Manager() makes for a 'dragon'
# context use it, and their proxies carry the name to other processes. Spawn,
# fork and forkserver managers are unchanged.
#

import sys

from multiprocessing import connection

from . import _dragon

__all__ = ['SERIALIZER', 'SpinningConnection', 'Listener', 'Client', 'register_serializer']

SERIALIZER = 'dragon'


class SpinningConnection(connection.Connection):
    '''A stock socket Connection whose receives look before they block.'''

    def _recv_bytes(self, maxsize=None):
        _dragon.await_readable(self._handle)
        return connection.Connection._recv_bytes(self, maxsize)


def _spinning(conn):
    conn.__class__ = SpinningConnection     # the same socket, the same state
    return conn


class Listener(connection.Listener):

    def accept(self):
        return _spinning(connection.Listener.accept(self))


def Client(address, family=None, authkey=None):
    return _spinning(connection.Client(address, family, authkey))


def register_serializer():
    '''Adds 'dragon' to multiprocessing.managers' serializers, now if that module
    is loaded, else as soon as it is (a proxy may arrive in a process that has
    not imported it yet: unpickling imports it, then looks the name up).'''
    managers = sys.modules.get('multiprocessing.managers')
    if managers is not None:
        managers.listener_client.setdefault(SERIALIZER, (Listener, Client))
        return
    if not any(isinstance(f, _AfterManagersImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterManagersImport())


class _AfterManagersImport(object):
    '''A meta path finder that only watches for multiprocessing.managers: it lets
    the other finders load it, then registers the serializer.'''

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'multiprocessing.managers':
            return None
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        stock_exec = spec.loader.exec_module

        def exec_module(module):
            stock_exec(module)
            module.listener_client.setdefault(SERIALIZER, (Listener, Client))
        spec.loader.exec_module = exec_module
        return spec
