# Selecting 'dragon' without the runtime fails clearly at start() and Queue().
import multiprocessing as mp

import dragon


def noop():
    pass


if __name__ == '__main__':
    mp.set_start_method('dragon')
    for what, make in (('start', lambda: mp.Process(target=noop).start()),
                       ('Queue', lambda: mp.Queue()), ('Pipe', lambda: mp.Pipe())):
        try:
            make()
        except dragon.DragonRuntimeError as e:
            print(what, 'error:', e, flush=True)
        else:
            raise SystemExit(what + ' did not fail')
