#!/usr/bin/env python3
"""Runs CPython's own test suites with start method 'dragon' under `dragon`,
and with 'spawn' as the baseline, and compares them test by test.

  multiprocessing     test._test_multiprocessing of the python3 on PATH (the
                      interpreter the dragon package is built for), in all its
                      variants: processes, manager, threads (and misc).
  concurrent_futures  test.test_concurrent_futures of /usr/bin/python3 with a
                      ProcessPoolExecutor on the method (concurrent_futures_dragon.py).

For each method the driver writes a small test module into a private work
directory (with a watchdog that ends the run when one test takes longer than
--timeout) and runs `python3 -m test --testdir WORKDIR MODULE -v`, for 'dragon'
as `<build>/bin/dragon python3 -m test ...`. It parses the verbose
output into one outcome per test, prints run/passed/skipped/failed per variant,
and with --check exits 1 when a test fails under dragon that is not listed in
the expected-failures file, when fewer than --floor of the tests that pass
under spawn pass under dragon, or when a run did not complete. A listed test
that passes is reported, not failed.

  run_suite.py --build build                          # multiprocessing, dragon and spawn
  run_suite.py --build build --suite concurrent_futures
  run_suite.py --build build --methods dragon -m '*TestQueue*'   # a subset
  run_suite.py --build build --write-expected         # candidate lines for the list
"""

import argparse
import collections
import fnmatch
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]

# Outcomes as unittest's verbose runner prints them, plus two of ours.
PASSED = ('ok', 'expected failure')
SKIPPED = ('skipped',)
FAILED = ('FAIL', 'ERROR', 'unexpected success',
          'timeout',   # the test was running when the per-test timeout fired
          'no result')  # it started but no outcome was printed (crash, cut short)
MAX_RESUMES = 3  # new runs after tests that hang past --timeout
MAX_RERUN = 20  # --rerun-failures runs at most this many failures again
SKIPPED_EXIT = 77  # CTest's SKIP_RETURN_CODE: the interpreter lacks the suite
VARIANTS = {
    'multiprocessing': ('processes', 'manager', 'threads', 'misc'),
    'concurrent_futures': None,  # one per test mixin, found in the output
}


# ---------------------------------------------------------------- the suites

class Suite:
    """What differs between the two suites."""

    def __init__(self, name, python, test_module, expected, module_text, copy_files=()):
        self.name = name
        self.test_module = test_module
        self.default_python = python
        self.expected_file = HERE / expected
        self.module_text = module_text
        self.copy_files = copy_files

    def module_name(self, method):
        # Not test_multiprocessing_spawn: regrtest takes that for its own package.
        return f'test_cpython_{self.name}_{method}'

    def variant(self, test_id):
        cls = test_id.split('.')[0]
        if self.name == 'multiprocessing':
            for prefix, variant in (('WithProcessesTest', 'processes'),
                                    ('WithManagerTest', 'manager'),
                                    ('WithThreadsTest', 'threads')):
                if cls.startswith(prefix):
                    return variant
            return 'misc'
        # ProcessPoolDragonExecutorTest -> Executor
        m = re.match(r'ProcessPool(?:Dragon|Spawn)(\w+?)Test$', cls)
        return m.group(1) if m else 'misc'

    def key(self, test_id):
        """The same test's name under every method."""
        if self.name == 'concurrent_futures':
            return re.sub(r'^ProcessPool(Dragon|Spawn)', 'ProcessPool*', test_id)
        return test_id


SUITES = {
    'multiprocessing': Suite(
        'multiprocessing', 'python3', 'test._test_multiprocessing', 'expected_failures.txt',
        lambda method: (('import dragon\n' if method == 'dragon' else '') +
                        'import test._test_multiprocessing as m\n'
                        f'm.install_tests_in_module_dict(globals(), {method!r})\n')),
    'concurrent_futures': Suite(
        'concurrent_futures', '/usr/bin/python3', 'test.test_concurrent_futures',
        'expected_failures_concurrent_futures.txt',
        lambda method: ('import concurrent_futures_dragon as m\n'
                        f'm.install_tests(globals(), {method!r})\n'),
        copy_files=(HERE / 'concurrent_futures_dragon.py',)),
}


# ---------------------------------------------------------- parsing the output

STATUS_RE = re.compile(r"(?:^|\s)(ok|FAIL|ERROR|expected failure|unexpected success"
                       r"|skipped '.*'|skipped \".*\")$")
SUMMARY_RE = re.compile(r'^(FAIL|ERROR|UNEXPECTED SUCCESS): (\w+) \(([\w.]+)\)')
RAN_RE = re.compile(r'^Ran (\d+) tests? in ')
RESULT_RE = re.compile(r'^(OK|FAILED)\b(?: \((.*)\))?$')


def parse(stdout, stderr, module, stopped=False):
    """Outcome per test id (Class.method, or Class.setUpClass for a fixture)
    from unittest's verbose output; plus what the run's summary said."""
    # A test's line may start after other output (concurrent.futures' tearDown
    # prints "0.12s " after a skip's status).
    start_re = re.compile(r'(?:^|\s)(\w+) \(' + re.escape(module) + r'\.([\w.]+)\)')
    outcomes = {}
    pending = None
    in_errors = False  # inside the failure sections printed before "Ran N tests"
    summary = {'ran': None, 'result': None, 'counts': {}, 'timeout': False}

    def test_id(name, dotted):
        parts = dotted.split('.')
        if parts[-1] == name:          # test_x (module.Class.test_x)
            return '.'.join(parts[-2:])
        return f'{parts[-1]}.{name}'    # setUpClass (module.Class)

    for line in stdout.splitlines():
        m = RAN_RE.match(line)
        if m:
            summary['ran'] = int(m.group(1))
            if pending and pending not in outcomes:
                outcomes[pending] = 'no result'
            pending, in_errors = None, False
            continue
        if line == '=' * 70:
            in_errors = True
        if in_errors:
            continue
        m = start_re.search(line)
        if m:
            if pending and pending not in outcomes:
                outcomes[pending] = 'no result'
            pending = test_id(m.group(1), m.group(2))
            line = line[m.end():]
        if pending:
            s = STATUS_RE.search(line)
            if s:
                status = s.group(1)
                outcomes[pending] = 'skipped' if status.startswith('skipped') else status
                pending = None
                continue
        m = RESULT_RE.match(line)
        if m and summary['ran'] is not None and summary['result'] is None:
            summary['result'] = m.group(1)
            for item in (m.group(2) or '').split(','):
                if '=' in item:
                    k, v = item.strip().split('=')
                    summary['counts'][k] = int(v)
    # The failure sections at the end are authoritative (a subtest's failure
    # leaves its test line without a status).
    for line in stdout.splitlines():
        m = SUMMARY_RE.match(line)
        if m:
            tid = test_id(m.group(2), m.group(3).split(module + '.', 1)[-1])
            kind = m.group(1)
            outcomes[tid] = 'unexpected success' if kind == 'UNEXPECTED SUCCESS' else kind
    if re.search(r'^Timeout \(\d+:\d\d:\d\d\)!', stderr, re.M):
        summary['timeout'] = True
    if pending and pending not in outcomes:
        # Running when regrtest's --timeout or our --deadline fired.
        outcomes[pending] = 'timeout' if summary['timeout'] or stopped else 'no result'
    return outcomes, summary


def category(outcome):
    if outcome in PASSED:
        return 'passed'
    if outcome in SKIPPED:
        return 'skipped'
    return 'failed'


def is_fixture(test_id):
    return test_id.split('.')[-1] in ('setUpClass', 'tearDownClass',
                                      'setUpModule', 'tearDownModule')


def count_table(suite, results):
    """{method: {variant: Counter(run, passed, skipped, failed)}}."""
    table = {}
    for method, res in results.items():
        per = collections.OrderedDict((v, collections.Counter())
                                      for v in VARIANTS[suite.name] or ())
        for tid, outcome in sorted(res['outcomes'].items()):
            c = per.setdefault(suite.variant(tid), collections.Counter())
            if not is_fixture(tid):
                c['run'] += 1
            c[category(outcome)] += 1
        total = collections.Counter()
        for c in per.values():
            total.update(c)
        per['total'] = total
        table[method] = per
    return table


def print_table(suite, table):
    print(f'\n{suite.name}: tests per variant (passed includes expected failures;'
          ' failed = FAIL, ERROR, unexpected success, timeout, no result)')
    print(f'  {"method":8} {"variant":26} {"run":>5} {"passed":>7} {"skipped":>8} {"failed":>7}')
    for method, per in table.items():
        for variant, c in per.items():
            print(f'  {method:8} {variant:26} {c["run"]:5} {c["passed"]:7} '
                  f'{c["skipped"]:8} {c["failed"]:7}')


# ------------------------------------------------------------ running a method

def job_leftovers(frontend_pid, session, tmpdir):
    """Processes of the job or our session, and the job's segments/directories."""
    procs = []
    marker = f'DRAGON_FRONTEND_PID={frontend_pid}'.encode()
    for entry in pathlib.Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
            if fields[0] == 'Z':  # a zombie is its parent's to reap, not a leftover
                continue
            mine = int(fields[4]) == session
            if not mine:
                mine = marker in (entry / 'environ').read_bytes().split(b'\0')
        except (OSError, IndexError, ValueError):
            continue
        if mine:
            procs.append(int(entry.name))
    prefix = f'dragon-j{frontend_pid}r'  # then the job id's random part
    paths = []
    for d in (pathlib.Path('/dev/shm'), pathlib.Path('/dev/hugepages'), pathlib.Path(tmpdir)):
        if d.is_dir():
            paths += [p for p in d.iterdir() if p.name.startswith(prefix)]
    return procs, paths


def stop(proc, method, grace=15):
    """SIGTERM (dragon tears its whole job down; for spawn, the process group),
    then SIGKILL to the group after `grace` seconds."""
    try:
        if method == 'dragon':
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def sweep(proc, tmpdir, problems):
    """Waits briefly for the job's processes to go, then kills and removes
    whatever is left, recording each as a problem."""
    deadline = time.monotonic() + 10
    while True:
        procs, paths = job_leftovers(proc.pid, proc.pid, tmpdir)
        if not procs or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for pid in procs:
        try:
            cmd = pathlib.Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ')
            os.kill(pid, signal.SIGKILL)
            problems.append(f'process {pid} left behind: {cmd.decode(errors="replace")[:200]}')
        except OSError:
            pass
    for p in paths:
        problems.append(f'{p} left behind')
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def run_once(cmd, env, workdir, tmpdir, method, deadline, out_path, err_path):
    """One regrtest run, bounded by deadline; returns (returncode, stopped, problems)."""
    problems = []
    stopped = False
    with open(out_path, 'w') as out, open(err_path, 'w') as err:
        proc = subprocess.Popen(cmd, env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)
        try:
            rc = proc.wait(timeout=max(deadline, 1))
        except subprocess.TimeoutExpired:
            problems.append('did not finish within --deadline: stopped')
            stopped = True
            stop(proc, method)
            rc = proc.returncode
        except BaseException:  # ^C: do not leave the job behind
            stop(proc, method)
            sweep(proc, tmpdir, [])
            raise
        sweep(proc, tmpdir, problems)
    return rc, stopped, problems


def list_cases(python, workdir, module, filters, env):
    """The full ids of the tests a run selects (regrtest --list-cases)."""
    r = subprocess.run([python, '-m', 'test', '--testdir', str(workdir), module,
                        '--list-cases', *filters], env=env, cwd=workdir,
                       capture_output=True, text=True, timeout=300)
    return [ln.strip() for ln in r.stdout.splitlines() if ln.startswith(module + '.')]


# regrtest's --timeout covers a whole test *file*: the suite under dragon -N 2 takes
# longer than that, so a run was always cut at whatever test ran then (reported as
# hung, then passing on its rerun). The generated module arms faulthandler's
# watchdog around each test itself; a test that outlives it ends the run as
# regrtest's timeout does ("Timeout (h:mm:ss)!"), and the run resumes after it.
PER_TEST_WATCHDOG = """\
import faulthandler as _faulthandler
import unittest as _unittest

_stock_run = _unittest.TestCase.run


def _run_with_watchdog(self, result=None):
    _faulthandler.dump_traceback_later({timeout}, exit=True)
    try:
        return _stock_run(self, result)
    finally:
        # Armed again, not cancelled: what runs between tests and after the last
        # (class and module teardown, which joins what tests left running) is bounded
        # too, until the next test arms it or regrtest cancels it at the end.
        _faulthandler.dump_traceback_later({timeout}, exit=True)


_unittest.TestCase.run = _run_with_watchdog
"""


def run_method(suite, method, args, workdir):
    """Runs the suite with one start method; returns its result dict. When a
    test hangs past --timeout (regrtest then exits), runs the tests after it in
    a new run (at most MAX_RESUMES times), so that one hang hides nothing else."""
    module = suite.module_name(method)
    (workdir / f'{module}.py').write_text(PER_TEST_WATCHDOG.format(timeout=args.timeout)
                                          + suite.module_text(method))
    for f in suite.copy_files:
        shutil.copy(f, workdir / f.name)
    tmpdir = workdir / f'tmp-{method}'
    tmpdir.mkdir(exist_ok=True)
    python = args.python
    env = {k: v for k, v in os.environ.items() if not k.startswith('DRAGON_')}
    pythonpath = [str(workdir)]
    if method == 'dragon':
        pythonpath.append(str(args.build / 'lib' / 'python3' / 'site-packages'))
        env['DRAGON_PYTHON'] = python  # the warm servers' interpreter: the same one
    env['PYTHONPATH'] = os.pathsep.join(pythonpath)
    env['TMPDIR'] = str(tmpdir)  # the job's private dirs and the suite's temp files
    filters = []
    for pattern in args.match or ():
        filters += ['-m', pattern]
    if method == 'dragon':
        for pattern in args.deselect:
            # A full id is matched exactly, a pattern against the full id.
            filters += ['--ignore', ('*.' if re.search(r'[*?\[]', pattern) else module + '.')
                        + pattern]
    # regrtest's own timer (the whole file) only until the first test re-arms it.
    base = [python, '-m', 'test', '--testdir', str(workdir), module, '-v',
            '--timeout', str(args.timeout)]
    if method == 'dragon':
        base = [str(args.build / 'bin' / 'dragon'), '-N', str(args.nodes)] + base

    start = time.monotonic()
    outcomes, problems, runs = {}, [], []
    selection = filters
    for attempt in range(1 + MAX_RESUMES):
        cmd = base + selection
        stem = f'{suite.name}-{method}' + (f'.resume{attempt}' if attempt else '')
        out_path, err_path = args.log_dir / f'{stem}.stdout', args.log_dir / f'{stem}.stderr'
        shown = cmd if len(' '.join(cmd)) < 1000 else cmd[:len(base)] + ['...']
        print(f'[{suite.name}/{method}] {" ".join(shown)}', flush=True)
        run_start = time.monotonic()
        remaining_time = args.deadline - (run_start - start)
        rc, stopped, run_problems = run_once(cmd, env, workdir, tmpdir, method, remaining_time,
                                             out_path, err_path)
        stdout = out_path.read_text(errors='replace')
        stderr = err_path.read_text(errors='replace')
        found, summary = parse(stdout, stderr, module, stopped)
        outcomes.update(found)
        if summary['ran'] is not None:
            run = sum(1 for t in found if not is_fixture(t))
            skipped = sum(1 for o in found.values() if o == 'skipped')
            if run != summary['ran'] or skipped != summary['counts'].get('skipped', 0):
                run_problems.append(f'parsed {run} tests, {skipped} skipped, but unittest '
                                    f'says {summary["ran"]}, '
                                    f'{summary["counts"].get("skipped", 0)}')
        hung = sorted(t for t, o in found.items() if o == 'timeout')
        runs.append({'command': cmd, 'returncode': rc, 'stdout': str(out_path),
                     'stderr': str(err_path), 'summary': summary, 'hung': hung})
        problems += run_problems
        print(f'[{suite.name}/{method}] exit {rc}, {time.monotonic() - run_start:.0f} s, '
              f'{len(found)} outcomes'
              + (f'; {"; ".join(run_problems)}' if run_problems else '')
              + (f'; hung past --timeout {args.timeout} s: {", ".join(hung)}' if hung else ''),
              flush=True)
        if summary['ran'] is None and not stopped:
            tail = stderr.splitlines()[-40:]
            if tail:
                print(f'[{suite.name}/{method}] last lines of stderr ({err_path}):')
                print('\n'.join('    ' + line for line in tail))
        if summary['ran'] is not None or stopped or not summary['timeout']:
            break
        # regrtest exited at a hung test: run the ones it did not reach.
        remaining = [t for t in list_cases(python, workdir, module, filters, env)
                     if t[len(module) + 1:] not in outcomes]
        if not remaining:
            summary['ran'] = summary['ran'] or 0
            break
        if attempt == MAX_RESUMES:
            problems.append(f'{len(remaining)} tests not run: more than {MAX_RESUMES} hangs')
            break
        matchfile = workdir / f'{method}-resume{attempt + 1}.txt'
        matchfile.write_text('\n'.join(remaining) + '\n')
        selection = ['--matchfile', str(matchfile)]
        print(f'[{suite.name}/{method}] resuming with the {len(remaining)} tests not run',
              flush=True)
    elapsed = time.monotonic() - start
    if runs[-1]['summary']['ran'] is None:
        problems.append('no unittest summary ("Ran N tests" and OK/FAILED): incomplete run')
    if not outcomes:
        problems.append('no test outcome found')
    return {'seconds': round(elapsed, 1), 'outcomes': outcomes, 'problems': problems,
            'runs': runs, 'stdout': [r['stdout'] for r in runs]}


def rerun(suite, method, args, workdir, tests):
    """Runs the given tests once more (a fresh run of only those)."""
    sub = argparse.Namespace(**vars(args))
    # A full test id (module.Class.test) is matched exactly by regrtest's -m.
    sub.match = [f'{suite.module_name(method)}.{t}' for t in tests]
    sub.deadline = min(args.deadline, 300)
    shutil.rmtree(workdir / f'tmp-{method}', ignore_errors=True)
    sub.log_dir = args.log_dir / 'rerun'
    sub.log_dir.mkdir(exist_ok=True)
    return run_method(suite, method, sub, workdir)


# -------------------------------------------------------- the expected list

def read_expected(path):
    """{test_id: reason} from lines 'Class.test_x  # reason' ('#' lines are comments)."""
    expected = {}
    if not path.exists():
        return expected
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        tid, _, reason = line.partition('#')
        tid = tid.strip()
        if not re.fullmatch(r'[\w*?\[\]]+\.[\w*?\[\]]+', tid) or not reason.strip():
            sys.exit(f'{path}:{n}: expected "Class.test_name  # reason", got {raw!r}')
        expected[tid] = reason.strip()
    return expected


DESELECT = '[deselect]'  # a reason starting so: the test is not run under dragon


def deselected(expected):
    return sorted(p for p, r in expected.items() if r.startswith(DESELECT))


def listed(tid, expected):
    return any(fnmatch.fnmatchcase(tid, pattern) for pattern in expected)


def reason_for(tid, expected):
    return next(r for p, r in expected.items() if fnmatch.fnmatchcase(tid, p))


def first_error_line(stdout, tid):
    """The exception line of a test's traceback in the failure sections."""
    cls, name = tid.rsplit('.', 1)
    pattern = re.compile(r'^(?:FAIL|ERROR): ' + re.escape(name) + r' \([\w.]*\b'
                         + re.escape(cls) + r'\b[\w.]*\)', re.M)
    m = pattern.search(stdout)
    if not m:
        return ''
    block = stdout[m.end():].split('\n' + '=' * 70, 1)[0].split('\n' + '-' * 70 + '\nRan', 1)[0]
    lines = [ln for ln in block.splitlines() if ln and not ln.startswith((' ', '-', 'Trace'))]
    return lines[-1][:150] if lines else ''


# ------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--suite', choices=sorted(SUITES), default='multiprocessing')
    ap.add_argument('--build', type=pathlib.Path,
                    default=pathlib.Path(os.environ.get('DRAGON_BUILD_DIR', REPO / 'build')),
                    help='build tree with bin/dragon and lib/python3/site-packages '
                         '(default: $DRAGON_BUILD_DIR or <repo>/build)')
    ap.add_argument('--python', help='interpreter (default: python3 on PATH for '
                                     'multiprocessing, /usr/bin/python3 for concurrent_futures)')
    ap.add_argument('--nodes', type=int, default=1,
                    help='nodes of the dragon job (default 1); with more, children land on the '
                         'other nodes round-robin')
    ap.add_argument('--spawn-from', type=pathlib.Path,
                    help="reuse the spawn outcomes of an earlier run's --json (if it exists)")
    ap.add_argument('--methods', default='dragon,spawn',
                    help='comma-separated, of dragon and spawn (default: both)')
    ap.add_argument('--timeout', type=int, default=120,
                    help="per-test timeout (default 120 s), a faulthandler watchdog armed "
                         "around each test; a run cut short there goes on with the tests it "
                         "did not reach")
    ap.add_argument('--deadline', type=int, default=1200,
                    help='deadline of each run; then SIGTERM, SIGKILL 15 s later (default 1200 s)')
    ap.add_argument('-m', '--match', action='append',
                    help="run only tests matching this pattern (regrtest's -m; repeatable)")
    ap.add_argument('--expected', type=pathlib.Path,
                    help="expected-failures list (default: the suite's file beside this script)")
    ap.add_argument('--floor', type=float, default=0.95,
                    help='least share of the tests passing under spawn that must pass under dragon')
    ap.add_argument('--check', action='store_true',
                    help='exit 1 on an unlisted failure, a missed floor or an incomplete run')
    ap.add_argument('--rerun-failures', action='store_true',
                    help='run the dragon failures once more (if at most 20); one that passes '
                         'then is reported as flaky, does not fail --check and counts as '
                         'passed for the floor')
    ap.add_argument('--write-expected', action='store_true',
                    help='print list lines for unlisted failures (reason: the exception line)')
    ap.add_argument('--json', type=pathlib.Path, help='write every outcome here')
    ap.add_argument('--log-dir', type=pathlib.Path,
                    help="keep each run's stdout/stderr here (default: a temporary directory, "
                         "kept only when there are problems)")
    args = ap.parse_args()

    suite = SUITES[args.suite]
    methods = [m for m in args.methods.split(',') if m]
    if not methods or set(methods) - {'dragon', 'spawn'}:
        ap.error('--methods: dragon and/or spawn')
    args.build = args.build.resolve()
    expected_path = args.expected or suite.expected_file
    expected = read_expected(expected_path)
    args.deselect = deselected(expected)
    if 'dragon' in methods:
        for need in (args.build / 'bin' / 'dragon',
                     args.build / 'lib' / 'python3' / 'site-packages' / 'dragon' / '__init__.py'):
            if not need.exists():
                sys.exit(f'run_suite: {need} is missing: build first (cmake --build {args.build})')
    python = args.python or shutil.which(suite.default_python)
    if not python:
        sys.exit(f'run_suite: no {suite.default_python} found')
    # The real interpreter (not a pyenv shim): it runs the suite and, through
    # DRAGON_PYTHON, the node's warm server that forks the children.
    code = f'import sys, {suite.test_module}; print(sys.executable)'
    probe = subprocess.run([python, '-c', code], capture_output=True, text=True)
    if probe.returncode != 0:
        print(f'run_suite: {python} cannot import {suite.test_module} (skipped):\n'
              f'{probe.stderr[-600:]}', file=sys.stderr)
        return SKIPPED_EXIT
    args.python = probe.stdout.strip()

    workdir = pathlib.Path(tempfile.mkdtemp(prefix=f'cpyconf-{suite.name[:2]}-'))
    keep_logs = args.log_dir is not None
    if not keep_logs:
        args.log_dir = workdir / 'logs'
    args.log_dir = args.log_dir.resolve()
    args.log_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    args.had_problems = True  # until report() says otherwise
    try:
        for method in methods:
            reused = reuse_spawn_results(args) if method == 'spawn' else None
            results[method] = reused or run_method(suite, method, args, workdir)
        dragon = results.get('dragon')
        flaky = {}
        if dragon and args.rerun_failures:
            failed = sorted(t for t, o in dragon['outcomes'].items()
                            if category(o) == 'failed' and not is_fixture(t))
            if 0 < len(failed) <= MAX_RERUN:
                again = rerun(suite, 'dragon', args, workdir, failed)
                dragon['rerun'] = again
                for t in failed:
                    if category(again['outcomes'].get(t, 'no result')) == 'passed':
                        flaky[t] = dragon['outcomes'][t]
            elif failed:
                print(f'[{suite.name}/dragon] {len(failed)} failures: not run again '
                      f'(at most {MAX_RERUN})')
        return report(suite, args, results, expected, expected_path, flaky)
    finally:
        # Without --log-dir the logs are kept only when something went wrong.
        if keep_logs or not args.had_problems:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            for p in workdir.iterdir():
                if p != args.log_dir:
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
            print(f'logs: {args.log_dir}')


def reuse_spawn_results(args):
    '''The spawn run of an earlier --json, when --spawn-from names one that exists and
    ran the same interpreter (spawn does not depend on --nodes).'''
    if not args.spawn_from:
        return None
    try:
        earlier = json.loads(args.spawn_from.read_text())
        spawn = earlier['methods']['spawn']
    except (OSError, ValueError, KeyError) as e:
        print(f'[spawn] cannot reuse {args.spawn_from} ({e}): running spawn')
        return None
    if spawn.get('problems'):
        print(f'[spawn] {args.spawn_from} had problems: running spawn')
        return None
    print(f'[spawn] outcomes reused from {args.spawn_from}')
    return spawn


def report(suite, args, results, expected, expected_path, flaky):
    table = count_table(suite, results)
    print_table(suite, table)
    failures = []  # reasons --check fails
    dragon, spawn = results.get('dragon'), results.get('spawn')
    for method, res in results.items():
        for p in res['problems']:
            failures.append(f'{method}: {p}')

    new_failures, listed_passing = [], []
    if dragon:
        out = '\n'.join(pathlib.Path(p).read_text(errors='replace') for p in dragon['stdout'])
        print(f'\nfailures under dragon ({expected_path.name} lists {len(expected)}):')
        for tid, outcome in sorted(dragon['outcomes'].items()):
            if category(outcome) != 'failed':
                continue
            again = ' (passed when run again)' if tid in flaky else ''
            if listed(tid, expected):
                note = 'expected' + again + ': ' + reason_for(tid, expected)
            elif tid in flaky:
                note = 'NOT LISTED, but passed when run again: flaky'
            else:
                if outcome == 'timeout':
                    line = f'hung past --timeout {args.timeout} s'
                elif outcome == 'no result':
                    line = 'started, no outcome printed (crash?)'
                else:
                    line = first_error_line(out, tid)
                note = 'NOT LISTED: ' + line
                new_failures.append((tid, outcome, line))
            print(f'  {outcome:10} {tid}  ({note})')
        for pattern in args.deselect:
            print(f'  {"not run":10} {pattern}  ({reason_for(pattern, expected)})')
        ran = dragon['outcomes']
        for pattern, reason in sorted(expected.items()):
            hits = [t for t in ran if fnmatch.fnmatchcase(t, pattern)]
            if hits and all(category(ran[t]) != 'failed' for t in hits):
                listed_passing.append(pattern)
        if listed_passing:
            print('\nlisted in the expected failures but did not fail this time '
                  '(remove them unless their reason says flaky):')
            for t in listed_passing:
                seen = sorted(set(o for x, o in ran.items() if fnmatch.fnmatchcase(x, t)))
                print(f'  {t}: {", ".join(seen)}')
        if new_failures:
            failures.append(f'dragon: {len(new_failures)} failures not in {expected_path.name}: '
                            + ', '.join(t for t, _, _ in new_failures[:10])
                            + (', ...' if len(new_failures) > 10 else ''))

    comparison = None
    if dragon and spawn:
        # A failure that passed when run again counts as passed here.
        d = {suite.key(t): 'ok' if t in flaky else o
             for t, o in dragon['outcomes'].items() if not is_fixture(t)}
        s = {suite.key(t): o for t, o in spawn['outcomes'].items() if not is_fixture(t)}
        spawn_passed = {t for t, o in s.items() if category(o) == 'passed'}
        both = {t for t in spawn_passed if category(d.get(t, 'missing')) == 'passed'}
        share = len(both) / len(spawn_passed) if spawn_passed else 0.0
        comparison = {'spawn_passed': len(spawn_passed), 'also_pass_under_dragon': len(both),
                      'share': round(share, 4)}
        print(f'\nof {len(spawn_passed)} tests that pass under spawn, {len(both)} pass under '
              f'dragon: {100 * share:.1f}% (floor {100 * args.floor:.0f}%)'
              + (f'; {len(flaky)} of them only when run again' if flaky else ''))
        differ = sorted(t for t in spawn_passed - both if category(d.get(t, 'missing')) != 'failed')
        if differ:
            print('  pass under spawn, skipped or missing under dragon:')
            for t in differ:
                print(f'    {d.get(t, "missing"):12} {t}')
        only_dragon = sorted(t for t, o in d.items() if category(o) == 'passed'
                             and category(s.get(t, 'missing')) != 'passed')
        if only_dragon:
            print('  pass under dragon, not under spawn:')
            for t in only_dragon:
                print(f'    {s.get(t, "missing"):12} {t}')
        spawn_failed = sorted(t for t, o in s.items() if category(o) == 'failed')
        if spawn_failed:
            print(f'  note: {len(spawn_failed)} fail under spawn too (this machine or CPython): '
                  + ', '.join(spawn_failed))
        if share < args.floor:
            failures.append(f'only {100 * share:.1f}% of the tests passing under spawn pass '
                            f'under dragon (floor {100 * args.floor:.0f}%)')

    if args.write_expected and new_failures:
        print(f'\ncandidate lines for {expected_path} (check each reason by hand):')
        for tid, outcome, line in new_failures:
            print(f'{tid}  # {outcome}: {line or "see the log"}')

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            'suite': suite.name,
            'build': str(args.build),
            'methods': {m: {k: v for k, v in r.items()} for m, r in results.items()},
            'counts': {m: {v: dict(c) for v, c in per.items()} for m, per in table.items()},
            'comparison': comparison,
            'expected': expected,
            'deselected_under_dragon': args.deselect,
            'listed_but_passed': listed_passing,
            'flaky': flaky,
            'check_failures': failures,
        }, indent=1, sort_keys=True) + '\n')
        print(f'\nwrote {args.json}')

    args.had_problems = bool(failures)
    if failures:
        print('\nCHECK FAILED:' if args.check else '\nproblems:')
        for f in failures:
            print(f'  {f}')
        return 1 if args.check else 0
    print('\ncheck passed' if args.check else '\nno problems')
    return 0


if __name__ == '__main__':
    sys.exit(main())
