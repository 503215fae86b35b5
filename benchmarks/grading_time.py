"""How long the grader takes for a class: 30 bottleneck submissions, graded by the command line.

Issue 20 asks that grading in a sandbox, with the verdict judged outside, take at most twice as long
as the grader it replaced. This script grades the same 30 submissions with the grader of any
checkout (``--tree``: this one, or an export of ``main``), by its command line
``python -m d2lutils.exercises --grade``, and prints the minutes, the CPU and the load average
before and after (timings depend on what else runs on the machine).

The submissions are made from the checkout's bottleneck exercise: 12 right (the solution), 6 with
the stride on the 3x3 convolution ("ResNet v1.5", also right), 6 with a wrong block (no ReLU after
the addition), 6 handed in unsolved.

    .venv/bin/python benchmarks/grading_time.py                       # this checkout's grader
    git archive main d2lutils chapters/exercises | tar -x -C /tmp/main-grader
    .venv/bin/python benchmarks/grading_time.py --tree /tmp/main-grader --label main
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import machine  # noqa: E402

from d2lutils.exercises import grading, students  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def submissions(tree):
    """{file name: notebook}: the 30 submissions, made from the bottleneck exercise of ``tree``
    (a submission answers the notebook its grader hands out)."""
    SOLUTION = pathlib.Path(tree) / 'chapters' / 'exercises' / 'solutions' / 'bottleneck.ipynb'
    solution = grading.graded_cells(nbformat.read(SOLUTION, as_version=4))

    def solved(edit=lambda source: source):
        nb = students.student_notebook(nbformat.read(SOLUTION, as_version=4))
        for cell in nb.cells:
            meta = students.nbgrader_meta(cell)
            if meta.get('solution'):
                source = '\n'.join(line for line in solution[meta['grade_id']].source.split('\n')
                                   if line.strip() not in (students.BEGIN, students.END))
                cell.source = edit(source) if meta['grade_id'] == 'bottleneck-block' else source
        return nb

    def v15(source):
        return source.replace('kernel_size=1, strides=strides, use_bias=False)',
                              'kernel_size=1, use_bias=False)', 1).replace(
            'kernel_size=3, padding=1, use_bias=False)',
            'kernel_size=3, strides=strides, padding=1, use_bias=False)', 1)

    made = {}
    for i in range(12):
        made[f'right-{i:02d}.ipynb'] = solved()
    for i in range(6):
        made[f'v15-{i:02d}.ipynb'] = solved(v15)
    for i in range(6):
        made[f'wrong-{i:02d}.ipynb'] = solved(lambda s: s.replace('return self.relu(y + x)',
                                                                  'return y + x'))
    for i in range(6):
        made[f'unsolved-{i:02d}.ipynb'] = students.student_notebook(
            nbformat.read(SOLUTION, as_version=4))
    return made


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tree', default=str(ROOT), help='the checkout whose grader runs')
    parser.add_argument('--label', default='this branch')
    parser.add_argument('--record', default=str(ROOT / 'benchmarks' / 'grading_time.jsonl'),
                        help='append one JSON line per run here')
    args = parser.parse_args(argv)
    print(machine.cpu_description())
    with tempfile.TemporaryDirectory(prefix='grading-time-') as folder:
        folder = pathlib.Path(folder)
        paths = []
        for name, nb in submissions(args.tree).items():
            nbformat.write(nb, folder / name)
            paths.append(str(folder / name))
        command = [sys.executable, '-m', 'd2lutils.exercises', '--grade', *paths,
                   '--output', str(folder / 'grades.json'), '--allow-root']
        # The environment's editable install maps d2lutils to this checkout ahead of PYTHONPATH;
        # a sitecustomize (run by every Python the grader starts, kernels included) removes it.
        (folder / 'shim').mkdir()
        (folder / 'shim' / 'sitecustomize.py').write_text(
            'import sys\nsys.meta_path[:] = [f for f in sys.meta_path\n'
            '                 if "__editable__" not in getattr(f, "__module__", "")]\n')
        env = {**os.environ, 'PYTHONPATH': f'{folder / "shim"}:{pathlib.Path(args.tree).resolve()}'}
        load_before = machine.load_average()
        start = time.monotonic()
        done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
        minutes = (time.monotonic() - start) / 60
        load_after = machine.load_average()
        results = json.loads((folder / 'grades.json').read_text())
    points = sorted({(pathlib.Path(r['submission']).name.split('-')[0], r['points'])
                     for r in results})
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:])
    print(f'points by kind of submission: {points}')
    print(f'load average before {load_before}, after {load_after} (2 cores, shared)')
    print(f'{args.label}: {len(paths)} bottleneck submissions graded in {minutes:.1f} minutes')
    with open(args.record, 'a') as record:
        record.write(json.dumps({'grader': args.label, 'submissions': len(paths),
                                 'minutes': round(minutes, 2), 'load_before': load_before,
                                 'load_after': load_after, 'points': points,
                                 'cpu': machine.cpu_description()}) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
