"""How long grading a class takes: 30 bottleneck submissions, by the book's grader or by nbgrader.

The teacher's guide shows the minutes of both routes. ``--route book`` (the default) grades the 30
submissions with the grader of any checkout (``--tree``: this one, or an export of ``main``) by its
command line ``python -m d2lutils.exercises --grade``; issue 20 compared the sandboxed grader with
the one it replaced this way. ``--route nbgrader`` sets up a course as docs/teaching.md says
(``benchmarks/nbgrader_course.py``), releases the exercise, and times ``nbgrader autograde`` of the 30
submissions made from its release. Both print the minutes, the points by kind of submission, the
CPU and the load average before and after (timings depend on what else runs on the machine), and
append one JSON line to ``benchmarks/grading_time.jsonl``.

The submissions are made from the checkout's bottleneck exercise: 12 right (the solution), 6 with
the stride on the 3x3 convolution ("ResNet v1.5", also right), 6 with a wrong block (no ReLU after
the addition), 6 handed in unsolved.

    .venv/bin/python benchmarks/grading_time.py                       # this checkout's grader
    .venv/bin/python benchmarks/grading_time.py --route nbgrader      # nbgrader (installed here)
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
import nbgrader

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import machine  # noqa: E402
import nbgrader_course  # noqa: E402

from d2lutils.exercises import grading, students  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


KINDS = {'right': 12, 'v15': 6, 'wrong': 6, 'unsolved': 6}


def answers(kind, solution):
    """The answers a submission of ``kind`` gives, by grade id (absent: the solution's answer);
    ``None`` for a submission handed in as it was handed out."""
    if kind == 'unsolved':
        return None
    block = grading.graded_cells(nbformat.read(solution, as_version=4))['bottleneck-block'].source
    if kind == 'v15':
        block = block.replace('kernel_size=1, strides=strides, use_bias=False)',
                              'kernel_size=1, use_bias=False)', 1).replace(
            'kernel_size=3, padding=1, use_bias=False)',
            'kernel_size=3, strides=strides, padding=1, use_bias=False)', 1)
    elif kind == 'wrong':
        block = block.replace('return self.relu(y + x)', 'return y + x')
    return {'bottleneck-block': block}


def submissions(solution, handout):
    """{student: notebook}: the 30 submissions, each ``handout`` (the notebook the grader hands out,
    which a submission answers) with a kind's answers; a student is named KIND-NN."""
    made = {}
    for kind, count in KINDS.items():
        given = answers(kind, solution)
        for i in range(count):
            made[f'{kind}-{i:02d}'] = (nbformat.from_dict(handout) if given is None else
                                       nbgrader_course.fill(handout, solution, **given))
    return made


def grade_with_the_book(tree, folder):
    """Minutes and {student: points} of the book's grader of ``tree`` on the 30 submissions."""
    solution = pathlib.Path(tree) / 'chapters' / 'exercises' / 'solutions' / 'bottleneck.ipynb'
    handout = students.student_notebook(nbformat.read(solution, as_version=4))
    paths = []
    for name, nb in submissions(solution, handout).items():
        nbformat.write(nb, folder / f'{name}.ipynb')
        paths.append(str(folder / f'{name}.ipynb'))
    command = [sys.executable, '-m', 'd2lutils.exercises', '--grade', *paths,
               '--output', str(folder / 'grades.json'), '--allow-root']
    # The environment's editable install maps d2lutils to this checkout ahead of PYTHONPATH;
    # a sitecustomize (run by every Python the grader starts, kernels included) removes it.
    (folder / 'shim').mkdir()
    (folder / 'shim' / 'sitecustomize.py').write_text(
        'import sys\nsys.meta_path[:] = [f for f in sys.meta_path\n'
        '                 if "__editable__" not in getattr(f, "__module__", "")]\n')
    env = {**os.environ, 'PYTHONPATH': f'{folder / "shim"}:{pathlib.Path(tree).resolve()}'}
    start = time.monotonic()
    done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
    minutes = (time.monotonic() - start) / 60
    if not (folder / 'grades.json').exists():
        raise SystemExit(f'the grader wrote no grades:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}')
    results = json.loads((folder / 'grades.json').read_text())
    return minutes, {pathlib.Path(r['submission']).stem: r['points'] for r in results}


def grade_with_nbgrader(folder):
    """Minutes and {student: points} of ``nbgrader autograde`` on the 30 submissions (the course's
    set-up and release are not timed: a teacher does them once)."""
    solution = ROOT / 'chapters' / 'exercises' / 'solutions' / 'bottleneck.ipynb'
    env = nbgrader_course.create(folder / 'course', [solution])
    release = nbgrader_course.release(folder / 'course', solution)
    made = submissions(solution, nbformat.read(release, as_version=4))
    for student, nb in made.items():
        nbgrader_course.submit(folder / 'course', solution, student, nb)
    start = time.monotonic()
    nbgrader_course.autograde(folder / 'course', solution, env)
    minutes = (time.monotonic() - start) / 60
    return minutes, {student: sum(score for score, _ in
                                  nbgrader_course.scores(folder / 'course', solution, student).values())
                     for student in made}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--route', choices=('book', 'nbgrader'), default='book',
                        help="the book's grader (default) or nbgrader")
    parser.add_argument('--tree', default=str(ROOT), help="the checkout whose grader runs (book route)")
    parser.add_argument('--label', help="the record's name for the grader (default: the route's)")
    parser.add_argument('--record', default=str(ROOT / 'benchmarks' / 'grading_time.jsonl'),
                        help='append one JSON line per run here')
    args = parser.parse_args(argv)
    if args.route == 'nbgrader' and pathlib.Path(args.tree).resolve() != ROOT:
        parser.error('--tree is for the book route: nbgrader grades with the checkout it runs from')
    label = args.label or {'book': "the book's grader", 'nbgrader': 'nbgrader ' + nbgrader.__version__}[args.route]
    print(machine.cpu_description())
    with tempfile.TemporaryDirectory(prefix='grading-time-') as folder:
        load_before = machine.load_average()
        if args.route == 'book':
            minutes, points = grade_with_the_book(args.tree, pathlib.Path(folder))
        else:
            minutes, points = grade_with_nbgrader(pathlib.Path(folder))
        load_after = machine.load_average()
    by_kind = sorted({(student.split('-')[0], score) for student, score in points.items()})
    print(f'points by kind of submission: {by_kind}')
    print(f'load average before {load_before}, after {load_after} (2 cores, shared)')
    print(f'{label}: {len(points)} bottleneck submissions graded in {minutes:.1f} minutes')
    with open(args.record, 'a') as record:
        record.write(json.dumps({'grader': label, 'route': args.route, 'submissions': len(points),
                                 'minutes': round(minutes, 2), 'load_before': load_before,
                                 'load_after': load_after, 'points': by_kind,
                                 'cpu': machine.cpu_description(),
                                 'date': time.strftime('%Y-%m-%d')}) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
