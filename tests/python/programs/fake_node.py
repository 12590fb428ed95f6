"""A stand-in for dragon-node, for testing the dragon package without the C++
launcher: creates a node pool, starts dragon.warm_server with the same sockets
and environment dragon-node gives it, runs one program, forwards the output of
the warm server's children, and tears everything down.

    python3 fake_node.py [--timeout S] PROGRAM [ARGS...]   -> the program's exit code
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading

from dragon import _dragon

POOL_SIZE = 1 << 30


def pump(src_fd, dst):
    with os.fdopen(src_fd, 'rb') as src:
        for line in src:
            dst.buffer.write(line)
            dst.flush()


def forward_outputs(control):
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 128, 2)
        except OSError:
            return
        if not msg:
            return
        assert msg.startswith(b'output ') and len(fds) == 2, msg
        for fd, dst in zip(fds, (sys.stdout, sys.stderr)):
            threading.Thread(target=pump, args=(fd, dst), daemon=True).start()


def main(argv):
    timeout = 120.0
    if argv[:1] == ['--timeout']:
        timeout = float(argv[1])
        argv = argv[2:]
    job = _dragon.job_id()
    pool = _dragon.Pool.create(_dragon.segment_name('pool-n0'), POOL_SIZE)
    with tempfile.TemporaryDirectory(prefix='dragon-fake-node-') as tmp:
        path = os.path.join(tmp, 'warm.sock')
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(256)
        node_end, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ, DRAGON_JOB_ID=job, DRAGON_NODE_INDEX='0', DRAGON_NUM_NODES='1',
                   DRAGON_JOB_CPUS=str(len(os.sched_getaffinity(0))),
                   DRAGON_NODE_POOL=pool.name, DRAGON_MEMORY=pool.plugin_name,
                   DRAGON_WARM_SOCKET=path)
        server_env = dict(env, DRAGON_WARM_LISTEN_FD=str(listener.fileno()),
                          DRAGON_NODE_CONTROL_FD=str(server_end.fileno()))
        server = subprocess.Popen([sys.executable, '-m', 'dragon.warm_server'], env=server_env,
                                  pass_fds=(listener.fileno(), server_end.fileno()),
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        server_end.close()
        listener.close()
        threading.Thread(target=forward_outputs, args=(node_end,), daemon=True).start()
        prog = subprocess.Popen([sys.executable] + argv, env=env, start_new_session=True)
        try:
            code = prog.wait(timeout)
        except subprocess.TimeoutExpired:
            print('fake_node: program timed out after %gs' % timeout, file=sys.stderr)
            code = 124
        # As dragon-node does: every process of the job ends with it.
        for group in (prog.pid, server.pid):
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        prog.wait()
        server.wait()
        node_end.close()
    pool.destroy()
    return code


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
