"""Solutions and students' versions of the exercise notebooks: nbgrader's conventions, in sync.

The solution notebooks (chapters/exercises/solutions/) are the source; ``python -m
d2lutils.exercises`` generates the students' versions (chapters/exercises/). These tests fail when a
students' version has drifted from its solution, when a notebook breaks nbgrader's conventions, or
when the raises-exception tags are not exactly on the cells that cannot run before the exercises are
solved. (tests/test_exercises_run.py runs the students' versions and checks which cells raise.)
"""
import json

import nbformat
import pytest

from d2lutils.exercises import __main__ as command_line, students

SOLUTIONS = students.solution_paths()
NAMES = [p.name for p in SOLUTIONS]


def cells(path):
    return nbformat.read(path, as_version=4).cells


def test_both_exercises_exist():
    assert NAMES == ['bottleneck.ipynb', 'preactivation.ipynb']
    for path in SOLUTIONS:
        assert students.student_path(path).exists(), 'run: python -m d2lutils.exercises'


def test_students_versions_are_up_to_date():
    stale = students.out_of_date()
    assert not stale, f'out of date: {stale}; regenerate with: python -m d2lutils.exercises'


def test_check_command_exit_codes(tmp_path, capsys):
    assert command_line.main(['--check']) == 0
    (tmp_path / 'solutions').mkdir()
    for path in SOLUTIONS:
        (tmp_path / 'solutions' / path.name).write_bytes(path.read_bytes())
        (tmp_path / path.name).write_bytes(students.student_path(path).read_bytes())
    assert command_line.main(['--check', '--folder', str(tmp_path)]) == 0
    stale = tmp_path / 'bottleneck.ipynb'
    stale.write_text(stale.read_text().replace('YOUR CODE HERE', 'my code'))
    assert command_line.main(['--check', '--folder', str(tmp_path)]) == 1
    assert 'out of date' in capsys.readouterr().out
    assert command_line.main(['--folder', str(tmp_path)]) == 0
    assert students.out_of_date(tmp_path) == []


@pytest.mark.parametrize('path', SOLUTIONS, ids=NAMES)
def test_solution_follows_nbgrader_conventions(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == 'python3'
    ids = []
    for cell in nb.cells:
        meta = students.nbgrader_meta(cell)
        has_region = students.BEGIN in cell.source
        assert cell.source.count(students.BEGIN) == cell.source.count(students.END)
        if has_region:
            assert meta.get('solution'), f'solution region outside a solution cell:\n{cell.source}'
        if meta:
            assert meta['schema_version'] == 3 and meta['grade_id']
            ids.append(meta['grade_id'])
            if meta.get('solution'):
                assert has_region, f'{meta["grade_id"]}: a solution cell without a solution region'
                assert not meta['locked']
            if meta.get('grade'):
                assert meta['points'] > 0
            if students.is_check_cell(cell):
                assert meta['locked'], f'{meta["grade_id"]}: check cells are locked'
                assert 'checks.check_' in cell.source or 'assert' in cell.source
    assert len(ids) == len(set(ids)), 'grade_ids must be unique'
    kinds = [students.is_check_cell(c) for c in nb.cells if students.nbgrader_meta(c)]
    assert kinds.count(True) >= 2, 'each notebook has at least two check cells'


@pytest.mark.parametrize('path', SOLUTIONS, ids=NAMES)
def test_solution_is_committed_executed_without_errors(path):
    for cell in cells(path):
        if cell.cell_type == 'code':
            assert cell.execution_count is not None, f'not executed:\n{cell.source[:200]}'
            assert not [o for o in cell.outputs if o.output_type == 'error'], cell.source[:200]


@pytest.mark.parametrize('path', SOLUTIONS, ids=NAMES)
def test_check_cells_call_the_library_checks(path):
    sources = [c.source for c in cells(path) if students.is_check_cell(c)]
    name = 'checks.check_bottleneck(Bottleneck)' if 'bottleneck' in path.name \
        else 'checks.check_preact(PreActResidual)'
    assert any(name in s for s in sources)


@pytest.mark.parametrize('path', SOLUTIONS, ids=NAMES)
def test_students_version_has_stubs_no_solutions_no_outputs(path):
    solution, student = cells(path), cells(students.student_path(path))
    assert len(solution) == len(student)
    text = json.dumps([c.source for c in student])
    assert students.BEGIN not in text and students.END not in text
    for sol, stu in zip(solution, student):
        assert sol.get('id') == stu.get('id') and sol.cell_type == stu.cell_type
        assert students.nbgrader_meta(sol) == students.nbgrader_meta(stu)
        if stu.cell_type == 'code':
            assert stu.outputs == [] and stu.execution_count is None
        if students.BEGIN in sol.source:
            stub = 'raise NotImplementedError()' if sol.cell_type == 'code' else 'YOUR ANSWER HERE'
            assert stu.source.count(stub) == sol.source.count(students.BEGIN)
        else:
            assert sol.source == stu.source


@pytest.mark.parametrize('path', SOLUTIONS, ids=NAMES)
def test_raises_exception_tags_exactly_on_exercise_cells(path):
    """Tagged: check cells and cells that use the student's code; nothing else."""
    solution, student = cells(path), cells(students.student_path(path))
    for sol, stu in zip(solution, student):
        tagged = students.RAISES in stu.metadata.get('tags', [])
        expected = stu.cell_type == 'code' and (
            students.is_check_cell(sol) or students.USES_SOLUTION in sol.metadata.get('tags', []))
        assert tagged == expected, stu.source[:200]
        assert students.RAISES not in sol.metadata.get('tags', []), 'solutions run without errors'


def test_clear_solutions_keeps_indentation_and_text():
    source = ('class A:\n    def f(self):\n        ### BEGIN SOLUTION\n        return 1\n'
              '        ### END SOLUTION\n\nx = 1')
    cleared, indents = students.clear_solutions(source)
    assert cleared == ('class A:\n    def f(self):\n        # YOUR CODE HERE\n'
                       '        raise NotImplementedError()\n\nx = 1')
    assert indents == ['        ']
    cleared, _ = students.clear_solutions('Answer:\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION',
                                           'markdown')
    assert cleared == 'Answer:\nYOUR ANSWER HERE'


def test_top_level_stub_counts_as_raising():
    cell = nbformat.v4.new_code_cell('### BEGIN SOLUTION\nx = 1\n### END SOLUTION')
    stu = students.student_notebook(nbformat.v4.new_notebook(cells=[cell])).cells[0]
    assert stu.metadata['tags'] == [students.RAISES]


@pytest.mark.parametrize('source', ['### BEGIN SOLUTION\nx = 1', 'x = 1\n### END SOLUTION',
                                    '### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION'])
def test_unbalanced_markers_are_an_error(source):
    with pytest.raises(students.SolutionMarkerError):
        students.clear_solutions(source)


@pytest.mark.parametrize('line', ['### begin solution', '### BEGIN SOLUTIONS', '## BEGIN SOLUTION',
                                  '###BEGIN SOLUTION', '# END_SOLUTION', 'x = 1  ### BEGIN SOLUTION',
                                  '### End Solution'])
def test_a_marker_in_another_spelling_is_an_error(line):
    """nbgrader takes any line containing BEGIN SOLUTION as a marker; we take only the exact line,
    so a near miss must stop the generator rather than leave a solution in the students' version."""
    with pytest.raises(students.SolutionMarkerError, match='looks like a solution marker'):
        students.clear_solutions(f'### BEGIN SOLUTION\nsecret = 1\n### END SOLUTION\n{line}\nsecret = 2')
    cell = nbformat.v4.new_code_cell(f'{line}\nsecret = 3')  # no exact marker in the cell at all
    with pytest.raises(students.SolutionMarkerError):
        students.student_notebook(nbformat.v4.new_notebook(cells=[cell]))


def test_check_on_a_folder_without_solutions_is_an_error(tmp_path, capsys):
    assert command_line.main(['--check', '--folder', str(tmp_path)]) == 2
    assert 'no solution notebooks' in capsys.readouterr().err
    assert command_line.main(['--folder', str(tmp_path)]) == 2


@pytest.mark.parametrize('path', SOLUTIONS, ids=NAMES)
def test_assignment_id_is_in_both_versions(path):
    """The grader tells assignments apart by this metadata, never by a submission's file name."""
    for version in (path, students.student_path(path)):
        assert nbformat.read(version, as_version=4).metadata['d2lutils'] == {'assignment': path.stem}


def test_a_solution_without_assignment_id_is_an_error(tmp_path, capsys):
    (tmp_path / 'solutions').mkdir()
    nb = nbformat.read(SOLUTIONS[0], as_version=4)
    del nb.metadata['d2lutils']
    nbformat.write(nb, tmp_path / 'solutions' / SOLUTIONS[0].name)
    assert command_line.main(['--folder', str(tmp_path)]) == 2
    assert '"assignment"' in capsys.readouterr().err


@pytest.mark.parametrize('path', SOLUTIONS, ids=NAMES)
def test_training_cells_print_the_profile_first(path):
    """CONTRIBUTING.md: a training cell starts with NBVAL_IGNORE_OUTPUT and prints the profile
    before it trains (here a cell that calls a ``prepare``d network's ``start()``)."""
    import re
    for cell in cells(path):
        if cell.cell_type != 'code' or not re.search(r'\bstart\(\)', cell.source) \
                or re.search(r'^\s*def start\(', cell.source, re.M):
            continue
        code = [line for line in cell.source.splitlines() if not line.lstrip().startswith('#')]
        assert cell.source.startswith('# NBVAL_IGNORE_OUTPUT'), cell.source[:200]
        assert re.match(r'print\((run|profile)\)', code[0]), cell.source[:200]
