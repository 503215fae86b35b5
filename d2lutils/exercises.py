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
    python -m d2lutils.exercises --grade FILE.ipynb ...  # run submitted notebooks, score the checks

Grading runs each submitted notebook in a fresh kernel (profile 'quick' unless --profile says
otherwise) and gives a check cell its points when it runs without an error and its code is the one
handed out; answers in text are listed for grading by hand.
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
    """A solution region is not closed, or not opened."""


def clear_solutions(source, cell_type='code'):
    """Replace every solution region of a cell's source by the stub; return (source, stub_indents)."""
    out, indents, inside = [], [], False
    for line in source.split('\n'):
        stripped = line.strip()
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
        if BEGIN in cell.source:
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


def student_path(solution_path):
    solution_path = pathlib.Path(solution_path)
    return solution_path.parent.parent / solution_path.name


def generate(folder=EXERCISES):
    """{students' version path: its text}, for every solution notebook in ``folder/solutions``."""
    import nbformat
    texts = {}
    for path in solution_paths(folder):
        nb = nbformat.read(path, as_version=4)
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


def score(nb, reference=None):
    """(points, max_points, lines) of an executed notebook: a check cell's points if it ran cleanly.

    With ``reference`` (the students' version handed out), a check cell whose code differs from the
    one handed out scores 0. Answers graded by hand (markdown solution cells with points) are
    listed, not scored.
    """
    handed_out = {nbgrader_meta(c).get('grade_id'): c.source for c in (reference.cells if reference
                                                                        else []) if is_check_cell(c)}
    points = max_points = 0
    lines = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get('grade'):
            continue
        worth = float(meta.get('points', 0))
        if not is_check_cell(cell):
            lines.append(f'  {meta.get("grade_id")}: to grade by hand (0-{worth:g} points)')
            continue
        errors = [o for o in cell.get('outputs', []) if o.get('output_type') == 'error']
        if cell.get('execution_count') is None:
            errors = errors or [{'ename': 'not run', 'evalue': 'the cell did not run'}]
        grade_id = meta.get('grade_id')
        if grade_id in handed_out and cell.source.strip() != handed_out[grade_id].strip():
            errors = [{'ename': 'edited', 'evalue': 'this check cell differs from the one handed out'}]
        got = 0.0 if errors else worth
        points, max_points = points + got, max_points + worth
        why = f' ({errors[0]["ename"]}: {_first_line(errors[0]["evalue"])})' if errors else ''
        lines.append(f'  {meta.get("grade_id")}: {got:g}/{worth:g}{why}')
    return points, max_points, lines


def grade(paths, timeout=1200, folder=EXERCISES):
    """Run each submitted notebook and score its check cells: {path: (points, max_points, lines)}.

    A submission is compared with the students' version of the same file name in ``folder``.
    """
    import nbformat
    results = {}
    for path in map(pathlib.Path, paths):
        handed_out = pathlib.Path(folder) / path.name
        reference = nbformat.read(handed_out, as_version=4) if handed_out.exists() else None
        results[path] = score(run_notebook(path, timeout), reference)
    return results


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
                        help='run these submitted notebooks and score their check cells')
    parser.add_argument('--profile', default='quick',
                        help='run profile for --grade (the checks do not depend on it); '
                             'default: %(default)s')
    args = parser.parse_args(argv)
    if args.grade:
        os.environ['D2LUTILS_PROFILE'] = args.profile  # the kernels inherit it
        for path, (points, max_points, lines) in grade(args.grade, folder=args.folder).items():
            print(f'{path}: {points:g}/{max_points:g} points from checks')
            print('\n'.join(lines))
        return 0
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


if __name__ == '__main__':
    sys.exit(main())
