"""Output from processes on every node: each of 2*N processes (round-robin over the
nodes) prints 200 numbered lines to stdout and one to stderr; then the head echoes
what it reads on stdin."""

import multiprocessing as mp
import os
import socket
import sys


def talk(number):
    host = socket.gethostname()
    for i in range(200):
        print(f"p{number} {host} line {i} " + "x" * 100)
    sys.stdout.flush()
    print(f"p{number} {host} to stderr", file=sys.stderr, flush=True)


if __name__ == "__main__":
    mp.set_start_method("dragon")
    count = 2 * int(os.environ["DRAGON_NUM_NODES"])
    ps = [mp.Process(target=talk, args=(k,)) for k in range(count)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    for line in sys.stdin:
        print("stdin:", line.strip(), flush=True)
