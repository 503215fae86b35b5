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

The command line (``python -m d2lutils.exercises``, in ``__main__``) writes them or says which are out
of date. Each solution notebook names its assignment in its metadata (``d2lutils.assignment``, the
file's stem); the students' version keeps it, and so does nbgrader's release, so that the grader
(``d2lutils/exercises/grading.py``) can tell which teacher's copy a submission belongs to whatever
its file is called.
"""
import copy
import pathlib
import re
from typing import Annotated

from d2lutils import arguments
from d2lutils.arguments import Check, checked

BEGIN, END = '### BEGIN SOLUTION', '### END SOLUTION'
CODE_STUB = ('# YOUR CODE HERE', 'raise NotImplementedError()')
TEXT_STUB = 'YOUR ANSWER HERE'
RAISES = 'raises-exception'
USES_SOLUTION = 'uses-solution'

EXERCISES = pathlib.Path(__file__).resolve().parents[2] / 'chapters' / 'exercises'


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


# A notebook as nbformat reads it, and one of its cells: what the generator and the grader handle.
Notebook = Annotated[object, Check(arguments.instance_of, cls='nbformat.NotebookNode',
                                   allowed='a notebook read with nbformat.read(path, as_version=4)')]
Cell = Annotated[dict, Check(arguments.mapping, allowed='a notebook cell (a dict, e.g. nb.cells[0])')]


@checked
def nbgrader_meta(cell: Cell):
    """The cell's nbgrader metadata ({} if it has none)."""
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


@checked
def student_notebook(solution: Notebook):
    """The students' version of a solution notebook (an nbformat NotebookNode); the input is kept."""
    nb = copy.deepcopy(solution)
    # Only what does not change when the solution is executed again (book/normalize.py fixes the
    # kernelspec and language_info), so that re-executing a solution never makes its students'
    # version out of date; language_info as JupyterLab writes it, so the version opens unmodified.
    kept = ('kernelspec', 'language_info', 'd2lutils')
    nb.metadata = {key: value for key, value in nb.metadata.items() if key in kept}
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
