"""The grader (``python -m d2lutils.exercises --grade``) on generated submissions: right, wrong,
cheating and broken ones.

The points, the check cells and the graded cells must come from the teacher's copy; a submission
must not be able to grade itself; a broken submission must cost only its own score. The tests
that run kernels grade one batch of bottleneck submissions (the quicker exercise; its stubs fail
in a second), in the 'quick' profile, with the screen off so that each cheat meets the in-kernel
guard alone, and two short command-line runs with the screen on. About 90 s on a shared 2-core
machine.
"""
import csv
import json
import re

import nbformat
import pytest

from d2lutils.exercises import __main__ as command_line, grading, students

BOTTLENECK, PREACT = students.solution_paths()
MAX_CHECKS = 9  # check-bottleneck 6 + check-resnet50 3, from the teacher's copy


def read(path):
    return nbformat.read(path, as_version=4)


def handed_out(solution_path=BOTTLENECK):
    return read(students.student_path(solution_path))


def solved(solution_path=BOTTLENECK, **answers):
    """The handed-out notebook with every solution cell filled in from the teacher's solution
    (markers removed), or with ``answers[grade_id]`` where given (underscores for dashes)."""
    solution = grading.graded_cells(read(solution_path))
    nb = handed_out(solution_path)
    for cell in nb.cells:
        grade_id = students.nbgrader_meta(cell).get('grade_id')
        if students.nbgrader_meta(cell).get('solution'):
            source = solution[grade_id].source
            cell.source = answers.get(grade_id.replace('-', '_'), '\n'.join(
                line for line in source.split('\n')
                if line.strip() not in (students.BEGIN, students.END)))
    return nb


def with_cell(nb, source, at=None):
    cell = nbformat.v4.new_code_cell(source)
    nb.cells.insert(len(nb.cells) if at is None else at, cell)
    return nb


def cell_by_id(nb, grade_id):
    return next(c for c in nb.cells if students.nbgrader_meta(c).get('grade_id') == grade_id)


def points_by_cell(result):
    return {c.grade_id: (c.kind, c.points) for c in result.cells}


# A resnet_from_spec that builds one block fewer per stage: the bottleneck block passes its check,
# ResNet-50 fails its own (a parameter count that differs from the reference).
ONE_BLOCK_SHORT = cell_by_id(solved(), 'resnet-from-spec').source.replace(
    'range(num_blocks - 1)', 'range(num_blocks - 2)')


# A bottleneck block without the ReLU after the addition: wrong, but it builds and runs.
NO_FINAL_RELU = cell_by_id(solved(), 'bottleneck-block').source.replace(
    'return self.relu(y + x)', 'return y + x')


def test_the_wrong_answers_are_really_changed():
    assert 'range(num_blocks - 2)' in ONE_BLOCK_SHORT and 'return y + x' in NO_FINAL_RELU


# --- no kernel: how a submission is put together before it runs ------------------------------

def test_teacher_cells_replace_edited_inflated_and_deleted_ones():
    teacher = handed_out()
    nb = solved()
    check = cell_by_id(nb, 'check-bottleneck')
    check.source = "print('passed')"
    check.metadata['nbgrader']['points'] = 100
    cell_by_id(nb, 'discuss-bottleneck').metadata['nbgrader']['points'] = 50
    nb.cells.remove(cell_by_id(nb, 'check-resnet50'))
    extra = with_cell(nb, 'x = 1').cells[-1]
    extra.metadata['nbgrader'] = {'grade': True, 'grade_id': 'bonus', 'points': 99,
                                  'locked': True, 'solution': False, 'schema_version': 3}
    duplicate = nbformat.from_dict(json.loads(json.dumps(cell_by_id(nb, 'check-bottleneck'))))
    duplicate.source = 'pass'
    nb.cells.append(duplicate)

    rebuilt = grading.with_teacher_cells(nb, teacher)
    ids = [students.nbgrader_meta(c).get('grade_id') for c in rebuilt.cells
           if students.nbgrader_meta(c)]
    assert ids == list(grading.graded_cells(teacher))  # bonus and the duplicate are not graded
    for grade_id, cell in grading.graded_cells(teacher).items():
        assert students.nbgrader_meta(cell_by_id(rebuilt, grade_id)) == students.nbgrader_meta(cell)
    assert cell_by_id(rebuilt, 'check-bottleneck').source == 'checks.check_bottleneck(Bottleneck)'
    # the deleted check comes back right after the graded cell before it, as nbgrader does
    position = {id(c): i for i, c in enumerate(rebuilt.cells)}
    assert position[id(cell_by_id(rebuilt, 'check-resnet50'))] == \
        position[id(cell_by_id(rebuilt, 'resnet-from-spec'))] + 1
    # the student's answers stay
    assert 'inner = num_channels // 4' in cell_by_id(rebuilt, 'bottleneck-block').source


@pytest.mark.parametrize('path', [BOTTLENECK, PREACT], ids=['bottleneck', 'preactivation'])
def test_screen_passes_the_solutions_and_the_handed_out_versions(path):
    teacher = read(path)
    assert grading.screen(solved(path), teacher) == []
    assert grading.screen(handed_out(path), teacher) == []


@pytest.mark.parametrize('code', [
    'checks.check_bottleneck = lambda cls: None',
    'import d2lutils.students.checks\nd2lutils.students.checks.check_resnet = print',
    'setattr(checks, "check_bottleneck", print)',
    'import sys\nsys.modules["d2lutils.students.checks"] = None',
    'import importlib',
    'from importlib import reload',
    'import builtins',
    '__builtins__.isinstance = lambda *a: True',
    'get_ipython().showtraceback = lambda *a, **k: None',
    '%load_ext autoreload',
    '!sed -i s/assert/pass/ checks.py',
    'exec("import sys")',
    'eval("1")',
    'globals()["checks"] = None',
    'open("/tmp/x", "w")',
    'from d2lutils.models import Bottleneck',
    'Bottleneck = models.Bottleneck',
    'class Bottleneck(models.Bottleneck):\n    pass',
    'x = (1).__class__.__base__.__subclasses__()',
    'f = print.__self__',
    'getattr(models, "Bottle" + "neck")',
    'from unittest import mock',
    'import os\nos._exit(0)',
])
def test_screen_flags_tampering(code):
    nb = with_cell(solved(), code)
    findings = grading.screen(nb, read(BOTTLENECK))
    assert findings and all(f.startswith(f'cell {len(nb.cells)}, line ') for f in findings)


@pytest.mark.parametrize('code', [
    'class B(nn.HybridBlock):\n    def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n'
    '        setattr(self, "conv0", nn.Conv2D(8, 1))\n    def forward(self, x):\n'
    '        return npx.relu(self.conv0(x))',
    'print(type(Bottleneck).__name__, models.count_parameters(resnet50))',
    'checks.check_bottleneck(Bottleneck)  # running a check again is fine',
])
def test_screen_leaves_ordinary_code_alone(code):
    assert grading.screen(with_cell(solved(), code), read(BOTTLENECK)) == []


@pytest.mark.parametrize('metadata', [{}, {'d2lutils': {'assignment': 'resnet-homework'}}],
                         ids=['none', 'unknown'])
def test_a_notebook_of_no_known_assignment_fails_before_it_runs(tmp_path, metadata):
    nb = solved()
    nb.metadata = {'kernelspec': nb.metadata['kernelspec'], **metadata}
    path = tmp_path / 'bottleneck.ipynb'  # the right file name does not help
    nbformat.write(nb, path)
    result = grading.grade_submission(path)
    assert result.status == 'failed' and 'no known assignment' in result.message
    assert 'bottleneck' in result.message and 'preactivation' in result.message  # the known ones


def test_guarded_check_is_python_and_ends_with_its_token():
    source = grading.guarded('assert isinstance(1, int)', ['from d2lutils.exercises import checks'],
                             'T0', grading.trusted_modules())
    tree = grading.ast.parse(source)
    assert grading.ast.unparse(tree.body[-1]) == "print('T0')"
    assert 'del isinstance' in source and 'del print' in source


def test_refuses_root_unless_allowed_and_always_warns(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grading.os, 'geteuid', lambda: 0)
    out = tmp_path / 'grades.csv'
    assert command_line.main(['--grade', str(BOTTLENECK), '--output', str(out)]) == 2
    err = capsys.readouterr().err
    assert 'WARNING' in err and 'student code' in err.lower() and '--allow-root' in err
    assert not out.exists()
    monkeypatch.setattr(grading.os, 'geteuid', lambda: 1000)
    assert command_line.main(['--grade', str(tmp_path / 'missing.ipynb'), '--output', str(out)]) == 1
    assert 'WARNING' in capsys.readouterr().err
    assert list(csv.DictReader(out.open()))[0]['status'] == 'failed'


def test_results_as_json(tmp_path):
    out = tmp_path / 'grades.json'
    results = [grading.Result('a.ipynb', 'bottleneck', 'graded', 6, 9, 2,
                              cells=[grading.CellGrade('check-bottleneck', 'check', 6, 6)])]
    grading.write_results(results, out)
    assert grading.Result.from_json(json.loads(out.read_text())[0]) == results[0]


# --- kernels: one batch of submissions, the screen off ------------------------------------------

def unsolved_with(code):
    return with_cell(handed_out(), code, at=2)


def edited_and_deleted(nb):
    """check-bottleneck edited (and its points inflated), check-resnet50 deleted."""
    check = cell_by_id(nb, 'check-bottleneck')
    check.source = "print('all checks passed')"
    check.metadata['nbgrader']['points'] = 100
    nb.cells.remove(cell_by_id(nb, 'check-resnet50'))
    return nb


def as_bottleneck(nb):
    """Another assignment's notebook (the pre-activation one, solved, without its training runs)
    that claims to be the bottleneck exercise."""
    nb.cells = [c for c in nb.cells if students.USES_SOLUTION not in c.metadata.get('tags', [])]
    nb.metadata['d2lutils'] = {'assignment': 'bottleneck'}
    return nb


def only_metadata(nb):
    nb.cells = []
    return nb


FAKE_CHECKS = 'check_bottleneck = check_resnet = staticmethod(lambda *args, **kwargs: None)'
SUBMISSIONS = {
    'alice-bottleneck.ipynb': lambda: solved(),  # renamed: graded by its metadata
    'wrong.ipynb': lambda: solved(resnet_from_spec=ONE_BLOCK_SHORT,
                                  discuss_bottleneck=cell_by_id(handed_out(),
                                                                'discuss-bottleneck').source),
    'not-json.ipynb': '{"cells": [',
    'dies.ipynb': lambda: with_cell(solved(), 'import os\nos._exit(1)', at=2),
    'not-a-notebook.ipynb': '{"cells": 3}',
    'cheat-monkeypatch.ipynb': lambda: unsolved_with(
        'checks.check_bottleneck = checks.check_resnet = lambda *args, **kwargs: None'),
    'cheat-sys-modules.ipynb': lambda: unsolved_with(
        'import importlib, sys, types, d2lutils.exercises\n'
        'fake = types.ModuleType("d2lutils.students.checks")\n'
        'fake.check_bottleneck = fake.check_resnet = lambda *args, **kwargs: None\n'
        'sys.modules["d2lutils.students.checks"] = d2lutils.students.checks = fake\n'
        'importlib.reload = importlib.import_module = lambda *args, **kwargs: fake'),
    'cheat-rebinding.ipynb': lambda: unsolved_with(
        f'class checks:\n    {FAKE_CHECKS}\n\n\nisinstance = lambda *args: True'),
    'cheat-reference.ipynb': lambda: with_cell(solved(bottleneck_block=NO_FINAL_RELU),
                                               'models.Bottleneck = Bottleneck', at=2),
    'cheat-hidden-error.ipynb': lambda: unsolved_with(
        'get_ipython().showtraceback = lambda *args, **kwargs: None'),
    'cheat-edited-deleted.ipynb': lambda: edited_and_deleted(handed_out()),
    'cheat-other-assignment.ipynb': lambda: as_bottleneck(solved(PREACT)),
    'never-ends.ipynb': lambda: with_cell(only_metadata(handed_out()), 'while True:\n    pass'),
    'only-metadata.ipynb': lambda: only_metadata(handed_out()),
}
BATCH = [n for n in SUBMISSIONS if n not in ('never-ends.ipynb', 'only-metadata.ipynb')]
TIMEOUT = 40  # per cell: the slowest bottleneck cell takes about 2 s on a quiet machine


def write_submissions(folder, names):
    paths = []
    for name in names:
        make, path = SUBMISSIONS[name], folder / name
        if isinstance(make, str):
            path.write_text(make)
        else:
            nbformat.write(make(), path)
        paths.append(path)
    return paths


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp('submitted')
    out = folder / 'grades.csv'
    rows_when_reported = []

    def echo(report, **_):
        rows_when_reported.append(len(list(csv.DictReader(out.open()))))

    results = grading.grade(write_submissions(folder, BATCH), out, timeout=TIMEOUT,
                            use_screen=False, echo=echo)
    return {pathlib_name(r.submission): r for r in results}, out, rows_when_reported


def pathlib_name(path):
    return re.split(r'[\\/]', path)[-1]


def test_batch_grades_every_submission_and_writes_as_it_goes(batch):
    results, out, rows_when_reported = batch
    assert list(results) == BATCH
    assert rows_when_reported == list(range(1, len(BATCH) + 1))
    rows = {pathlib_name(r['submission']): r for r in csv.DictReader(out.open())}
    assert rows['alice-bottleneck.ipynb']['points'] == '9.0'
    assert rows['dies.ipynb']['status'] == 'failed'


def test_right_submission_gets_every_check_point(batch):
    result = batch[0]['alice-bottleneck.ipynb']
    assert (result.status, result.assignment, result.points, result.max_points, result.by_hand) == \
        ('graded', 'bottleneck', MAX_CHECKS, MAX_CHECKS, 2)
    assert points_by_cell(result)['discuss-bottleneck'] == ('by hand', 0)


def test_wrong_submission_loses_the_failing_check_only(batch):
    result = batch[0]['wrong.ipynb']
    assert result.status == 'graded'
    assert points_by_cell(result) == {'check-bottleneck': ('check', 6), 'check-resnet50': ('check', 0),
                                      'discuss-bottleneck': ('unanswered', 0)}
    assert 'parameters' in next(c.note for c in result.cells if c.grade_id == 'check-resnet50')


@pytest.mark.parametrize('name, why', [('not-json.ipynb', 'not a readable notebook'),
                                       ('not-a-notebook.ipynb', 'not a readable notebook'),
                                       ('dies.ipynb', 'kernel died')])
def test_broken_submission_fails_alone(batch, name, why):
    result = batch[0][name]
    assert result.status == 'failed' and why in result.message and result.points == 0


@pytest.mark.parametrize('name', [n for n in BATCH
                                  if n.startswith('cheat-') and n != 'cheat-reference.ipynb'])
def test_cheats_earn_nothing(batch, name):
    result = batch[0][name]
    assert (result.assignment, result.points, result.max_points) == ('bottleneck', 0, MAX_CHECKS)
    assert [c.grade_id for c in result.cells] == ['check-bottleneck', 'check-resnet50',
                                                  'discuss-bottleneck']


def test_patched_reference_block_is_put_back(batch):
    """The block lacks its last ReLU and the submission makes it the reference: the guard reloads
    d2lutils.models, so the check compares with the real reference again."""
    assert points_by_cell(batch[0]['cheat-reference.ipynb'])['check-bottleneck'] == ('check', 0)


def test_hidden_error_is_caught_by_the_missing_token(batch):
    """No error shows for at least one check, yet it earns nothing: its token never printed."""
    notes = [c.note for c in batch[0]['cheat-hidden-error.ipynb'].cells if c.kind == 'check']
    assert any('did not finish' in n for n in notes)


# --- the command line, with the screen on ---------------------------------------------------------

def test_a_cell_that_never_ends_is_stopped(tmp_path):
    """Only the student's loop is in the notebook; the teacher's cells are put back before it."""
    path, = write_submissions(tmp_path, ['never-ends.ipynb'])
    result, = grading.grade([path], tmp_path / 'grades.csv', timeout=20, echo=lambda *a, **k: None)
    assert result.status == 'failed' and '--timeout 20' in result.message


def test_command_line_exit_status_and_screen(tmp_path, capsys):
    """A clean batch exits 0; one with a flagged or broken submission exits 1. The flagged cheat
    replaces builtins.exec, which beats the in-kernel guard: only the screen stops it."""
    empty, = write_submissions(tmp_path, ['only-metadata.ipynb'])
    out = tmp_path / 'grades.json'
    assert command_line.main(['--grade', str(empty), '--output', str(out), '--allow-root',
                           '--timeout', str(TIMEOUT)]) == 0
    graded, = json.loads(out.read_text())
    assert (graded['status'], graded['points'], graded['max_points']) == ('graded', 0, MAX_CHECKS)

    cheat = tmp_path / 'cheat-exec.ipynb'
    nbformat.write(unsolved_with(
        'import builtins\nreal_exec = builtins.exec\n'
        'def exec_and_fake(code, namespace=None, *rest):\n'
        '    real_exec(code, namespace, *rest)\n'
        '    if namespace is not None and namespace.get("__name__") == "d2lutils.students.checks":\n'
        '        namespace["check_bottleneck"] = namespace["check_resnet"] = lambda *a, **k: None\n'
        'builtins.exec = exec_and_fake'), cheat)
    broken, = write_submissions(tmp_path, ['not-json.ipynb'])
    assert command_line.main(['--grade', str(cheat), str(broken), '--output', str(out),
                           '--allow-root', '--timeout', str(TIMEOUT)]) == 1
    flagged, failed = json.loads(out.read_text())
    assert flagged['status'] == 'review' and flagged['points'] == 0
    assert 'imports builtins' in flagged['message']
    assert failed['status'] == 'failed'
    assert '2 submissions, 2 failed or to review' in capsys.readouterr().out
