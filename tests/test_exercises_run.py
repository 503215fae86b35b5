"""Run the students' versions of the exercise notebooks: exactly the tagged cells raise, and each
because an exercise is not solved yet (a stub's NotImplementedError, directly or through a check),
never because of a bug of the notebook.

nbval also runs these notebooks, but it accepts a raises-exception cell that does not raise; this
test does not. It runs in the 'quick' profile (conftest.py), about 10 s per notebook.
(tests/test_grader.py grades these versions and solved ones.)
"""
import pathlib
import re

import nbclient
import nbformat
import pytest

from d2lutils.exercises import checks, students

SOLUTIONS = students.solution_paths()


def is_assertion(ename):
    """AssertionError, or the checks' own subclass of it (what nbgrader counts on)."""
    return ename == 'AssertionError' or issubclass(getattr(checks, ename, type(None)), AssertionError)


def assigned_before(name, sources):
    # `name = ...` or `a, name = ...`, at the start of a line
    pattern = rf'^\s*(\w+\s*,\s*)*{re.escape(name)}\s*(,[^=]*)?=(?!=)'
    return any(re.search(pattern, s, re.M) for s in sources)


def run_notebook(path, timeout):
    """Execute a notebook in a fresh kernel, errors allowed, in its own folder; return it."""
    path = pathlib.Path(path)
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name='python3',
                            resources={'metadata': {'path': str(path.parent)}}).execute()
    return nb


@pytest.mark.parametrize('path', SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_exactly_the_exercise_cells_raise(path):
    nb = run_notebook(students.student_path(path), timeout=600)
    raised_sources = []
    for cell in nb.cells:
        if cell.cell_type != 'code':
            continue
        errors = [o for o in cell.outputs if o.output_type == 'error']
        tagged = students.RAISES in cell.metadata.get('tags', [])
        assert bool(errors) == tagged, (
            f'{"raised" if errors else "did not raise"} but is '
            f'{"" if tagged else "not "}tagged {students.RAISES}:\n{cell.source[:300]}\n'
            + ('\n'.join(errors[0].traceback)[-2000:] if errors else ''))
        if errors:
            ename, evalue = errors[0].ename, errors[0].evalue
            if ename == 'NameError':  # a name the previous, failing exercise cell was to define
                name = re.search(r"name '(\w+)' is not defined", evalue).group(1)
                assert assigned_before(name, raised_sources), evalue
            else:
                assert ename == 'NotImplementedError' or (
                    is_assertion(ename) and 'NotImplementedError' in evalue), (ename, evalue)
            raised_sources.append(cell.source)
