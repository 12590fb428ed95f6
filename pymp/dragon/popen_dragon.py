#
# Starting a process through the node's warm server, in the shape of
# multiprocessing.popen_forkserver.
#
# The client connects to DRAGON_WARM_SOCKET and sends one header (payload length,
# SCM_RIGHTS: the read end of a pipe whose write end we keep, which becomes the
# child's parent sentinel, our resource tracker's fd, so that the child shares it
# as with spawn and forkserver, then any fds passed with duplicate_for_child), then
# the payload: our environment, the preparation data and the pickled Process.
# The server forks, replies with the child's pid, and later writes the child's
# returncode and closes the connection: that connection is our sentinel.
#

import io
import os
import signal
import socket
import struct

from multiprocessing import forkserver
from multiprocessing import resource_tracker
from multiprocessing import spawn
from multiprocessing import util
from multiprocessing.context import reduction, set_spawning_popen

from . import runtime

__all__ = ['DragonPopen']

HEADER = struct.Struct('<Q')
MAX_FDS = 64
# The warm server answers in milliseconds; this bounds a wedged or dead one.
START_TIMEOUT = 60.0

# Set in a child by the warm server: the fds its parent passed along.
_inherited_fds = []


class _DupFd(object):
    def __init__(self, ind):
        self.ind = ind

    def detach(self):
        return _inherited_fds[self.ind]


class DragonPopen(object):
    method = 'dragon'
    DupFd = _DupFd

    def __init__(self, process_obj):
        runtime.require_runtime()
        util._flush_std_streams()
        self.returncode = None
        self.finalizer = None
        self._fds = []
        self._launch(process_obj)

    def duplicate_for_child(self, fd):
        self._fds.append(fd)
        return len(self._fds) - 1

    def _launch(self, process_obj):
        prep_data = spawn.get_preparation_data.stock(process_obj._name)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(dict(os.environ), buf)
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        tracker_fd = resource_tracker.getfd()
        if len(self._fds) + 2 > MAX_FDS:
            raise ValueError('too many fds')

        child_r, parent_w = os.pipe()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(START_TIMEOUT)
                client.connect(runtime.warm_socket_path())
                payload = buf.getbuffer()
                socket.send_fds(client, [HEADER.pack(len(payload))], [child_r, tracker_fd] + self._fds)
                client.sendall(payload)
                del payload
                # Read now, not lazily: until it is read the sentinel would look ready.
                self.pid = _read_pid(client.fileno())
                client.settimeout(None)
                self.sentinel = client.detach()
        except BaseException:
            os.close(parent_w)
            raise
        finally:
            os.close(child_r)
        # parent_w stays open while we live: the child's parent_process() sees us alive.
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))

    def poll(self, flag=os.WNOHANG):
        if self.returncode is None:
            from multiprocessing.connection import wait
            timeout = 0 if flag == os.WNOHANG else None
            if not wait([self.sentinel], timeout):
                return None
            try:
                self.returncode = forkserver.read_signed(self.sentinel)
            except (OSError, EOFError):
                # The warm server died before reporting (the node is ending).
                self.returncode = 255
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            if timeout is not None:
                from multiprocessing.connection import wait
                if not wait([self.sentinel], timeout):
                    return None
            return self.poll(os.WNOHANG if timeout == 0.0 else 0)
        return self.returncode

    def _send_signal(self, sig):
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            except OSError:
                if self.wait(timeout=0.1) is None:
                    raise

    def terminate(self):
        self._send_signal(signal.SIGTERM)

    def kill(self):
        self._send_signal(signal.SIGKILL)

    def close(self):
        if self.finalizer is not None:
            self.finalizer()


def _read_pid(fd):
    '''The child's pid, the warm server's first reply on the start connection.'''
    from multiprocessing.connection import wait
    data = b''
    while len(data) < forkserver.SIGNED_STRUCT.size:
        if not wait([fd], START_TIMEOUT):
            raise runtime.DragonRuntimeError(
                'the warm server did not start the process within %d s' % START_TIMEOUT)
        chunk = os.read(fd, forkserver.SIGNED_STRUCT.size - len(data))
        if not chunk:
            raise runtime.DragonRuntimeError(
                'the warm server closed the connection without starting the process')
        data += chunk
    return forkserver.SIGNED_STRUCT.unpack(data)[0]
