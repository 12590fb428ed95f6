#
# The node's warm server, in the shape of multiprocessing.forkserver: one per
# node, started by dragon-node as `python3 -m dragon.warm_server` with
#   DRAGON_WARM_LISTEN_FD   a listening AF_UNIX stream socket (DRAGON_WARM_SOCKET)
#   DRAGON_NODE_CONTROL_FD  a SOCK_SEQPACKET socket connected to dragon-node
# It has dragon and multiprocessing imported already, so a child starts with a
# fork instead of a cold interpreter. Protocol: see popen_dragon. Each child's
# stdout/stderr are fresh pipes whose read ends go to dragon-node in one message
# b"output <pid>" + SCM_RIGHTS, so its output is forwarded labelled with its pid.
# When dragon-node goes away (the control socket closes) the server exits.
#
# An exited child stays a zombie, its pid taken, until its parent has read the
# returncode and shut the connection (Popen.poll), or is gone itself: as a spawn
# child stays one until join(), so os.kill() on an exited, unjoined child is not
# an error. dragon-node, a subreaper, reaps whatever is left if we exit first.
#

import atexit
import io
import os
import selectors
import signal
import socket
import struct
import sys

# Imported here so that children forked from us have them ready.
import multiprocessing                           # noqa: F401
import multiprocessing.connection                # noqa: F401
import multiprocessing.queues                    # noqa: F401
import pickle
import threading                                 # noqa: F401
from multiprocessing import forkserver, process, resource_tracker, spawn, util

import dragon                                    # noqa: F401
import dragon.connection                         # noqa: F401
import dragon.queues                             # noqa: F401
from dragon import _dragon                       # noqa: F401
from dragon import popen_dragon
from dragon import runtime

# From CPython 3.13 on, Process._bootstrap no longer runs multiprocessing's exit
# function (finalizers, e.g. a Connection giving back its writer token): the code
# that forks the child does, through atexit, as forkserver's does.
_EXIT_FUNCTION_AT_EXIT = sys.version_info >= (3, 13)

HEADER = popen_dragon.HEADER
# What differs from node to node: a child keeps this node's values even when its
# parent (whose environment it takes) runs on another node.
NODE_LOCAL = ('DRAGON_NODE_INDEX', 'DRAGON_NODE_POOL', 'DRAGON_MEMORY', 'DRAGON_WARM_SOCKET',
              'DRAGON_GATEWAY_SOCKET', 'TMPDIR')
_node_environ = {k: os.environ[k] for k in NODE_LOCAL if k in os.environ}
# Bounds reading a request that has started to arrive, and a child reading its payload.
CLIENT_TIMEOUT = 10.0
REAP_INTERVAL = 1.0


def release_channels_of(pid):
    '''Gives back the channel references of a dead child (framework/dataplane/holders.hpp).'''
    try:
        runtime.node_pool().release_process(pid)
    except Exception as e:
        print('dragon.warm_server: cannot release the channels of process %d: %r' % (pid, e),
              file=sys.stderr, flush=True)


class WarmServer(object):

    def __init__(self, listener, control):
        self.listener = listener
        self.control = control
        self.children = {}              # pid -> client connection, while the child runs
        self.exited = {}                # client connection -> pid of a reported zombie
        self.child_exited = True        # a SIGCHLD came since the last look
        self.pending = set()            # connections whose request has not arrived yet
        self.sig_r, self.sig_w = os.pipe()
        os.set_blocking(self.sig_r, False)
        os.set_blocking(self.sig_w, False)
        self.selector = selectors.DefaultSelector()

    def serve_forever(self):
        signal.set_wakeup_fd(self.sig_w)
        # dragon-node starts us with SIGINT ignored already (a Ctrl-C during our
        # imports is no traceback); a child gets Python's own handler, as spawn's do.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.stock_handlers = {
            # A handler (not SIG_IGN) so SIGCHLD wakes the selector through the wakeup fd.
            signal.SIGCHLD: signal.signal(signal.SIGCHLD, lambda *args: None),
            signal.SIGINT: signal.default_int_handler,
        }
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, self.accept)
        self.selector.register(self.control, selectors.EVENT_READ, self.control_message)
        self.selector.register(self.sig_r, selectors.EVENT_READ, self.drain_signals)
        while True:
            events = self.selector.select(REAP_INTERVAL)
            for key, _ in events:
                key.data()
            if self.child_exited or not events:
                self.child_exited = False
                self.report_exits()

    # -- events

    def control_message(self):
        try:
            data = self.control.recv(4096)
        except OSError:
            data = b''
        if not data:
            os._exit(0)             # dragon-node is gone: the job is over

    def drain_signals(self):
        self.child_exited = True        # SIGCHLD is the only signal that writes here
        try:
            while os.read(self.sig_r, 4096):
                pass
        except BlockingIOError:
            pass

    def accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            # Read the request when it is there: a slow client never holds up others.
            self.pending.add(conn)
            self.selector.register(conn, selectors.EVENT_READ,
                                   lambda conn=conn: self.request(conn))

    def request(self, conn):
        self.selector.unregister(conn)
        self.pending.discard(conn)
        try:
            self.start_child(conn)
        except Exception as e:
            print('dragon.warm_server: cannot start a process: %r' % (e,),
                  file=sys.stderr, flush=True)
            conn.close()

    def report_exits(self):
        '''Sends each exited child's returncode to its parent, leaving it a zombie
        (WNOWAIT) until release().'''
        for pid in list(self.children):
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                self.children.pop(pid).close()      # reaped already: nothing to report
                release_channels_of(pid)
                continue
            if info is None:
                continue
            # Dead (a zombie now): whatever channels it still held are given back,
            # however it ended (os._exit skips every destructor, SIGKILL too).
            release_channels_of(pid)
            conn = self.children.pop(pid)
            code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
            self.exited[conn] = pid
            try:
                forkserver.write_signed(conn.fileno(), code)
            except OSError:
                self.release(conn)                  # the parent is gone
                continue
            self.selector.register(conn, selectors.EVENT_READ, lambda conn=conn: self.release(conn))

    def release(self, conn):
        '''The parent has the returncode (it shut the connection) or is gone: reap.'''
        pid = self.exited.pop(conn)
        try:
            self.selector.unregister(conn)
        except KeyError:
            pass
        try:
            os.waitpid(pid, 0)                      # a zombie: returns at once
        except ChildProcessError:
            pass
        conn.close()                                # after: the parent waits for this

    # -- starting a child

    def start_child(self, conn):
        conn.settimeout(CLIENT_TIMEOUT)
        header, fds, _, _ = socket.recv_fds(conn, HEADER.size, popen_dragon.MAX_FDS)
        if len(header) != HEADER.size or len(fds) < 3:
            for fd in fds:
                os.close(fd)
            raise ValueError('malformed request')
        length, = HEADER.unpack(header)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            alive = os.fstat(fds[2])
            try:
                os.close(out_r)
                os.close(err_r)
                if _EXIT_FUNCTION_AT_EXIT:
                    atexit._clear()
                    atexit.register(util._exit_function)
                code = self.child_main(conn, length, fds, out_w, err_w)
            except BaseException:
                try:
                    import traceback
                    traceback.print_exc()
                    sys.stderr.flush()
                except BaseException:
                    pass
            finally:
                if _EXIT_FUNCTION_AT_EXIT:
                    atexit._run_exitfuncs()
                _leave_exit_code(fds[2], alive, code)
                # Never return into the server's loop; _bootstrap flushed the streams.
                os._exit(code)
        for fd in fds + [out_w, err_w]:
            os.close(fd)
        conn.settimeout(None)
        forkserver.write_signed(conn.fileno(), pid)
        self.children[pid] = conn
        try:
            socket.send_fds(self.control, [b'output %d' % pid], [out_r, err_r])
        except OSError:
            pass                    # no node to forward to: the output is dropped
        finally:
            os.close(out_r)
            os.close(err_r)

    def child_main(self, conn, length, fds, out_w, err_w):
        # Undo the server's state: handlers, wakeup fd, and every socket it holds.
        signal.set_wakeup_fd(-1)
        for sig, handler in self.stock_handlers.items():
            signal.signal(sig, handler)
        self.selector.close()
        self.listener.close()
        self.control.close()
        os.close(self.sig_r)
        os.close(self.sig_w)
        for other in list(self.children.values()) + list(self.pending) + list(self.exited):
            other.close()
        self.children.clear()
        self.pending.clear()
        self.exited.clear()

        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        sys.stdout.reconfigure(line_buffering=True)

        conn.settimeout(CLIENT_TIMEOUT)
        data = bytearray()
        while len(data) < length:
            chunk = conn.recv(min(length - len(data), 1 << 20))
            if not chunk:
                raise EOFError('the parent closed the connection while starting a process')
            data += chunk
        conn.close()

        parent_sentinel = fds[0]
        resource_tracker._resource_tracker._fd = fds[1]
        # fds[2], the write end of the parent's sentinel pipe, stays open (and not
        # inheritable) until this process ends.
        os.set_inheritable(fds[2], False)
        popen_dragon._inherited_fds[:] = fds[3:]
        with io.BytesIO(data) as from_parent:
            environ = pickle.load(from_parent)
            os.environ.clear()
            os.environ.update(environ)
            os.environ.update(_node_environ)
            process.current_process()._inheriting = True
            try:
                spawn.prepare(pickle.load(from_parent))
                process_obj = pickle.load(from_parent)
            finally:
                del process.current_process()._inheriting
        return process_obj._bootstrap(parent_sentinel)


def _leave_exit_code(fd, alive, code):
    '''Writes the exit code on the parent's sentinel pipe as the child exits: the
    parent reads it there if this server died before reporting (the node starts a
    new server; the children of the old one run on). Only if `fd` is still that pipe:
    the program may have closed it and opened something else under its number.'''
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) == (alive.st_dev, alive.st_ino):
            os.write(fd, forkserver.SIGNED_STRUCT.pack(code))
    except (OSError, struct.error):
        pass


def main():
    listener = socket.socket(fileno=int(os.environ.pop('DRAGON_WARM_LISTEN_FD')))
    control = socket.socket(fileno=int(os.environ.pop('DRAGON_NODE_CONTROL_FD')))
    # Children of the job must not inherit these.
    os.set_inheritable(listener.fileno(), False)
    os.set_inheritable(control.fileno(), False)
    WarmServer(listener, control).serve_forever()


if __name__ == '__main__':
    main()
