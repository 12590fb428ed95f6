"""The smallest Dragon program: processes and a queue, started with `dragon hello.py`."""

import dragon  # noqa: F401  (registers the "dragon" start method)
import multiprocessing as mp


def greet(queue, number):
    queue.put(f"hello from process {number} ({mp.current_process().name})")


if __name__ == "__main__":
    mp.set_start_method("dragon")
    queue = mp.Queue()
    workers = [mp.Process(target=greet, args=(queue, i)) for i in range(4)]
    for w in workers:
        w.start()
    for line in sorted(queue.get(timeout=30) for _ in workers):
        print(line)
    for w in workers:
        w.join(timeout=30)
    print("exit codes:", [w.exitcode for w in workers])
