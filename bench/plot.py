#!/usr/bin/python3
"""Turns the benches' CSV tables into PNG plots, one per bench, quiet and busy side by side.

    /usr/bin/python3 bench/plot.py [-o bench/plots] CSV_OR_DIR...

Reads the CSV files every bench writes (--csv FILE or $BENCH_CSV_DIR;
columns in bench/bench_csv.py) and writes <bench>.png per bench. A row that
compares ours with a baseline measured in the same run (stock multiprocessing, raw
TCP, a pipe, memcpy, ucx_perftest) becomes a bar: how many times faster ours is
(log scale, right of 1: ours is faster), labelled with both figures; one panel
per mode ("quiet", and "busyN" with N CPU-bound processes beside it). Rows
without a baseline (churn rates, Ctrl-C times) are drawn as their values.
Needs matplotlib (Debian: python3-matplotlib, installed by ci/install-deps.sh).
"""

import argparse
import collections
import csv
import math
import os
import sys

plt = None  # matplotlib.pyplot, imported once the tables are read (load_pyplot)

COLUMNS = ['bench', 'mode', 'metric', 'unit', 'better', 'ours', 'baseline_name', 'baseline',
           'ratio', 'machine_load']
COLORS = ['#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3', '#937860', '#da8bc3']


def load_pyplot():
    global plt
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot
    except ImportError:
        sys.exit('plot.py: matplotlib is missing; install python3-matplotlib '
                 '(bash ci/install-deps.sh) and run this with /usr/bin/python3')
    plt = matplotlib.pyplot


def read_rows(paths):
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith('.csv'))
        else:
            files.append(path)
    if not files:
        sys.exit('plot.py: no CSV files in %s; run the benches with --csv FILE or '
                 'BENCH_CSV_DIR=DIR first' % ' '.join(paths))
    rows = []
    for name in files:
        with open(name, newline='') as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != COLUMNS:
                sys.exit('plot.py: %s is not a bench table (columns %s, expected %s)'
                         % (name, reader.fieldnames, COLUMNS))
            rows += list(reader)
    return rows


def mode_order(mode):
    return (0, 0) if mode == 'quiet' else (1, int(mode[4:] or 0))


def mode_title(mode, rows):
    loads = sorted(float(r['machine_load']) for r in rows
                   if r['mode'] == mode and r['machine_load'])
    load = ', load average %.1f' % loads[len(loads) // 2] if loads else ''
    if mode == 'quiet':
        return 'quiet: no CPU-bound neighbours%s' % load
    return 'busy: %s CPU-bound processes beside it%s' % (mode[4:], load)


def fmt(value):
    return '%.3g' % value


def speedup(row):
    ours, base = float(row['ours']), float(row['baseline'])
    if ours <= 0 or base <= 0:
        return None
    return base / ours if row['better'] == 'lower' else ours / base


def plot_comparisons(bench, rows, out_dir):
    '''Bars: ours' speed-up over every baseline, per metric, a panel per mode.'''
    modes = sorted({r['mode'] for r in rows}, key=mode_order)
    metrics = list(dict.fromkeys(r['metric'] for r in rows))
    baselines = list(dict.fromkeys(r['baseline_name'] for r in rows))
    color = {b: COLORS[i % len(COLORS)] for i, b in enumerate(baselines)}
    # One slot per (metric, baseline) present in any mode, so panels line up.
    slots = [(m, b) for m in metrics for b in baselines
             if any(r['metric'] == m and r['baseline_name'] == b for r in rows)]
    height = 1.2 + 0.42 * len(slots) + 0.25 * len(metrics)
    fig, axes = plt.subplots(1, len(modes), figsize=(6.2 * len(modes), height), sharey=True,
                             squeeze=False)
    positions, y = {}, 0.0
    for m in metrics:
        for slot in [s for s in slots if s[0] == m]:
            positions[slot] = y
            y -= 1
        y -= 0.6
    values = [speedup(r) for r in rows]
    values = [v for v in values if v]
    low = min(values + [1.0]) / 2.5
    high = max(values + [1.0]) * 60
    for ax, mode in zip(axes[0], modes):
        ax.set_title(mode_title(mode, rows), fontsize=10)
        ax.set_xscale('log')
        ax.set_xlim(low, high)
        ax.axvline(1.0, color='black', linewidth=0.8)
        ax.axvspan(low, 1.0, color='#f2d7d5', alpha=0.5, linewidth=0)
        for r in rows:
            if r['mode'] != mode:
                continue
            s = speedup(r)
            pos = positions[r['metric'], r['baseline_name']]
            if s is None:
                ax.text(1.0, pos, ' not measured', va='center', fontsize=7)
                continue
            ax.barh(pos, s - 1, left=1, height=0.8,
                    color=color[r['baseline_name']])
            label = '%.2fx: %s vs %s %s' % (s, fmt(float(r['ours'])), fmt(float(r['baseline'])),
                                              r['unit'])
            ax.text(max(s, 1.0) * 1.06, pos, label, va='center', fontsize=7)
        ax.set_xlabel('times faster than the baseline (log; right of 1: ours is faster)',
                      fontsize=8)
        ax.tick_params(labelsize=8)
    ticks = [sum(positions[s] for s in slots if s[0] == m) / sum(1 for s in slots if s[0] == m)
             for m in metrics]
    axes[0][0].set_yticks(ticks)
    axes[0][0].set_yticklabels([_wrap(m) for m in metrics], fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=color[b]) for b in baselines]
    fig.legend(handles, ['ours vs ' + b for b in baselines], loc='lower center',
               ncol=min(len(baselines), 4), fontsize=8, frameon=False)
    fig.suptitle('%s: ours against baselines measured in the same run' % bench, fontsize=11)
    fig.tight_layout(rect=(0, 0.3 / height, 1, 1))
    return _save(fig, out_dir, bench)


def plot_values(bench, rows, out_dir):
    '''Rows without a baseline: one bar per mode, a small panel per metric.'''
    metrics = list(dict.fromkeys(r['metric'] for r in rows))
    modes = sorted({r['mode'] for r in rows}, key=mode_order)
    cols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 0.6 + 1.3 * nrows),
                             squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        mine = {r['mode']: r for r in rows if r['metric'] == metric}
        shown = [m for m in modes if m in mine]
        vals = [float(mine[m]['ours']) for m in shown]
        ax.barh(range(len(shown)), vals, color=COLORS[0], height=0.6)
        ax.set_yticks(range(len(shown)))
        ax.set_yticklabels(shown, fontsize=7)
        ax.invert_yaxis()
        unit = mine[shown[0]]['unit']
        better = mine[shown[0]]['better']
        ax.set_title('%s\n(%s, %s is better)' % (_wrap(metric, 45), unit, better), fontsize=8)
        top = max(vals + [0]) or 1
        ax.set_xlim(0, top * 1.45)
        for i, v in enumerate(vals):
            ax.text(v + top * 0.02, i, fmt(v), va='center', fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    fig.suptitle('%s (no baseline in the same run)' % bench, fontsize=10)
    fig.tight_layout()
    return _save(fig, out_dir, bench)


def _wrap(text, width=30):
    words, lines, line = text.split(), [], ''
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = (line + ' ' + w).strip()
    return '\n'.join(lines + [line])


def _save(fig, out_dir, bench):
    path = os.path.join(out_dir, bench + '.png')
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', nargs='+', metavar='CSV_OR_DIR')
    parser.add_argument('-o', '--out', default='bench/plots', help='directory for the PNGs')
    args = parser.parse_args()
    rows = read_rows(args.inputs)
    load_pyplot()
    os.makedirs(args.out, exist_ok=True)
    by_bench = collections.OrderedDict()
    for r in rows:
        by_bench.setdefault(r['bench'], []).append(r)
    for bench, mine in by_bench.items():
        compared = [r for r in mine if r['baseline_name']]
        alone = [r for r in mine if not r['baseline_name']]
        if compared:
            plot_comparisons(bench, compared, args.out)
        if alone:
            plot_values(bench + ('-values' if compared else ''), alone, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
