# Value, Array, RawValue, RawArray, sharedctypes.synchronized and copy, and
# get_lock() between processes, with the semantics CPython documents.
# Usage: api_shared.py [start-method [check...]]
import ctypes
import multiprocessing as mp
import pickle
from multiprocessing import sharedctypes
from multiprocessing.reduction import ForkingPickler

from api_common import LONG, check, expect, join_all, main, method, start, wait_until

WORKERS = 4
ROUNDS = 250


class Point(ctypes.Structure):
    _fields_ = [('x', ctypes.c_double), ('y', ctypes.c_double)]


# --- children -----------------------------------------------------------------

def increment(v, a, d):
    for _ in range(ROUNDS):
        with v.get_lock():
            v.value += 1
        with a.get_lock():
            for i in range(len(a)):
                a[i] += i + 1
        with d.get_lock():
            d.value += 0.5


def modify_docs_example(n, x, s, A):
    # The example of the multiprocessing documentation ("Shared ctypes Objects").
    n.value **= 2
    x.value **= 2
    s.value = s.value.upper()
    for a in A:
        a.x **= 2
        a.y **= 2


def modify_arrays(a, s, out):
    out.put((list(a), s.value))
    for i in range(len(a)):
        a[i] *= 2
    a[0:2] = [-1, -2]
    s.value = b'world'


def use_raw(rv, ra, ra2, rs, out):
    out.put((rv.value, list(ra), list(ra2), rs.value))
    rv.value = 2.5
    for i in range(len(ra)):
        ra[i] = i * i
    ra2[:] = ra2[::-1]
    rs.value = b'child'


def hold_lock_of(obj, out, go):
    with obj.get_lock():
        out.put('held')
        go.get(timeout=LONG)
    out.put('released')


def increment_synchronized(sv, sa):
    for _ in range(ROUNDS):
        with sv.get_lock():
            sv.value += 1
        with sa.get_lock():
            sa[0] += 1
            sa[-1] -= 1


def read_and_set(obj, new, out):
    out.put(obj.value if hasattr(obj, 'value') else list(obj))
    if hasattr(obj, 'value'):
        obj.value = new
    else:
        obj[:] = new


# --- checks ---------------------------------------------------------------------

@check
def check_value_types_and_lock_argument():
    v = mp.Value('i', 7)
    assert v.value == 7 and v.get_obj().value == 7
    v.value = -3
    assert v.value == -3
    assert mp.Value('d', 1.5).value == 1.5
    assert mp.Value(ctypes.c_double, 2.5).value == 2.5
    assert mp.Value('c', b'x').value == b'x'
    assert mp.Value('q', 2 ** 40).value == 2 ** 40
    assert mp.Value('i').value == 0                   # zero-initialised
    raw = mp.Value('i', 3, lock=False)                # a plain ctypes object, no lock
    assert isinstance(raw, ctypes.c_int) and raw.value == 3
    assert not hasattr(raw, 'get_lock')
    lk = mp.Lock()
    assert mp.Value('i', 0, lock=lk).get_lock() is lk
    rl = v.get_lock()                                 # lock=True: a new recursive lock
    assert rl.acquire(timeout=LONG) and rl.acquire(timeout=LONG)
    rl.release()
    rl.release()


@check
def check_value_and_array_increments_under_get_lock_are_exact():
    v, a, d = mp.Value('i', 0), mp.Array('l', 4), mp.Value('d', 0.0)
    assert a[:] == [0, 0, 0, 0]
    procs = [start(increment, v, a, d) for _ in range(WORKERS)]
    join_all(procs, timeout=60)
    total = WORKERS * ROUNDS
    assert v.value == total, v.value
    assert a[:] == [total * (i + 1) for i in range(4)], a[:]
    assert d.value == total * 0.5, d.value


@check
def check_array_indexing_slicing_and_strings_across_processes():
    a = mp.Array('i', range(10))
    assert len(a) == 10 and a[3] == 3 and a[-1] == 9
    assert a[2:5] == [2, 3, 4]
    a[2:5] = [20, 30, 40]
    assert a[:] == [0, 1, 20, 30, 40, 5, 6, 7, 8, 9] and list(a) == a[:]
    assert mp.Array('d', 3)[:] == [0.0, 0.0, 0.0]
    assert mp.Array(ctypes.c_int, [5, 6])[:] == [5, 6]
    s = mp.Array('c', b'hello')
    assert s.value == b'hello' and s.raw == b'hello'
    raw = mp.Array('i', 3, lock=False)
    assert isinstance(raw, ctypes.Array) and not hasattr(raw, 'get_lock')
    out = mp.Queue()
    p = start(modify_arrays, a, s, out)
    assert out.get(timeout=LONG) == ([0, 1, 20, 30, 40, 5, 6, 7, 8, 9], b'hello')
    join_all([p])
    assert a[:] == [-1, -2, 40, 60, 80, 10, 12, 14, 16, 18], a[:]
    assert s.value == b'world'


@check
def check_structures_example_from_the_docs():
    lock = mp.Lock()
    n = mp.Value('i', 7)
    x = mp.Value(ctypes.c_double, 1.0 / 3.0, lock=False)
    s = mp.Array('c', b'hello world', lock=lock)
    A = mp.Array(Point, [(1.875, -6.25), (-5.75, 2.0), (2.375, 9.5)], lock=lock)
    p = start(modify_docs_example, n, x, s, A)
    join_all([p])
    assert n.value == 49
    assert abs(x.value - 1.0 / 9.0) < 1e-12
    assert s.value == b'HELLO WORLD'
    assert [(a.x, a.y) for a in A] == [(3.515625, 39.0625), (33.0625, 4.0), (5.640625, 90.25)]


@check
def check_raw_value_and_raw_array_are_shared_with_children():
    rv = mp.RawValue('d', 1.25)
    ra = mp.RawArray('i', 10)
    ra2 = mp.RawArray(ctypes.c_int, [1, 2, 3])
    rs = mp.RawArray('c', 8)
    rs.value = b'parent'
    assert ra[:] == [0] * 10 and len(ra) == 10 and not hasattr(ra, 'get_lock')
    out = mp.Queue()
    p = start(use_raw, rv, ra, ra2, rs, out)
    assert out.get(timeout=LONG) == (1.25, [0] * 10, [1, 2, 3], b'parent')
    wait_until(lambda: ra[9] == 81, what="the child's write")
    join_all([p])
    assert rv.value == 2.5
    assert ra[:] == [i * i for i in range(10)]
    assert ra2[:] == [3, 2, 1]
    assert rs.value == b'child'


@check
def check_get_lock_excludes_across_processes():
    for obj in (mp.Array('i', 3), mp.Value('i', 0)):
        out, go = mp.Queue(), mp.Queue()
        p = start(hold_lock_of, obj, out, go)
        assert out.get(timeout=LONG) == 'held'
        assert obj.get_lock().acquire(timeout=0.2) is False
        go.put('go')
        assert out.get(timeout=LONG) == 'released'
        assert obj.get_lock().acquire(timeout=LONG) is True
        obj.get_lock().release()
        join_all([p])


@check
def check_sharedctypes_synchronized():
    sv = sharedctypes.synchronized(mp.RawValue('i', 3))
    sa = sharedctypes.synchronized(mp.RawArray('i', 5))
    ss = sharedctypes.synchronized(mp.RawArray('c', b'abc'))
    assert isinstance(sv, sharedctypes.Synchronized) and sv.value == 3
    assert isinstance(sa, sharedctypes.SynchronizedArray) and sa[:] == [0] * 5
    assert isinstance(ss, sharedctypes.SynchronizedString) and ss.value == b'abc'
    lk = mp.RLock()
    assert sharedctypes.synchronized(mp.RawValue('i'), lock=lk).get_lock() is lk
    sc = sharedctypes.synchronized(mp.RawValue('i'), ctx=mp.get_context())
    assert sc.get_lock().acquire(timeout=LONG)
    sc.get_lock().release()
    sv.value = 0
    procs = [start(increment_synchronized, sv, sa) for _ in range(WORKERS)]
    join_all(procs, timeout=60)
    total = WORKERS * ROUNDS
    assert sv.value == total and sa[0] == total and sa[-1] == -total, (sv.value, sa[:])


@check
def check_sharedctypes_copy_is_independent():
    rv = mp.RawValue('i', 5)
    cv = sharedctypes.copy(rv)
    assert cv.value == 5
    cv.value = 9
    assert rv.value == 5
    ra = mp.RawArray('d', [1.0, 2.0])
    ca = sharedctypes.copy(ra)
    assert ca[:] == [1.0, 2.0]
    ca[0] = 7.0
    assert ra[:] == [1.0, 2.0]
    v = mp.Value('i', 11)
    cobj = sharedctypes.copy(v.get_obj())
    assert cobj.value == 11
    out = mp.Queue()
    for obj, new, seen in ((cv, 42, 9), (ca, [3.0, 4.0], [7.0, 2.0]), (cobj, 12, 11)):
        p = start(read_and_set, obj, new, out)        # a copy is shared memory too
        assert out.get(timeout=LONG) == seen
        join_all([p])
    assert cv.value == 42 and ca[:] == [3.0, 4.0] and cobj.value == 12
    assert rv.value == 5 and ra[:] == [1.0, 2.0] and v.value == 11


@check
def check_shared_objects_pickle_as_the_start_method_allows():
    if method() != 'dragon':
        # Stock: through inheritance only.
        err = expect(RuntimeError, pickle.dumps, mp.Value('i', 1))
        assert 'inheritance' in str(err), err
        expect(RuntimeError, pickle.dumps, mp.Array('i', 2))
        expect(RuntimeError, ForkingPickler.dumps, mp.RawArray('i', 2))
        return
    # Dragon (as in Dragon): they pickle anywhere, and a copy is the same memory.
    v, a, r = mp.Value('i', 1), mp.Array('i', 2), mp.RawArray('i', 2)
    v2, a2 = pickle.loads(pickle.dumps(v)), pickle.loads(pickle.dumps(a))
    r2 = pickle.loads(ForkingPickler.dumps(r))
    v2.value, a2[1], r2[0] = 5, 6, 7
    assert (v.value, a[:], r[:]) == (5, [0, 6], [7, 0])
    assert v2.get_lock().acquire(timeout=LONG)
    assert v.get_lock().acquire(False) is False     # the same lock (held by the copy)
    v2.get_lock().release()
    assert v.get_lock().acquire(False) is True
    v.get_lock().release()


if __name__ == '__main__':
    main()
