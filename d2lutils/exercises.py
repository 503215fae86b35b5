"""Students' versions of the exercise notebooks, generated from the solutions.

The solution notebooks in ``chapters/exercises/solutions/`` are the source. They follow nbgrader's
conventions, so a teacher who uses nbgrader can take them as they are: code between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` is the solution, and ``metadata.nbgrader`` marks
solution cells, check cells (``grade: true``, locked, with points) and answers graded by hand.

The students' version of ``solutions/NAME.ipynb`` is ``NAME.ipynb`` one folder up, and differs in
three ways: every solution region becomes ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` (in
code, at the region's indentation) or ``YOUR ANSWER HERE`` (in text); outputs are cleared; and the
cells that cannot run before the student has written the solutions get the ``raises-exception`` tag.
Those are the check cells (nbgrader grade cells), the cells tagged ``uses-solution`` in the source
(experiments that use the student's code), and solution cells whose stub is not inside a function.
nbval (which runs the students' versions) and JupyterLab's "Run All" both carry on past a cell with
that tag; the tests check that exactly those cells raise.

    python -m d2lutils.exercises              # regenerate every students' version
    python -m d2lutils.exercises --check      # exit 1 if a students' version is out of date
    python -m d2lutils.exercises --grade FILE.ipynb ...  # run submitted notebooks (d2lutils.grading)

Each solution notebook names its assignment in its metadata (``d2lutils.assignment``, the file's
stem); the students' version keeps it, and so does nbgrader's release, so that the grader
(``d2lutils/grading.py``) can tell which teacher's copy a submission belongs to whatever its file
is called.
"""
import argparse
import copy
import os
import pathlib
import re
import sys

BEGIN, END = '### BEGIN SOLUTION', '### END SOLUTION'
CODE_STUB = ('# YOUR CODE HERE', 'raise NotImplementedError()')
TEXT_STUB = 'YOUR ANSWER HERE'
RAISES = 'raises-exception'
USES_SOLUTION = 'uses-solution'

EXERCISES = pathlib.Path(__file__).resolve().parents[1] / 'chapters' / 'exercises'


class SolutionMarkerError(ValueError):
    """A solution region is not closed or not opened, a marker is misspelt, or a solution notebook
    is missing or names no assignment."""


# A line that mentions a solution marker in any case or spelling. nbgrader takes any line that
# contains "BEGIN SOLUTION" as a marker; this generator takes only the exact line, and refuses the
# near misses rather than leave a solution in the students' version.
MARKER_LIKE = re.compile(r'(begin|end)[\s_-]*solutions?\b', re.IGNORECASE)


def clear_solutions(source, cell_type='code'):
    """Replace every solution region of a cell's source by the stub; return (source, stub_indents)."""
    out, indents, inside = [], [], False
    for line in source.split('\n'):
        stripped = line.strip()
        if MARKER_LIKE.search(line) and stripped not in (BEGIN, END):
            raise SolutionMarkerError(f'a line that looks like a solution marker: {stripped!r}; '
                                      f'write exactly {BEGIN!r} or {END!r} on a line of its own')
        if stripped == BEGIN:
            if inside:
                raise SolutionMarkerError(f'{BEGIN} inside a solution region:\n{source}')
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            indents.append(indent)
            if cell_type == 'code':
                out.extend(indent + stub for stub in CODE_STUB)
            else:
                out.append(indent + TEXT_STUB)
        elif stripped == END:
            if not inside:
                raise SolutionMarkerError(f'{END} without {BEGIN}:\n{source}')
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkerError(f'{BEGIN} without {END}:\n{source}')
    return '\n'.join(out), indents


def nbgrader_meta(cell):
    return cell.get('metadata', {}).get('nbgrader', {})


def is_check_cell(cell):
    """An nbgrader grade cell with code: a check the student cannot pass before solving."""
    meta = nbgrader_meta(cell)
    return cell['cell_type'] == 'code' and bool(meta.get('grade')) and not meta.get('solution')


def expected_to_raise(cell, stub_indents=()):
    """True for the cells of a students' version that raise until the exercises are solved."""
    if cell['cell_type'] != 'code':
        return False
    tags = cell.get('metadata', {}).get('tags', [])
    return is_check_cell(cell) or USES_SOLUTION in tags or '' in stub_indents


def student_notebook(solution):
    """The students' version of a solution notebook (an nbformat NotebookNode); the input is kept."""
    nb = copy.deepcopy(solution)
    # Only what does not change when the solution is executed again, so that re-executing a
    # solution never makes its students' version out of date.
    nb.metadata = {key: value for key, value in nb.metadata.items() if key in ('kernelspec', 'd2lutils')}
    nb.metadata['language_info'] = {'name': 'python'}
    for cell in nb.cells:
        stub_indents = ()
        if MARKER_LIKE.search(cell.source):
            cell.source, stub_indents = clear_solutions(cell.source, cell.cell_type)
        cell.metadata.pop('execution', None)
        tags = [t for t in cell.metadata.get('tags', []) if t != RAISES]
        if expected_to_raise(cell, stub_indents):
            tags.append(RAISES)
        if tags:
            cell.metadata['tags'] = tags
        else:
            cell.metadata.pop('tags', None)
        if cell.cell_type == 'code':
            cell.outputs = []
            cell.execution_count = None
    return nb


def solution_paths(folder=EXERCISES):
    return sorted((pathlib.Path(folder) / 'solutions').glob('*.ipynb'))


def required_solution_paths(folder=EXERCISES):
    """The solution notebooks of ``folder``; none is an error (a wrong --folder), not 'up to date'."""
    paths = solution_paths(folder)
    if not paths:
        raise SolutionMarkerError(f'no solution notebooks in {pathlib.Path(folder) / "solutions"}: '
                                  '--folder must name the exercises folder (with solutions/ inside)')
    return paths


def student_path(solution_path):
    solution_path = pathlib.Path(solution_path)
    return solution_path.parent.parent / solution_path.name


def generate(folder=EXERCISES):
    """{students' version path: its text}, for every solution notebook in ``folder/solutions``."""
    import nbformat
    texts = {}
    for path in required_solution_paths(folder):
        nb = nbformat.read(path, as_version=4)
        if (nb.metadata.get('d2lutils') or {}).get('assignment') != path.stem:
            raise SolutionMarkerError(
                f'{path}: its metadata must name its assignment, {{"d2lutils": {{"assignment": '
                f'"{path.stem}"}}}}: the grader identifies submissions by it, not by file name')
        text = nbformat.writes(student_notebook(nb))
        texts[student_path(path)] = text if text.endswith('\n') else text + '\n'
    return texts


def out_of_date(folder=EXERCISES):
    """The students' versions that differ from what ``generate`` makes (or are missing)."""
    return [path for path, text in generate(folder).items()
            if not path.exists() or path.read_text(encoding='utf-8') != text]


def run_notebook(path, timeout=1200):
    """Execute a notebook in a fresh kernel, errors allowed, in its own folder; return it."""
    import nbclient
    import nbformat
    path = pathlib.Path(path)
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name='python3',
                            resources={'metadata': {'path': str(path.parent)}}).execute()
    return nb


def _first_line(text):
    text = re.sub(r'\x1b\[[0-9;]*m', '', text)
    return text.strip().split('\n')[0][:160]


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m d2lutils.exercises', description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help="don't write; exit 1 if a students' version is out of date")
    parser.add_argument('--folder', default=str(EXERCISES),
                        help='the exercises folder (with solutions/ inside); default: %(default)s')
    parser.add_argument('--grade', nargs='+', metavar='NOTEBOOK',
                        help='run these submitted notebooks (student code!) and score their checks')
    parser.add_argument('--output', default='grades.csv',
                        help='--grade: results file, rewritten after each submission; .json for '
                             'JSON, else CSV; default: %(default)s')
    parser.add_argument('--timeout', type=float, default=600,
                        help='--grade: seconds one cell may run; default: %(default)s')
    parser.add_argument('--profile', default='quick',
                        help='--grade: run profile (the checks do not depend on it); '
                             'default: %(default)s')
    parser.add_argument('--allow-root', action='store_true',
                        help='--grade: run student code even as root (better: a throwaway account)')
    parser.add_argument('--no-screen', action='store_true',
                        help='--grade: run submissions the tampering screen flags (after reading them)')
    args = parser.parse_args(argv)
    try:
        if args.grade:
            return _grade(args)
        if args.check:
            stale = out_of_date(args.folder)
            for path in stale:
                print(f'out of date: {path} (run: python -m d2lutils.exercises)')
            if not stale:
                print("students' versions are up to date")
            return 1 if stale else 0
        for path, text in generate(args.folder).items():
            path.write_text(text, encoding='utf-8')
            print(f'wrote {path}')
        return 0
    except SolutionMarkerError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2


def _grade(args):
    """--grade: say that student code runs, refuse root, grade; exit 1 if a submission failed."""
    from d2lutils import grading
    print(f'WARNING: {grading.WARNING}', file=sys.stderr)
    if hasattr(os, 'geteuid') and os.geteuid() == 0 and not args.allow_root:
        print('error: refusing to run student code as root; grade as an ordinary user (or in a '
              'container), or pass --allow-root', file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print(f'error: --timeout must be a positive number of seconds, not {args.timeout:g}',
              file=sys.stderr)
        return 2
    grading.teacher_copies(args.folder)  # a broken teacher's copy stops here, before any kernel
    os.environ['D2LUTILS_PROFILE'] = args.profile  # the kernels inherit it
    try:
        results = grading.grade(args.grade, args.output, folder=args.folder, timeout=args.timeout,
                                use_screen=not args.no_screen)
    except grading.ChecksChanged as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    attention = [r for r in results if not r.ok]
    print(f'{len(results)} submissions, {len(attention)} failed or to review; '
          f'results in {args.output}')
    return 1 if attention else 0


if __name__ == '__main__':
    sys.exit(main())
