"""The grader (``python -m d2lutils.exercises --grade``) against right, wrong, broken and cheating
submissions, and against submissions that try to harm the batch.

The red team's attacks on the grader before issue 20, each generated as a submission (or as forged
answers) and each required to score 0 on the checks it attacks or to be reported as not the
student's work:

- reaching the reference block: an alias of ``models``, the class of a block inside
  ``models.resnet(...)``, names imported from ``d2lutils.exercises.checks``, the v1.5 reference the
  checks build, ``exec`` of the package's source (``REACH``, run against the grading-time view of
  the package, and one of them in the sandbox batch);
- making a wrong block pass: NumPy's comparisons replaced through an alias of ``setattr``, an array
  subclass whose ``__array_function__`` answers "equal" (``cheat-compare``), answers written
  straight into the answers folder, replayed from other inputs, or malformed (``forged_*``);
- skipping the check: ``d2l.sys``, a trace function that rebinds ``checks``, a fake ``d2lutils``
  in ``sys.modules``, errors hidden and the input history read (``cheat-skip``);
- harming the batch: rewriting the package's files and the teacher's copy, rewriting the other
  submissions found through ``/proc``, a detached process that edits the results file after the
  grader is done, a fork bomb, unbounded output (``vandal``, ``flood``), a time limit that grows
  with the submission's cells (``test_the_time_limit_comes_from_the_teacher``).

The fair habits the old screen punished (``%%time``, ``%timeit``, ``nn.Conv2D?``, ``!pip list``,
``blk.__class__.__name__``, a local ``data``) must grade in full (``fair-habits``).

The sandboxed tests skip, saying why, where bubblewrap cannot make a sandbox. The batch runs about
a dozen lean submissions (without the ungraded cells after the checks): about 2-3 minutes on a
shared 2-core machine.
"""
import csv
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

import nbformat
import pytest

from d2lutils.exercises import __main__ as command_line, answers, grading, sandbox, students

BOTTLENECK, PREACT = students.solution_paths()
MAX_CHECKS = 9  # check-bottleneck 6 + check-resnet50 3, from the teacher's copy
NO_SANDBOX = sandbox.available()
needs_sandbox = pytest.mark.skipif(bool(NO_SANDBOX), reason=f'no sandbox here: {NO_SANDBOX}')


def read(path):
    return nbformat.read(path, as_version=4)


def handed_out(solution_path=BOTTLENECK):
    return read(students.student_path(solution_path))


def solution_source(grade_id, solution_path=BOTTLENECK):
    source = grading.graded_cells(read(solution_path))[grade_id].source
    return '\n'.join(line for line in source.split('\n')
                     if line.strip() not in (students.BEGIN, students.END))


def solved(solution_path=BOTTLENECK, **answers_by_id):
    """The handed-out notebook with every solution cell filled in from the teacher's solution
    (markers removed), or with ``answers_by_id[grade_id]`` where given (underscores for dashes)."""
    nb = handed_out(solution_path)
    for cell in nb.cells:
        grade_id = students.nbgrader_meta(cell).get('grade_id')
        if students.nbgrader_meta(cell).get('solution'):
            cell.source = answers_by_id.get(grade_id.replace('-', '_'),
                                            solution_source(grade_id, solution_path))
    return nb


def with_cell(nb, source, at=None):
    cell = nbformat.v4.new_code_cell(source)
    nb.cells.insert(len(nb.cells) if at is None else at, cell)
    return nb


def after(nb, grade_id, source):
    """``nb`` with a cell of ``source`` right after the graded cell ``grade_id``."""
    at = next(i for i, c in enumerate(nb.cells)
              if students.nbgrader_meta(c).get('grade_id') == grade_id)
    return with_cell(nb, source, at + 1)


def lean(nb):
    """Only the cells up to the last graded one: the ungraded experiments after it cost time."""
    last = max(i for i, c in enumerate(nb.cells) if students.nbgrader_meta(c).get('grade'))
    nb.cells = nb.cells[:last + 1]
    return nb


def cell_by_id(nb, grade_id):
    return next(c for c in nb.cells if students.nbgrader_meta(c).get('grade_id') == grade_id)


def points_by_cell(result):
    return {c.grade_id: (c.kind, c.points) for c in result.cells}


SOLVED_BLOCK = solution_source('bottleneck-block')
# A resnet_from_spec that builds one block fewer per stage: the bottleneck block passes its check,
# ResNet-50 fails its own (a parameter count that differs from the reference).
ONE_BLOCK_SHORT = solution_source('resnet-from-spec').replace('range(num_blocks - 1)',
                                                              'range(num_blocks - 2)')
# A bottleneck block without the ReLU after the addition: wrong, but it builds and runs.
NO_FINAL_RELU = SOLVED_BLOCK.replace('return self.relu(y + x)', 'return y + x')


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


def test_the_checks_each_cell_calls_come_from_the_teacher():
    plan = grading.plan_checks(read(BOTTLENECK))
    assert plan == {'check-bottleneck': [('check_bottleneck', 'Bottleneck', ())],
                    'check-resnet50': [('check_resnet', 'resnet34', (34,)),
                                       ('check_resnet', 'resnet50', (50,))]}
    assert grading.plan_checks(read(PREACT))['check-small-resnet'] == []  # plain asserts


@pytest.mark.parametrize('path', [BOTTLENECK, PREACT], ids=['bottleneck', 'preactivation'])
def test_screen_is_quiet_on_the_solutions_and_the_handed_out_versions(path):
    teacher = read(path)
    assert grading.screen(solved(path), teacher) == []
    assert grading.screen(handed_out(path), teacher) == []


@pytest.mark.parametrize('code', [
    'checks.check_bottleneck = lambda cls: None',
    'setattr(checks, "check_bottleneck", print)',
    'import sys\nsys.modules["d2lutils.exercises.checks"] = None',
    'import importlib',
    'from importlib import reload',
    'import builtins',
    '__builtins__.isinstance = lambda *a: True',
    'get_ipython().showtraceback = lambda *a, **k: None',
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
def test_screen_lists_code_worth_reading(code):
    """Advice for the teacher, in the report; it takes no points (the batch below shows that)."""
    nb = with_cell(solved(), code)
    findings = grading.screen(nb, read(BOTTLENECK))
    assert findings and all(f.startswith(f'cell {len(nb.cells)}, line ') for f in findings)


FAIR_HABITS = [
    '%%time\nblk = Bottleneck(16)\nblk.initialize()',
    '%timeit -n 1 -r 1 Bottleneck(16)',
    'nn.Conv2D?',
    'Bottleneck??',
    '!pip list | head -3',
    'files = !ls\nprint(len(files))',
    'blk = Bottleneck(16)\nprint(blk.__class__.__name__, type(blk).__name__)',
    'for data in [np.zeros((1, 16, 8, 8))]:\n    print(data.shape)',
    'print(type(Bottleneck).__name__, models.count_parameters(resnet50))',
    'checks.check_bottleneck(Bottleneck)  # running a check again is fine',
    'class B(nn.HybridBlock):\n    def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n'
    '        setattr(self, "conv0", nn.Conv2D(8, 1))\n    def forward(self, x):\n'
    '        return npx.relu(self.conv0(x))',
]


@pytest.mark.parametrize('code', FAIR_HABITS)
def test_screen_leaves_ordinary_habits_alone(code):
    assert grading.screen(with_cell(solved(), code), read(BOTTLENECK)) == []


def test_a_local_data_is_not_the_data_module_in_the_preactivation_exercise():
    code = 'for data, label in test_iter:\n    print(data.shape, label.shape)\n    break'
    assert grading.screen(with_cell(solved(PREACT), code), read(PREACT)) == []


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


def test_the_time_limit_comes_from_the_teacher(tmp_path, monkeypatch):
    """The whole run's wall-clock limit is the same for a notebook of 3 cells and one of 3,000."""
    seen = []

    def fake_run(command, work, limits, **kwargs):
        seen.append(limits.wall_seconds)
        return sandbox.Outcome(0, '', False, 0.0)

    monkeypatch.setattr(grading.sandbox, 'run', fake_run)
    for cells in (3, 3000):
        nb = handed_out()
        nb.cells += [nbformat.v4.new_code_cell('pass') for _ in range(cells)]
        nbformat.write(nb, tmp_path / f'n{cells}.ipynb')
        grading.grade_submission(tmp_path / f'n{cells}.ipynb')
    teacher = read(BOTTLENECK)
    assert seen[0] == seen[1] == grading.time_limit(teacher, 600) >= 300


def test_the_package_view_hides_the_reference(tmp_path):
    """In the sandbox d2lutils.models.Bottleneck raises a clear error and its source is gone; the
    rest of the package (models.Residual, models.resnet of basic blocks) works."""
    view = grading.package_view(tmp_path, ['check_bottleneck', 'check_resnet'])
    source = (view / 'models.py').read_text()
    reference = (grading.PACKAGE / 'models.py').read_text()
    body = reference[reference.index('class Bottleneck'):reference.index('class PreActResidual')]
    assert 'num_channels // 4' in body and body not in source and grading.UNAVAILABLE in source
    assert 'class PreActResidual' in source  # only the assignment's reference is hidden
    assert (view / 'exercises' / 'checks.py').read_text() == \
        (grading.PACKAGE / 'exercises' / 'checks.py').read_text()


# Every way the red team reached the reference, run against the package view (as in the sandbox).
REACH = {
    'alias of models': 'm = models\nBottleneck = m.Bottleneck',
    'a block inside models.resnet': 'Bottleneck = type(models.resnet(50)[4][0])',
    'from the checks': 'from d2lutils.exercises.checks import models as m\nBottleneck = m.Bottleneck',
    'the v1.5 reference': 'Bottleneck = checks.BottleneckV15',
    'a subclass': 'class Bottleneck(models.BLOCKS[(1, "bottleneck")]):\n    pass',
    'exec of the source': ('import inspect\nns = {}\nexec(open(models.__file__).read(), ns)\n'
                           'Bottleneck = ns["Bottleneck"]'),
}


def test_no_way_to_the_reference_in_the_package_view(tmp_path):
    view = grading.package_view(tmp_path, ['check_bottleneck'])
    script = ['import json, d2lutils', 'from mxnet import npx', 'npx.set_np()',
              'from d2lutils import models', 'from d2lutils.exercises import checks', 'out = {}']
    for name, code in REACH.items():
        script += [f'try:', *(f'    {line}' for line in code.split('\n')),
                   f'    Bottleneck(16)',
                   f'    out[{name!r}] = "built"',
                   f'except Exception as error:',
                   f'    out[{name!r}] = str(error)']
    script.append('print(json.dumps(out))')
    done = subprocess.run([sys.executable, '-c', '\n'.join(script)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, 'PYTHONPATH': str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(out) == set(REACH)
    for name, what in out.items():
        assert grading.UNAVAILABLE in what, (name, what)


# --- the answers and their judgement, outside --------------------------------------------------

def test_answers_are_data_only(tmp_path):
    import numpy as onp
    answers.save(tmp_path, 'a', {'x': onp.arange(3.0), 'n': [1, 'two', None, {'y': True}]})
    back = answers.load(tmp_path, 'a')
    assert back['n'] == [1, 'two', None, {'y': True}] and list(back['x']) == [0, 1, 2]
    assert answers.load(tmp_path, 'missing') is None
    onp.save(tmp_path / 'object.npy', onp.array([object()]), allow_pickle=True)
    (tmp_path / 'b.json').write_text(json.dumps({'x': {answers.ARRAY: 'a0'}}))
    import zipfile
    with zipfile.ZipFile(tmp_path / 'b.npz', 'w') as z:  # a pickled object array inside
        z.write(tmp_path / 'object.npy', 'a0.npy')
    with pytest.raises(answers.BadAnswers):
        answers.load(tmp_path, 'b')
    (tmp_path / 'c.json').write_text('{"x": 1}')
    (tmp_path / 'c.npz').symlink_to(tmp_path / 'a.npz')
    with pytest.raises(answers.BadAnswers):
        answers.load(tmp_path, 'c')
    with pytest.raises(TypeError):
        answers.save(tmp_path, 'd', {'f': print})


def student_class(source):
    """A class defined by code as a student writes it (not from d2lutils' files)."""
    from mxnet.gluon import nn
    namespace = {'nn': nn}
    exec(compile(source, '<student cell>', 'exec'), namespace)
    return namespace['Bottleneck']


@pytest.fixture(scope='module')
def recorded():
    """Answers recorded in this process for a right and a wrong block on the grader's inputs."""
    from mxnet import npx
    from d2lutils.exercises import checks
    npx.set_np()
    seed = 1234
    inputs = checks.grading_inputs(seed)
    return {name: checks._as_data(checks.record_block(student_class(source), 'check_bottleneck',
                                                      inputs))
            for name, source in (('right', SOLVED_BLOCK), ('wrong', NO_FINAL_RELU))}, seed


def judge(data, seed, check_name='check_bottleneck', args=()):
    from d2lutils.exercises import checks
    return checks.judge(check_name, json.loads(json.dumps(data, default=lambda a: a.tolist())),
                        seed, args)


def test_judge_passes_right_answers_and_fails_wrong_ones(recorded):
    data, seed = recorded
    from d2lutils.exercises import checks
    assert 'check_bottleneck(Bottleneck): passed' in judge(data['right'], seed)
    with pytest.raises(checks.CheckFailed, match='no ReLU after the addition'):
        judge(data['wrong'], seed)


def forged_replay(data):
    return data['right']  # recorded for other inputs (say, at home): judged on the grader's


def forged_scaled(data):
    right = json.loads(json.dumps(data['right'], default=lambda a: a.tolist()))
    for row in right['settings']:
        for question in ('train', 'predict'):
            row[question]['value'][0] = [[[[v * 1.01 for v in r] for r in c] for c in b]
                                         for b in row[question]['value'][0]]
    return right


def forged_library(data):
    return {**data['right'], 'provenance': [['d2lutils.models.Bottleneck', []]]}


def forged_no_settings(data):
    return {**data['right'], 'settings': []}


def forged_other_check(data):
    return {**data['right'], 'check': 'check_preact'}


def forged_garbage(data):
    return {**data['right'], 'settings': [{'run': {'value': 'passed'}}] * 4}


@pytest.mark.parametrize('forge', [forged_replay, forged_scaled, forged_library,
                                   forged_no_settings, forged_other_check, forged_garbage])
def test_forged_answers_fail(recorded, forge, tmp_path):
    """What a student's process could write instead of honest answers: judged on the grader's
    inputs, against the reference it builds, each fails (and nothing crashes the grader)."""
    data, seed = recorded
    answers.save(tmp_path, 'check-bottleneck-0', json.loads(json.dumps(
        forge(data), default=lambda a: a.tolist())))
    judged_seed = seed + 1 if forge is forged_replay else seed
    passed, message = grading.judge_cell('check-bottleneck',
                                         [('check_bottleneck', 'Bottleneck', ())], tmp_path,
                                         judged_seed)
    assert not passed and message
    if forge is forged_library:
        assert "the library's own block" in message


def test_results_mark_answers_to_grade(tmp_path):
    results = [grading.Result('a.ipynb', 'bottleneck', 'graded', 6, 9, 2, cells=[
        grading.CellGrade('check-bottleneck', 'check', 6, 6),
        grading.CellGrade('discuss-bottleneck', 'to grade', None, 2)])]
    grading.write_results(results, tmp_path / 'grades.json')
    assert grading.Result.from_json(json.loads((tmp_path / 'grades.json').read_text())[0]) == \
        results[0]
    grading.write_results(results, tmp_path / 'grades.csv')
    row, = csv.DictReader((tmp_path / 'grades.csv').open())
    assert 'discuss-bottleneck=to grade (0-2)' in row['cells']
    assert row['to_grade'] == 'discuss-bottleneck'


def test_grading_takes_at_most_twice_as_long_as_before():
    """The measurement benchmarks/grading_time.py recorded (by hand, not timed here): 30
    bottleneck submissions, main's in-kernel grader against this one, on the same machine."""
    record = pathlib.Path(__file__).resolve().parents[1] / 'benchmarks' / 'grading_time.jsonl'
    runs = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    old = [r for r in runs if r['grader'].startswith('main')]
    new = [r for r in runs if r['grader'].startswith('issue20')]
    if not (old and new):
        pytest.skip('benchmarks/grading_time.jsonl lacks a run of main or of this grader: run '
                    'benchmarks/grading_time.py (its docstring says how)')
    old, new = old[-1], new[-1]
    assert old['submissions'] == new['submissions'] == 30
    assert new['minutes'] <= 2 * old['minutes'], (new, old)
    points = dict(map(tuple, new['points']))
    assert points['right'] == points['v15'] == MAX_CHECKS and points['unsolved'] == 0


def test_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grading.sandbox, 'available', lambda: 'bubblewrap is not installed')
    out = tmp_path / 'grades.csv'
    assert command_line.main(['--grade', str(BOTTLENECK), '--output', str(out)]) == 2
    err = capsys.readouterr().err
    assert 'no sandbox' in err and 'bubblewrap is not installed' in err and '--no-sandbox' in err
    assert not out.exists()
    monkeypatch.setattr(grading.os, 'geteuid', lambda: 0)
    assert command_line.main(['--grade', str(BOTTLENECK), '--output', str(out),
                              '--no-sandbox']) == 2
    assert '--allow-root' in capsys.readouterr().err and not out.exists()
    monkeypatch.setattr(grading.os, 'geteuid', lambda: 1000)
    assert command_line.main(['--grade', str(tmp_path / 'missing.ipynb'), '--output', str(out),
                              '--no-sandbox']) == 1
    assert 'WARNING' in capsys.readouterr().err
    assert list(csv.DictReader(out.open()))[0]['status'] == 'failed'


# --- the sandbox: one batch of submissions -----------------------------------------------------

def unsolved_with(code):
    return lean(after(handed_out(), 'bottleneck-block', code))


def wrong_with(code):
    """The block without its last ReLU, ResNet left unsolved, then ``code``."""
    return lean(after(solved(bottleneck_block=NO_FINAL_RELU,
                             resnet_from_spec=cell_by_id(handed_out(), 'resnet-from-spec').source),
                      'bottleneck-block', code))


CHEAT_COMPARE = '''\
import numpy
s = setattr
for name in ('allclose', 'array_equal', 'isclose'):
    s(numpy, name, lambda *a, **k: True)
class Agreeable(np.ndarray):
    def __array_function__(self, *args, **kwargs):
        return True
class Bottleneck(Bottleneck):
    def forward(self, x):
        return super().forward(x).view(Agreeable)
'''

CHEAT_SKIP = '''\
import sys as real_sys
fake = type(real_sys)('d2lutils.exercises.checks')
fake.check_bottleneck = fake.check_resnet = fake.begin_cell = lambda *a, **k: print('passed')
d2l.sys.modules['d2lutils.exercises.checks'] = fake
real_sys.modules['d2lutils'].exercises.checks = fake
def tracer(frame, event, arg):
    frame.f_globals['checks'] = fake
    return None
real_sys.settrace(tracer)
get_ipython().showtraceback = lambda *a, **k: None
print([line for line in In if 'grader' in line])
'''

CHEAT_FORGE = '''\
import os, json
from d2lutils.exercises import answers as a, checks as c
folder, seed = os.environ['D2LUTILS_ANSWERS'].rsplit(':', 1)
data = c._as_data(c.record_block(Bottleneck, 'check_bottleneck', c.grading_inputs(int(seed))))
data['provenance'] = []
for n in range(3):
    a.save(folder, f'check-bottleneck-{n}', data)
checks.check_bottleneck = lambda cls: print('check_bottleneck(Bottleneck): passed')
'''


def vandal(paths):
    """Tries every harm the red team found: the package and the teacher's copy rewritten, the
    other submissions (from /proc), a detached process for the results file, a fork bomb."""
    return f'''\
import os, subprocess, glob
hits = []
def attempt(what, action):
    try:
        action()
        hits.append(what)
    except Exception as error:
        pass
import d2lutils
package = os.path.dirname(d2lutils.__file__)
for name in glob.glob(package + '/**/*.py', recursive=True) + {paths['package']!r}:
    attempt(name, lambda: open(name, 'a').write('\\nraise SystemExit\\n'))
for name in {paths['others']!r} + [{paths['teacher']!r}]:
    attempt(name, lambda: open(name, 'w').write('{{}}'))
for pid in os.listdir('/proc'):
    try:
        args = open(f'/proc/{{pid}}/cmdline').read().split('\\0')
    except Exception:
        continue
    for arg in args:
        if arg.endswith(('.ipynb', '.csv', '.json')):
            attempt(arg, lambda: open(arg, 'w').write('{{}}'))
subprocess.Popen(['sh', '-c', 'sleep 1234.5; echo hacked > {paths['results']}'],
                 start_new_session=True)
children = []
for _ in range(400):
    try:
        children.append(subprocess.Popen(['sleep', '1234.6']))
    except Exception:
        break
print('written:', hits, 'processes:', len(children))
'''


# Output without end: a few megabytes more than the sandbox lets any one file hold (the notebook the
# runner writes holds it all), in lines of a megabyte.
FLOOD = (f'for _ in range({sandbox.Limits().file_bytes // 1_000_000 + 5}):\n'
         '    print("x" * 1_000_000)')


# The kernel of dies.ipynb ends in its first code cell, before the imports: a kernel that dies
# fails the same wherever it dies, and the imports cost as much as the rest of its run.
DIES_AT = 1


def submissions(folder, output):
    others = [str(folder / n) for n in ('fair-habits.ipynb', 'wrong.ipynb')]
    paths = {'package': [str(p) for p in (grading.PACKAGE / 'exercises').glob('*.py')],
             'others': others, 'teacher': str(BOTTLENECK), 'results': str(output)}
    fair = solved()
    for code in FAIR_HABITS[:8]:
        fair = after(fair, 'bottleneck-block', code)
    return {
        'fair-habits.ipynb': lean(fair),
        'wrong.ipynb': lean(solved(resnet_from_spec=ONE_BLOCK_SHORT,
                                   discuss_bottleneck=cell_by_id(handed_out(),
                                                                 'discuss-bottleneck').source)),
        'not-json.ipynb': '{"cells": [',
        'dies.ipynb': lean(with_cell(solved(), 'import os\nos._exit(1)', at=DIES_AT)),
        'cheat-reach.ipynb': unsolved_with(REACH['alias of models']),
        'cheat-compare.ipynb': wrong_with(CHEAT_COMPARE),
        'cheat-skip.ipynb': unsolved_with(CHEAT_SKIP),
        'cheat-forge.ipynb': wrong_with(CHEAT_FORGE),
        'vandal.ipynb': unsolved_with(vandal(paths)),
        'flood.ipynb': unsolved_with(FLOOD),
    }


def digest(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    if NO_SANDBOX:
        pytest.skip(f'no sandbox here: {NO_SANDBOX}')
    folder = tmp_path_factory.mktemp('submitted')
    out = folder / 'grades.csv'
    paths = []
    for name, make in submissions(folder, out).items():
        path = folder / name
        if isinstance(make, str):
            path.write_text(make)
        else:
            nbformat.write(make, path)
        paths.append(path)
    protected = [*paths, BOTTLENECK, *(grading.PACKAGE.rglob('*.py'))]
    before = {str(p): digest(p) for p in protected}
    rows_when_reported = []

    def echo(report, **_):
        rows_when_reported.append(len(list(csv.DictReader(out.open()))))

    results = grading.grade(paths, out, timeout=60, echo=echo)
    written = out.read_bytes()
    time.sleep(3)  # a detached process would have had time to act
    return {'results': {pathlib.Path(r.submission).name: r for r in results}, 'out': out,
            'rows': rows_when_reported, 'before': before, 'written': written,
            'names': [p.name for p in paths]}


@needs_sandbox
def test_batch_grades_every_submission_and_writes_as_it_goes(batch):
    assert list(batch['results']) == batch['names']
    assert batch['rows'] == list(range(1, len(batch['names']) + 1))
    rows = {pathlib.Path(r['submission']).name: r for r in csv.DictReader(batch['out'].open())}
    assert rows['fair-habits.ipynb']['points'] == '9.0'
    assert rows['dies.ipynb']['status'] == 'failed'


@needs_sandbox
def test_fair_habits_grade_in_full(batch):
    result = batch['results']['fair-habits.ipynb']
    assert (result.status, result.points, result.max_points, result.by_hand) == \
        ('graded', MAX_CHECKS, MAX_CHECKS, 2), result.report()
    assert points_by_cell(result)['discuss-bottleneck'] == ('to grade', None)
    assert result.advice == []


@needs_sandbox
def test_wrong_submission_loses_the_failing_check_only_with_its_full_message(batch):
    result = batch['results']['wrong.ipynb']
    assert result.status == 'graded'
    assert points_by_cell(result) == {'check-bottleneck': ('check', 6), 'check-resnet50': ('check', 0),
                                      'discuss-bottleneck': ('unanswered', 0)}
    feedback = pathlib.Path(result.feedback).read_text()
    assert 'check_resnet failed' in feedback and 'expected:' in feedback and 'hint:' in feedback


@needs_sandbox
@pytest.mark.parametrize('name, why', [('not-json.ipynb', 'not a readable notebook'),
                                       ('dies.ipynb', 'kernel died')])
def test_broken_submission_fails_alone(batch, name, why):
    result = batch['results'][name]
    assert result.status == 'failed' and why in result.message and result.points == 0


@needs_sandbox
@pytest.mark.parametrize('name', ['cheat-reach.ipynb', 'cheat-compare.ipynb', 'cheat-skip.ipynb',
                                  'cheat-forge.ipynb', 'vandal.ipynb', 'flood.ipynb'])
def test_cheats_earn_nothing(batch, name):
    result = batch['results'][name]
    assert (result.assignment, result.points, result.max_points) == ('bottleneck', 0, MAX_CHECKS)
    assert [c.grade_id for c in result.cells] == ['check-bottleneck', 'check-resnet50',
                                                  'discuss-bottleneck']


@needs_sandbox
def test_the_library_block_is_reported_as_not_the_students_work(batch):
    result = batch['results']['cheat-reach.ipynb']
    assert any("library's reference block" in m for m in result.marks), result.marks
    note = next(c.note for c in result.cells if c.grade_id == 'check-bottleneck')
    assert "the library's own" in note


@needs_sandbox
def test_harm_leaves_everything_else_untouched(batch):
    """The package, the teacher's copy, the other submissions and the results file are as they
    were; no process of a submission outlived it. (The flood's output stays in the sandbox, whose
    files the size limit caps: ``test_sandbox_caps_output_processes_and_time``.)"""
    now = {p: digest(p) for p in batch['before']}
    assert now == batch['before']
    assert batch['out'].read_bytes() == batch['written']
    survivors = subprocess.run(['pgrep', '-f', 'sleep 1234'], capture_output=True, text=True)
    assert survivors.stdout.strip() == ''


# --- the sandbox itself, without a kernel ------------------------------------------------------

def in_sandbox(tmp_path, code, **limits):
    work = tmp_path / 'work'
    work.mkdir(exist_ok=True)
    return sandbox.run([sys.executable, '-c', code], work, sandbox.Limits(**limits),
                       readonly=[sys.prefix])


@needs_sandbox
def test_sandbox_sees_only_its_folder_and_no_network(tmp_path):
    outcome = in_sandbox(tmp_path, '''\
import os, socket
print('repository' if os.path.exists(%r) else 'no repository')
print('teacher' if os.path.exists(%r) else 'no teacher')
open('mine.txt', 'w').write('ok')
open('/tmp/private', 'w').write('ok')
print('tmp' if os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_frsize <= 2 ** 30 else 'big')
for path in ('/usr/x', %r, '/etc/x'):
    try:
        open(path, 'w')
        print('wrote', path)
    except OSError:
        pass
try:
    socket.create_connection(('1.1.1.1', 53), timeout=3)
    print('network')
except OSError:
    print('no network')
''' % (str(grading.PACKAGE.parent / 'chapters'), str(BOTTLENECK), sys.prefix + '/x'),
                         wall_seconds=120)
    assert outcome.output.split() == ['no', 'repository', 'no', 'teacher', 'tmp', 'no', 'network'], \
        outcome.output
    assert (tmp_path / 'work' / 'mine.txt').read_text() == 'ok'


def test_the_process_cap_counts_the_users_threads_too(monkeypatch):
    """RLIMIT_NPROC counts threads, so a grader run by a teacher whose browser holds hundreds of them
    must count them as well; counting processes only made every sandbox fail at its start
    ("can't start new thread"), seen when the suite ran as a normal user."""
    threads = subprocess.Popen([sys.executable, '-c', (
        'import threading, time\n'
        'for _ in range(60):\n'
        '    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n'
        'print("up", flush=True)\n'
        'time.sleep(60)')], stdout=subprocess.PIPE, text=True)
    try:
        assert threads.stdout.readline().strip() == 'up'
        real_scandir = os.scandir
        # /proc as if this user ran only that process: its main thread and 60 more
        monkeypatch.setattr(os, 'scandir', lambda path: [e for e in real_scandir(path)
                                                         if e.name == str(threads.pid)])
        assert sandbox._user_tasks() == 61
    finally:
        threads.kill()
        threads.wait()


@needs_sandbox
def test_sandbox_caps_output_processes_and_time(tmp_path):
    flood = in_sandbox(tmp_path, 'import sys\nwhile True:\n    sys.stdout.write("x" * 65536)',
                       file_bytes=1024 ** 2, wall_seconds=120)
    assert flood.returncode != 0 and len(flood.output) <= 1024 ** 2 and not flood.timed_out
    # As root the sandbox runs as nobody, capped at 64. As another user the cap counts all that user's
    # tasks (sandbox.py): 64 more than it has now, so the bomb also gets what ends meanwhile.
    cap = 64 if os.geteuid() == 0 else sandbox._user_tasks() + 64
    bomb = in_sandbox(tmp_path, '''\
import os, time
n = 0
try:
    while n < 2000:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError:
    pass
print(n)
''', processes=64, wall_seconds=120)
    assert 0 < int(bomb.output.split()[-1]) < min(cap, 2000), (bomb.output, cap)
    start = time.monotonic()
    forever = in_sandbox(tmp_path, '''\
import subprocess
subprocess.Popen(['sleep', '1234.7'], start_new_session=True)
while True:
    pass
''', wall_seconds=5)
    assert forever.timed_out and time.monotonic() - start < 60
    time.sleep(1)
    survivors = subprocess.run(['pgrep', '-f', 'sleep 1234.7'], capture_output=True, text=True)
    assert survivors.stdout.strip() == ''
