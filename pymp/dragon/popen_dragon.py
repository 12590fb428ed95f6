#
# Starting a process through the node's warm server, in the shape of
# multiprocessing.popen_forkserver.
#
# The client connects to DRAGON_WARM_SOCKET and sends one header (payload length,
# SCM_RIGHTS: the read end of a pipe whose write end we keep, which becomes the
# child's parent sentinel; our resource tracker's fd, so that the child shares it
# as with spawn and forkserver; the write end of a pipe whose read end is our
# sentinel, which only the child keeps open, so it turns readable when the child
# ends; then any fds passed with duplicate_for_child), then the payload: our
# environment, the preparation data and the pickled Process. start() returns
# then. The server forks and replies on the connection with the child's pid, and
# once it has reaped the child, with its returncode.
#

import io
import os
import signal
import socket
import struct
import sys

from multiprocessing import forkserver
from multiprocessing import resource_tracker
from multiprocessing import spawn
from multiprocessing import util
from multiprocessing.context import reduction, set_spawning_popen

from . import gateway
from . import placement
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
        self._pid = None
        self._fds = []
        self._node = placement.node_for_new_process()
        if self._node != gateway.this_node():
            payload = self._start_payload(process_obj)
            if not self._fds:
                self._launch_remote(payload)
                return
            # Its arguments hand it file descriptors (an OS pipe, a manager's address
            # pipe, a Value made by a stock context on CPython's heap): those exist on
            # this node only, so the child starts here, whatever the placement said.
            # (Dragon's Value/Array live in the pool and pass no fds.)
            util.info('starting %s on this node (%d), not node %d: its arguments pass '
                      'file descriptors' % (process_obj.name, gateway.this_node(), self._node))
            self._fds = []
            self._node = gateway.this_node()
        self._launch(process_obj)

    def duplicate_for_child(self, fd):
        self._fds.append(fd)
        return len(self._fds) - 1

    def _start_payload(self, process_obj):
        prep_data = spawn.get_preparation_data.stock(process_obj._name)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(dict(os.environ), buf)
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        return buf

    def _launch_remote(self, buf):
        '''Starts the child on another node: its dragon-node forwards the request to
        that node's, which has its warm server fork it. The sentinel is a local pipe
        whose write end our node holds and closes when the child's exit arrives; the
        replies (pid, then exit code) come on a connection of this child's own.'''
        payload = buf.getbuffer()
        self.sentinel, alive_w = os.pipe()
        try:
            status = gateway.new_connection()
            try:
                gateway.send_request(status, gateway.START, self._node, payload, [alive_w])
            except BaseException:
                status.close()
                raise
        except BaseException:
            os.close(self.sentinel)
            raise
        finally:
            os.close(alive_w)
        self._status_conn = status
        self._status = status.fileno()
        self.finalizer = util.Finalize(self, _close_remote, (self.sentinel, status))

    def _remote_reply(self, what):
        st, value, text, _ = gateway.read_reply(self._status_conn)
        if st != gateway.OK:
            if what == 'pid':
                gateway.raise_for(st, 'cannot start the process on node %d: %s'
                                  % (self._node, text))
            print('dragon: %s' % text, file=sys.stderr, flush=True)
            return 255                  # its node was lost: the job is ending
        return value

    def _launch(self, process_obj):
        buf = self._start_payload(process_obj)
        tracker_fd = resource_tracker.getfd()
        if len(self._fds) + 3 > MAX_FDS:
            raise ValueError('too many fds')

        child_r, parent_w = os.pipe()
        # The sentinel: a pipe whose write end only the child holds (as with spawn),
        # so it turns readable when the child exits; we need not wait for the pid.
        self.sentinel, alive_w = os.pipe()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(START_TIMEOUT)
                path = runtime.warm_socket_path()
                try:
                    client.connect(path)
                except (FileNotFoundError, ConnectionRefusedError) as e:
                    raise runtime.DragonRuntimeError(
                        'cannot start the process: the warm server of this node is gone '
                        '(%s: %s); dragon-node said why on stderr' % (path, e.strerror)) from None
                payload = buf.getbuffer()
                socket.send_fds(client, [HEADER.pack(len(payload))],
                                [child_r, tracker_fd, alive_w] + self._fds)
                client.sendall(payload)
                del payload
                client.settimeout(None)
                # The warm server answers here: the pid, later the returncode.
                self._status = client.detach()
        except BaseException:
            os.close(parent_w)
            os.close(self.sentinel)
            raise
        finally:
            os.close(child_r)
            os.close(alive_w)
        # parent_w stays open while we live: the child's parent_process() sees us alive.
        self.finalizer = util.Finalize(self, util.close_fds,
                                       (parent_w, self.sentinel, self._status))

    @property
    def pid(self):
        # Read when first asked for: start() returns once the request is sent,
        # as spawn's returns right after fork_exec.
        if self._pid is None:
            if self._node != gateway.this_node():
                self._pid = gateway.job_pid(self._node, self._remote_reply('pid'))
            else:
                self._pid = gateway.job_pid(self._node, _read_status(self._status, 'pid'))
        return self._pid

    def poll(self, flag=os.WNOHANG):
        if self.returncode is None:
            from multiprocessing.connection import wait
            block = flag != os.WNOHANG
            if not wait([self.sentinel], None if block else 0):
                return None
            if self._node != gateway.this_node():
                self.pid
                self.returncode = self._remote_reply('returncode')
                return self.returncode
            # Exited: the warm server reports the status once it has reaped the child.
            if not block and not wait([self._status], 0):
                return None
            try:
                self.pid
                self.returncode = _read_status(self._status, 'returncode')
            except (OSError, EOFError, runtime.DragonRuntimeError):
                # The warm server died before reporting (the node restarted it, or
                # is ending): the child left its exit code on the sentinel pipe.
                self.returncode = _code_from_sentinel(self.sentinel)
            else:
                _await_reaped(self._status)
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
        if self.returncode is None and self._node != gateway.this_node():
            local_pid = self.pid - (self._node << gateway.PID_NODE_SHIFT)
            try:
                gateway.call(gateway.SIGNAL, self._node, str(local_pid), value=int(sig))
            except Exception:
                if self.wait(timeout=0.1) is None:
                    raise
            return
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


def _close_remote(sentinel, status):
    os.close(sentinel)
    status.close()


def _read_status(fd, what):
    '''One signed number from the warm server (the pid, then the returncode).'''
    from multiprocessing.connection import wait
    data = b''
    while len(data) < forkserver.SIGNED_STRUCT.size:
        if not wait([fd], START_TIMEOUT):
            raise runtime.DragonRuntimeError(
                'the warm server did not send the %s within %d s' % (what, START_TIMEOUT))
        chunk = os.read(fd, forkserver.SIGNED_STRUCT.size - len(data))
        if not chunk:
            raise EOFError('the warm server closed the connection before sending the %s' % what)
        data += chunk
    return forkserver.SIGNED_STRUCT.unpack(data)[0]


def _code_from_sentinel(fd):
    '''The exit code a child writes on its sentinel pipe as it exits (see
    warm_server._leave_exit_code); 255 if it wrote none: killed by a signal, or never
    started. Called once the sentinel is readable, so the read does not block.'''
    try:
        data = os.read(fd, forkserver.SIGNED_STRUCT.size)
    except OSError:
        return 255
    if len(data) != forkserver.SIGNED_STRUCT.size:
        return 255
    return forkserver.SIGNED_STRUCT.unpack(data)[0]


def _await_reaped(fd):
    '''Tells the warm server we have the returncode, so it reaps the child (a zombie
    until now, as a spawn child is until join()), and waits until it has: after
    join() the pid is gone, as with spawn.'''
    from multiprocessing.connection import wait
    try:
        with socket.socket(fileno=os.dup(fd)) as status:
            status.shutdown(socket.SHUT_WR)
            if wait([status], START_TIMEOUT):
                # b'' once the server closed it after reaping; a reset if the child
                # died before reading all of its request (the server closed it unread).
                status.recv(1)
    except OSError:
        pass                    # reset, or the server is gone: nothing left to wait for
