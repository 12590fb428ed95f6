# Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event and Barrier shared
# between processes, with the semantics CPython documents for multiprocessing.
# Usage: api_sync.py [start-method [check...]]
import functools
import multiprocessing as mp
import queue
import threading

from api_common import LONG, check, expect, hold_lock, join_all, main, start, wait_until


# --- children -----------------------------------------------------------------

def release_lock(lock, out):
    lock.release()
    out.put('released by child')


def try_acquire(lock, out):
    got = lock.acquire(timeout=0.2)
    out.put(('try', got))
    if got:
        lock.release()


def blocked_acquire(lock, out, release=False):
    out.put('trying')
    got = lock.acquire(timeout=LONG)
    out.put(('got', got))
    if got and release:
        lock.release()


def count_under(lock, counter, rounds):
    for _ in range(rounds):
        with lock:
            v = counter.value        # unsynchronized RawValue: only the lock protects it
            counter.value = v + 1


def hold_rlock(rlock, out, go):
    assert rlock.acquire(timeout=LONG) and rlock.acquire(timeout=LONG)
    out.put('held twice')
    go.get(timeout=LONG)
    rlock.release()
    out.put('held once')
    go.get(timeout=LONG)
    rlock.release()
    out.put('released')
    go.get(timeout=LONG)
    try:
        rlock.release()          # owned by the parent now
    except AssertionError:
        out.put('not owner')
    else:
        out.put('released a lock it did not own')


def hold_semaphore(sem, out, go):
    assert sem.acquire(timeout=LONG)
    out.put('acquired')
    go.get(timeout=LONG)
    sem.release()
    out.put('released')


def release_bounded(sem, out):
    sem.release()
    out.put('released one')
    try:
        sem.release()
    except ValueError:
        out.put('ValueError')
    else:
        out.put('no error')


def cond_waiter(cond, out, tag):
    with cond:
        out.put(('waiting', tag))
        woke = cond.wait(timeout=LONG)
        out.put(('woken', tag, woke))


def cond_set_flag(cond, flag):
    with cond:
        flag.value = 1
        cond.notify_all()


def cond_wait_for_flag(cond, flag, out):
    with cond:
        out.put('waiting')
        out.put(('wait_for', cond.wait_for(lambda: flag.value == 2, timeout=LONG)))


def event_child(ev, out, go):
    out.put(('set', ev.wait(LONG), ev.is_set()))
    go.get(timeout=LONG)
    out.put(('after clear', ev.is_set(), ev.wait(0.1)))
    ev.set()


def bump(counter):
    with counter.get_lock():
        counter.value += 1


def barrier_party(b, out, rounds=1):
    for _ in range(rounds):
        try:
            out.put(('index', b.wait(timeout=LONG)))
        except threading.BrokenBarrierError:
            out.put(('broken',))


def failing_action():
    raise ValueError('barrier action failed')


def barrier_outcome(b, out):
    try:
        b.wait(timeout=LONG)
    except Exception as e:
        out.put(type(e).__name__)
    else:
        out.put('passed')


def barrier_default_timeout(b, out):
    try:
        b.wait()
    except threading.BrokenBarrierError:
        out.put('broken')
    else:
        out.put('passed')


# --- checks ---------------------------------------------------------------------

@check
def check_lock_held_by_child_blocks_parent():
    lock, out, go = mp.Lock(), mp.Queue(), mp.Queue()
    p = start(hold_lock, lock, out, go)
    assert out.get(timeout=LONG) == 'held'
    assert lock.acquire(timeout=0.2) is False
    assert lock.acquire(False) is False
    assert lock.acquire(block=False) is False
    go.put('go')
    assert out.get(timeout=LONG) == 'released'
    assert lock.acquire(timeout=LONG) is True
    lock.release()
    join_all([p])


@check
def check_lock_held_by_parent_blocks_child_and_any_process_may_release():
    lock, out = mp.Lock(), mp.Queue()
    with lock:
        assert lock.acquire(False) is False          # not recursive
        p = start(try_acquire, lock, out)
        assert out.get(timeout=LONG) == ('try', False)
        join_all([p])
    assert lock.acquire(timeout=LONG)
    p = start(release_lock, lock, out)               # released by another process
    assert out.get(timeout=LONG) == 'released by child'
    join_all([p])
    assert lock.acquire(False) is True
    lock.release()
    expect(ValueError, lock.release)                 # documented: unlocked lock -> ValueError


@check
def check_blocked_acquire_wakes_when_another_process_releases():
    out = mp.Queue()
    lock, rlock, sem, bsem = mp.Lock(), mp.RLock(), mp.Semaphore(0), mp.BoundedSemaphore(1)
    assert bsem.acquire(timeout=LONG)
    for prim in (lock, rlock, sem, bsem):
        if prim in (lock, rlock):
            assert prim.acquire(timeout=LONG)
        p = start(blocked_acquire, prim, out, prim in (lock, rlock))
        assert out.get(timeout=LONG) == 'trying'
        expect(queue.Empty, out.get, timeout=0.3)       # blocked while we hold it
        prim.release()                                  # wakes the blocked child
        assert out.get(timeout=LONG) == ('got', True)
        join_all([p])


@check
def check_semaphore_wakes_every_blocked_waiter():
    sem, out = mp.Semaphore(0), mp.Queue()
    procs = [start(blocked_acquire, sem, out) for _ in range(3)]
    assert [out.get(timeout=LONG) for _ in procs] == ['trying'] * 3
    for _ in procs:
        sem.release()
    assert [out.get(timeout=LONG) for _ in procs] == [('got', True)] * 3
    join_all(procs)
    assert sem.get_value() == 0


@check
def check_lock_rlock_semaphore_mutual_exclusion_exact_totals():
    for lock in (mp.Lock(), mp.RLock(), mp.Semaphore(1), mp.BoundedSemaphore(1)):
        counter = mp.RawValue('i', 0)
        procs = [start(count_under, lock, counter, 300) for _ in range(3)]
        join_all(procs, timeout=60)
        assert counter.value == 900, (type(lock).__name__, counter.value)


@check
def check_sync_objects_travel_through_queues():
    # As in Dragon (they are channels), unlike stock (inheritance only): sent through a
    # Queue, each is the same object on the other side.
    q = mp.Queue()
    lock, sem, event, cond, barrier = mp.Lock(), mp.Semaphore(0), mp.Event(), mp.Condition(), \
        mp.Barrier(2)
    for obj in (lock, mp.RLock(), sem, mp.BoundedSemaphore(), cond, event, barrier):
        q.put(obj)
    got_lock = q.get(timeout=LONG)
    assert got_lock.acquire(timeout=LONG) and lock.acquire(block=False) is False
    got_lock.release()
    assert q.get(timeout=LONG).acquire(timeout=LONG)
    q.get(timeout=LONG).release()
    assert sem.acquire(timeout=LONG)
    assert q.get(timeout=LONG).acquire(timeout=LONG)
    got_cond = q.get(timeout=LONG)
    with got_cond:
        got_cond.notify_all()
    q.get(timeout=LONG).set()
    assert event.is_set()
    assert q.get(timeout=LONG).parties == 2
    # ... and to a process that is already running
    inbox, out = mp.Queue(), mp.Queue()
    p = start(use_sent_lock, inbox, out)
    inbox.put((lock, event))
    assert out.get(timeout=LONG) == 'held'
    assert lock.acquire(timeout=LONG)
    lock.release()
    join_all([p])


def use_sent_lock(inbox, out):
    lock, event = inbox.get(timeout=LONG)
    with lock:
        event.set()
        out.put('held')


@check
def check_rlock_recursion_and_ownership():
    rlock, out, go = mp.RLock(), mp.Queue(), mp.Queue()
    p = start(hold_rlock, rlock, out, go)
    assert out.get(timeout=LONG) == 'held twice'
    assert rlock.acquire(timeout=0.2) is False
    go.put('release one')
    assert out.get(timeout=LONG) == 'held once'
    assert rlock.acquire(block=False) is False
    go.put('release two')
    assert out.get(timeout=LONG) == 'released'
    assert rlock.acquire(timeout=LONG) is True
    assert rlock.acquire(timeout=LONG) is True       # recursive in the owner
    go.put('try to release ours')
    assert out.get(timeout=LONG) == 'not owner'
    rlock.release()
    rlock.release()
    expect(AssertionError, rlock.release)            # documented: AssertionError
    join_all([p])


@check
def check_semaphore_counts_across_processes():
    sem, out, go = mp.Semaphore(2), mp.Queue(), mp.Queue()
    procs = [start(hold_semaphore, sem, out, go) for _ in range(2)]
    assert [out.get(timeout=LONG) for _ in procs] == ['acquired', 'acquired']
    assert sem.get_value() == 0
    assert sem.acquire(timeout=0.2) is False
    go.put('one')
    assert out.get(timeout=LONG) == 'released'
    assert sem.acquire(timeout=LONG) is True
    go.put('two')
    assert out.get(timeout=LONG) == 'released'
    join_all(procs)
    assert sem.get_value() == 1
    sem.release()
    sem.release()                                    # unbounded: above the initial value
    assert sem.get_value() == 3
    for _ in range(3):
        assert sem.acquire(False)
    p = start(try_acquire, sem, out)
    assert out.get(timeout=LONG) == ('try', False)
    join_all([p])
    sem.release()
    p = start(try_acquire, sem, out)
    assert out.get(timeout=LONG) == ('try', True)
    join_all([p])
    assert sem.get_value() == 1


@check
def check_bounded_semaphore_over_release_raises_value_error():
    sem, out = mp.BoundedSemaphore(2), mp.Queue()
    expect(ValueError, sem.release)
    assert sem.acquire(timeout=LONG)
    assert sem.get_value() == 1
    p = start(release_bounded, sem, out)             # the child gives back the parent's unit
    assert out.get(timeout=LONG) == 'released one'
    assert out.get(timeout=LONG) == 'ValueError'
    join_all([p])
    assert sem.get_value() == 2
    expect(ValueError, sem.release)
    with sem:
        assert sem.get_value() == 1
    assert sem.get_value() == 2


@check
def check_condition_notify_one_then_all():
    cond, out = mp.Condition(), mp.Queue()
    procs = [start(cond_waiter, cond, out, i) for i in range(3)]
    waiting = sorted(out.get(timeout=LONG) for _ in procs)
    assert waiting == [('waiting', i) for i in range(3)], waiting
    with cond:           # only possible once the last waiter released it in wait()
        cond.notify()
    first = out.get(timeout=LONG)
    assert first[0] == 'woken' and first[2] is True, first
    expect(queue.Empty, out.get, timeout=0.5)        # notify() woke exactly one
    with cond:
        cond.notify_all()
    rest = [out.get(timeout=LONG) for _ in range(2)]
    assert all(r[0] == 'woken' and r[2] is True for r in rest), rest
    assert sorted(r[1] for r in [first] + rest) == [0, 1, 2]
    join_all(procs)


@check
def check_condition_wait_timeout_and_wait_for():
    flag = mp.Value('i', 0)
    for cond in (mp.Condition(), mp.Condition(mp.Lock())):
        flag.value = 0
        with cond:
            assert cond.wait(0.2) is False                       # nobody notifies
            assert cond.wait_for(lambda: flag.value == 1, timeout=0.2) is False
        p = start(cond_set_flag, cond, flag)
        with cond:
            assert cond.wait_for(lambda: flag.value == 1, timeout=LONG) is True
        join_all([p])
        out = mp.Queue()
        p = start(cond_wait_for_flag, cond, flag, out)
        assert out.get(timeout=LONG) == 'waiting'
        with cond:
            flag.value = 2
            cond.notify()
        assert out.get(timeout=LONG) == ('wait_for', True)
        join_all([p])


@check
def check_event_set_clear_wait_across_processes():
    ev, out, go = mp.Event(), mp.Queue(), mp.Queue()
    assert not ev.is_set()
    assert ev.wait(0.2) is False
    p = start(event_child, ev, out, go)
    ev.set()
    assert ev.is_set() and ev.wait(0) is True
    assert out.get(timeout=LONG) == ('set', True, True)
    ev.clear()
    assert not ev.is_set()
    go.put('look')
    assert out.get(timeout=LONG) == ('after clear', False, False)
    assert ev.wait(LONG) is True                     # set by the child
    assert ev.is_set()
    join_all([p])


@check
def check_barrier_indices_and_action_once_per_round():
    counter = mp.Value('i', 0)
    b = mp.Barrier(3, action=functools.partial(bump, counter))
    assert b.parties == 3 and b.n_waiting == 0 and not b.broken
    out = mp.Queue()
    procs = [start(barrier_party, b, out, 2) for _ in range(2)]
    for rnd in (1, 2):
        mine = b.wait(timeout=LONG)
        theirs = [out.get(timeout=LONG) for _ in procs]
        assert all(t[0] == 'index' for t in theirs), theirs
        assert sorted([mine] + [t[1] for t in theirs]) == [0, 1, 2], (mine, theirs)
        wait_until(lambda: counter.value == rnd, what='barrier action')
    join_all(procs)
    assert counter.value == 2, counter.value         # the action ran once per round
    assert not b.broken and b.n_waiting == 0


@check
def check_barrier_abort_breaks_waiters_and_reset_repairs():
    b, out = mp.Barrier(3), mp.Queue()
    procs = [start(barrier_party, b, out) for _ in range(2)]
    wait_until(lambda: b.n_waiting == 2, what='two waiters')
    b.abort()
    assert [out.get(timeout=LONG) for _ in procs] == [('broken',), ('broken',)]
    assert b.broken
    expect(threading.BrokenBarrierError, b.wait, timeout=LONG)
    join_all(procs)
    b.reset()
    assert not b.broken and b.n_waiting == 0
    procs = [start(barrier_party, b, out) for _ in range(2)]
    mine = b.wait(timeout=LONG)
    theirs = [out.get(timeout=LONG)[1] for _ in procs]
    assert sorted([mine] + theirs) == [0, 1, 2]
    join_all(procs)


@check
def check_barrier_action_error_breaks_it():
    b, out = mp.Barrier(2, action=failing_action), mp.Queue()
    p = start(barrier_outcome, b, out)
    barrier_outcome(b, out)
    got = sorted(out.get(timeout=LONG) for _ in range(2))
    # The process that ran the action gets its error, the other a broken barrier.
    assert got == ['BrokenBarrierError', 'ValueError'], got
    assert b.broken
    join_all([p])


@check
def check_barrier_timeout_breaks_it():
    b, out = mp.Barrier(3), mp.Queue()
    p = start(barrier_party, b, out)
    wait_until(lambda: b.n_waiting == 1, what='one waiter')
    expect(threading.BrokenBarrierError, b.wait, timeout=0.3)   # only two of three came
    assert out.get(timeout=LONG) == ('broken',)                  # the other waiter too
    assert b.broken
    join_all([p])
    b2 = mp.Barrier(2, timeout=0.3)                              # the default timeout
    p = start(barrier_default_timeout, b2, out)
    assert out.get(timeout=LONG) == 'broken'
    join_all([p])
    assert b2.broken
    expect(threading.BrokenBarrierError, b2.wait)


if __name__ == '__main__':
    main()
