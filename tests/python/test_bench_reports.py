"""Bench reports a person can look at: every bench also writes its table as CSV
(--csv FILE or BENCH_CSV_DIR; bench/bench_csv.py, bench/bench_csv.hpp) and
bench/plot.py turns those files into PNGs. The benches run here with tiny counts:
the test is about the files, not the figures."""

import csv
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'programs'))
import harness  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
BENCH = REPO / 'bench'
COLUMNS = ['bench', 'mode', 'metric', 'unit', 'better', 'ours', 'baseline_name', 'baseline',
           'ratio', 'machine_load']
SYSTEM_PYTHON = '/usr/bin/python3'

sys.path.insert(0, str(BENCH))
import bench_csv  # noqa: E402


def read_table(path):
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def has_matplotlib():
    probe = subprocess.run([SYSTEM_PYTHON, '-c', 'import matplotlib'], capture_output=True)
    return probe.returncode == 0


def test_table_goes_to_the_csv_dir_with_its_mode_in_the_name(tmp_path, monkeypatch):
    monkeypatch.setenv('BENCH_CSV_DIR', str(tmp_path / 'out'))
    table = bench_csv.Table('demo', busy=2)
    table.add('ping-pong, 8 B', 'us', 'lower', 4.0, 'spawn', 16.0)
    table.add('made and dropped', 'objects/s', 'higher', 1000.0)
    written = table.write()
    assert written == str(tmp_path / 'out' / 'demo-busy2.csv')
    rows = read_table(written)
    assert [r['metric'] for r in rows] == ['ping-pong, 8 B', 'made and dropped']
    assert rows[0]['mode'] == 'busy2' and float(rows[0]['ratio']) == pytest.approx(0.25)
    assert rows[1]['baseline_name'] == '' and rows[1]['ratio'] == ''
    with pytest.raises(ValueError, match='lower'):
        table.add('x', 'us', 'smaller', 1.0)


def test_without_csv_dir_or_option_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv('BENCH_CSV_DIR', raising=False)
    monkeypatch.chdir(tmp_path)
    table = bench_csv.Table('demo')
    table.add('x', 'us', 'lower', 1.0)
    assert table.write() is None
    assert list(tmp_path.iterdir()) == []


def test_busy_neighbours_run_during_the_block_and_are_gone_after_it():
    with bench_csv.busy_neighbours(2) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
    assert all(p.returncode is not None for p in procs)
    with pytest.raises(RuntimeError):
        with bench_csv.busy_neighbours(1) as procs:
            raise RuntimeError('a bench that fails')
    assert procs[0].returncode is not None


def test_mp_bench_writes_its_rows_as_csv(build, tmp_path):
    out = tmp_path / 'mp.csv'
    cmd = harness._command(build, harness.mode(build), BENCH / 'mp_bench.py',
                           ['--quick', '--methods', 'dragon,fork', '--only', 'Pipe ping-pong',
                            '--csv', str(out)], 120)
    r = subprocess.run(cmd, env=harness.env_for(build), capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = read_table(out)
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row['bench'], row['mode'], row['metric'], row['better'], row['baseline_name']) == (
        'mp_bench', 'quiet', 'Pipe ping-pong 8 B', 'lower', 'fork')
    assert float(row['ratio']) == pytest.approx(float(row['ours']) / float(row['baseline']),
                                                rel=1e-3)


def test_transport_bench_writes_its_rows_as_csv(build, tmp_path):
    out = tmp_path / 'transport.csv'
    r = subprocess.run([str(build / 'bin' / 'transport_bench'), '--loopback', '--only', 'tcp',
                        '--iters', '200', '--messages', '1', '--busy', '1', '--csv', str(out)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = read_table(out)
    assert [(x['metric'], x['mode'], x['better'], x['baseline_name']) for x in rows] == [
        ('tcp_pingpong_8B_us', 'busy1', 'lower', 'raw TCP'),
        ('tcp_stream_64MiB_MB_s', 'busy1', 'higher', 'raw TCP')]


@pytest.mark.skipif(not has_matplotlib(), reason='python3-matplotlib is not installed '
                    '(bash ci/install-deps.sh installs it)')
def test_plot_draws_quiet_and_busy_tables_as_pngs(tmp_path):
    tables = tmp_path / 'csv'
    for busy, ours in ((0, 3.3), (2, 12.0)):
        t = bench_csv.Table('mp_bench', busy, str(tables / ('mp_bench-%d.csv' % busy)))
        for name, base in (('spawn', 50.0), ('fork', 40.0)):
            t.add('Pipe ping-pong 8 B', 'us/round trip', 'lower', ours, name, base)
        t.add('Queue 1 MiB bandwidth', 'GiB/s', 'higher', 10.0, 'spawn', 0.3)
        t.write()
    t = bench_csv.Table('churn_bench', 0, str(tables / 'churn.csv'))
    t.add('queue made, used, dropped', 'objects/s', 'higher', 90000.0)
    t.write()
    r = subprocess.run([SYSTEM_PYTHON, str(BENCH / 'plot.py'), '-o', str(tmp_path / 'png'),
                        str(tables)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ('mp_bench.png', 'churn_bench.png'):
        data = (tmp_path / 'png' / name).read_bytes()
        assert data.startswith(b'\x89PNG') and len(data) > 5000, name


def test_plot_names_a_file_that_is_not_a_bench_table(tmp_path):
    bad = tmp_path / 'other.csv'
    bad.write_text('a,b\n1,2\n')
    r = subprocess.run([SYSTEM_PYTHON, str(BENCH / 'plot.py'), '-o', str(tmp_path), str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert str(bad) in r.stderr and 'not a bench table' in r.stderr, r.stderr


def test_build_ab_compares_builds_run_by_run(build, tmp_path):
    out = tmp_path / 'ab.csv'
    r = subprocess.run([sys.executable, str(BENCH / 'build_ab.py'), '--runs', '1', '--rounds',
                        '200', '--stock', 'fork', '--csv', str(out), 'a=%s' % build,
                        'b=%s' % build], env=harness.env_for(build), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = read_table(out)
    assert [(x['bench'], x['metric'], x['baseline_name']) for x in rows] == [
        ('build_ab', 'Pipe ping-pong 8 B', 'b'), ('build_ab', 'Pipe ping-pong 8 B', 'fork')]
    bad = subprocess.run([sys.executable, str(BENCH / 'build_ab.py'), 'a=%s' % tmp_path],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and 'NAME=BUILD_DIR' in bad.stderr, bad.stderr
