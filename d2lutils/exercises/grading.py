"""Grading submitted exercise notebooks: each in a sandbox, judged outside it.

``python -m d2lutils.exercises --grade FILE.ipynb ...`` lands here. Nothing a submission says about
itself is trusted, and nothing the student's code does can reach the verdict:

- **What runs comes from the teacher's copy.** The assignment comes from the submission's metadata
  (``d2lutils.assignment``, which the solution notebooks carry and both the students' versions and
  nbgrader's release keep); the points, the check cells and the set of graded cells come from the
  teacher's copy, the solution notebook of that assignment. As nbgrader's autograde does, a check
  cell is put back as it was handed out, a graded cell the teacher's copy does not have is not
  graded, and points in the submission are ignored.
- **Each submission runs in a sandbox of its own** (``exercises.sandbox``: bubblewrap): a private
  copy of the one notebook, the package and the Python environment read-only, no network, a
  private ``/tmp``, limits on memory, processes, file size (the output included) and wall-clock
  time, and every process it started ended with it. The wall-clock limit comes from the teacher's
  copy (``time_limit``), not from the submission. The repository, the other submissions, the
  teacher's copies and the results file are not in the sandbox at all; the package it sees is a
  grading-time view in which the assignment's reference block (e.g. ``models.Bottleneck``) raises
  a clear error, so no name, alias or network of the library can hand it to the student's code.
- **The verdict comes from outside.** In the sandbox a check cell only asks the student's block
  questions on inputs the grader chose (a seed it keeps) and writes the answers as plain data
  (``exercises.answers``: JSON and arrays, never pickle). This process, which never runs student
  code, reads them and judges them with the checks' own judgement (``checks.judge``): the reference
  is built here, with the same controlled weights, so a check passes only if the student's block
  computes the reference's function. Whatever the student's process prints, patches or writes, it
  can only give numbers, and wrong numbers fail.
- **A block that is the library's own** (its class, a subclass or an alias of a d2lutils class) is
  reported as not the student's work; a block whose source matches the library's reference or the
  teacher's solution is graded and marked in the report for the teacher.
- **The screen is advice.** ``screen`` lists code a teacher may want to read (imports of ``sys`` or
  ``os``, ``exec``, assignments to a module's attributes ...); it never takes a point.

A check cell that calls no ``checks.check_*`` function (plain asserts, as in the pre-activation
exercise's ``check-small-resnet``) can only be judged by what ran in the student's process: it earns
its points if it ran to its end (a token printed after it) and the report says so.

Each result is written by this process only, after every submission (CSV or JSON), with one
feedback file per submission: every check's full message, the advice and the marks.
"""
import argparse
import ast
import copy
import csv
import dataclasses
import datetime
import json
import os
import pathlib
import re
import secrets
import shutil
import sys
import tempfile

from d2lutils import arguments
from d2lutils.arguments import checked
from d2lutils.exercises import answers, sandbox, students

PACKAGE = pathlib.Path(__file__).resolve().parents[1]  # the d2lutils folder
CHECKS = 'd2lutils.exercises.checks'
ASSIGNMENT_KEY = 'd2lutils'  # nb.metadata.d2lutils.assignment
MAX_NOTEBOOK_BYTES = 20 * 1024 ** 2
# The assignment's reference blocks, by the check that compares with them: absent in the sandbox.
REFERENCES = {'check_bottleneck': 'Bottleneck', 'check_preact': 'PreActResidual'}
UNAVAILABLE = 'is the reference of this exercise: it is not available while grading'


class SubmissionError(Exception):
    """A submission that cannot be graded at all (its score is 0; the others are graded)."""


class NoSandbox(RuntimeError):
    """No sandbox can be made on this machine: the grader refuses unless told --no-sandbox."""


@dataclasses.dataclass
class CellGrade:
    grade_id: str
    kind: str  # 'check', 'to grade' (by hand) or 'unanswered'
    points: float = None  # None for an answer to grade by hand
    max_points: float = 0.0
    note: str = ''        # a check's first line of failure, or how it was judged

    def line(self):
        if self.kind == 'check':
            return f'  {self.grade_id}: {self.points:g}/{self.max_points:g}' + (
                f' ({self.note})' if self.note else '')
        if self.kind == 'unanswered':
            return f'  {self.grade_id}: 0/{self.max_points:g} (unanswered: the text handed out)'
        return f'  {self.grade_id}: to grade by hand (0-{self.max_points:g} points)'


@dataclasses.dataclass
class Result:
    submission: str
    assignment: str = ''
    status: str = 'failed'  # 'graded' or 'failed' (unreadable, no assignment, killed, out of time)
    points: float = 0.0      # from the checks
    max_points: float = 0.0  # of the checks, from the teacher's copy
    by_hand: float = 0.0     # points of the answers graded by hand, from the teacher's copy
    message: str = ''
    cells: list = dataclasses.field(default_factory=list)
    marks: list = dataclasses.field(default_factory=list)   # for the teacher: copied, library's
    advice: list = dataclasses.field(default_factory=list)  # the screen: code worth reading
    feedback: str = ''       # the feedback file

    @property
    def ok(self):
        return self.status == 'graded'

    def report(self):
        head = f'{self.submission}: {self.points:g}/{self.max_points:g} points from checks'
        if self.assignment:
            head += f' [{self.assignment}]'
        if self.status != 'graded':
            head += f' -- {self.status.upper()}: {self.message}'
        lines = [head] + [c.line() for c in self.cells]
        lines += [f'  MARK: {m}' for m in self.marks]
        if self.advice:
            lines.append(f'  to read ({len(self.advice)}): ' + '; '.join(self.advice[:3])
                         + (' ...' if len(self.advice) > 3 else ''))
        return '\n'.join(lines)

    def row(self):
        return {'submission': self.submission, 'assignment': self.assignment,
                'status': self.status, 'points': self.points, 'max_points': self.max_points,
                'by_hand_max': self.by_hand,
                'cells': '; '.join(
                    f'{c.grade_id}=to grade (0-{c.max_points:g})' if c.kind == 'to grade'
                    else f'{c.grade_id}={c.points:g}/{c.max_points:g}'
                    + ('' if c.kind == 'check' else f' {c.kind}') for c in self.cells),
                'to_grade': '; '.join(c.grade_id for c in self.cells if c.kind == 'to grade'),
                'marks': '; '.join(self.marks), 'advice': '; '.join(self.advice),
                'message': self.message, 'feedback': self.feedback}

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data['cells'] = [CellGrade(**c) for c in data.get('cells', [])]
        return cls(**data)


def first_line(text):
    """The first line of an error message, without terminal colours, cut at 160 characters."""
    text = re.sub(r'\x1b\[[0-9;]*m', '', text)
    return text.strip().split('\n')[0][:160]


# --- the teacher's copy -------------------------------------------------------------------------

def assignment_of(nb):
    return (nb.get('metadata', {}).get(ASSIGNMENT_KEY) or {}).get('assignment')


def teacher_copies(folder=students.EXERCISES):
    """{assignment id: solution notebook} for the solution notebooks in ``folder/solutions``."""
    import nbformat
    copies = {}
    for path in students.solution_paths(folder):
        nb = nbformat.read(path, as_version=4)
        assignment = assignment_of(nb)
        if not assignment:
            raise students.SolutionMarkerError(
                f'{path} has no assignment id: add "{ASSIGNMENT_KEY}": {{"assignment": '
                f'"{path.stem}"}} to its notebook metadata')
        copies[assignment] = nb
    return copies


@checked
def graded_cells(nb: students.Notebook):
    """The cells nbgrader manages (metadata.nbgrader with a grade_id), by grade_id, in order."""
    return {students.nbgrader_meta(c)['grade_id']: c for c in nb.cells
            if students.nbgrader_meta(c).get('grade_id')}


# --- what runs: the submission with the teacher's graded cells ----------------------------------

def with_teacher_cells(submission, handed_out):
    """The submission with every graded cell's metadata, and every locked cell, as handed out.

    Like nbgrader's OverwriteCells: a locked cell (a check) is replaced by the handed-out one, and
    put back after the preceding graded cell if it was deleted; a solution cell keeps the
    student's text with the handed-out metadata; a grade_id the teacher's copy does not have, or
    a second cell with the same grade_id, is not graded.
    """
    teacher = graded_cells(handed_out)
    nb = copy.deepcopy(submission)
    seen, cells = set(), []
    for cell in nb.cells:
        grade_id = students.nbgrader_meta(cell).get('grade_id')
        if grade_id not in teacher or grade_id in seen:
            cell.metadata.pop('nbgrader', None)
            cells.append(cell)
            continue
        seen.add(grade_id)
        source = teacher[grade_id]
        if students.nbgrader_meta(source).get('locked'):
            cells.append(copy.deepcopy(source))
            continue
        if cell.cell_type != source.cell_type:
            cell = copy.deepcopy(source)  # a solution cell turned into another type: the stub
        cell.metadata['nbgrader'] = copy.deepcopy(source.metadata['nbgrader'])
        cells.append(cell)
    order = list(teacher)
    for i, grade_id in enumerate(order):
        if grade_id in seen:
            continue
        before = [students.nbgrader_meta(c).get('grade_id') for c in cells]
        previous = order[i - 1] if i else None
        at = before.index(previous) + 1 if previous in before else 0
        cells.insert(at, copy.deepcopy(teacher[grade_id]))
        seen.add(grade_id)
    nb.cells = cells
    return nb


# --- the screen: advice on code worth reading, never a gate ----------------------------------------

# What tampering would need and an exercise on residual blocks does not: worth a teacher's look.
NOTABLE_MODULES = frozenset({
    'atexit', 'builtins', 'code', 'ctypes', 'gc', 'importlib', 'inspect', 'ipykernel', 'IPython',
    'jupyter_client', 'multiprocessing', 'os', 'pickle', 'pytest', 'runpy', 'shutil', 'signal',
    'socket', 'subprocess', 'sys', 'threading', 'types', 'unittest'})
NOTABLE_NAMES = frozenset({
    '__builtins__', '__import__', 'breakpoint', 'compile', 'eval', 'exec', 'get_ipython',
    'globals', 'open', 'vars'})
# Dunders of everyday Python (a debug print of blk.__class__.__name__, a class's __init__ ...).
ORDINARY_DUNDERS = frozenset({
    '__init__', '__name__', '__class__', '__qualname__', '__doc__', '__module__', '__call__',
    '__len__', '__getitem__', '__iter__', '__repr__', '__str__', '__dict__', '__version__'})
REFLECTION = frozenset({'getattr', 'setattr', 'delattr'})
MAGIC = re.compile(r'^\s*(%|!)')


def _python(source):
    """A cell's Python: IPython's magic and shell lines (``%time``, ``!pip list``), help requests
    (``nn.Conv2D?``) and a cell magic's first line (``%%time``) left out, the rest parsed."""
    lines = source.split('\n')
    if lines and lines[0].lstrip().startswith('%%'):
        lines = lines[1:]
    kept = []
    for line in lines:
        stripped = line.strip()
        if MAGIC.match(line) or re.match(r'^[\w.]+\s*=\s*[!%]', stripped) or (
                stripped.endswith('?') and not stripped.startswith('#')):
            kept.append(line[:len(line) - len(line.lstrip())] + 'pass')
        else:
            kept.append(line)
    try:
        return ast.parse('\n'.join(kept))
    except SyntaxError:
        return None  # it fails when it runs, which costs the student, not the grader


def _module_names(trees):
    """{local name: module path} for every import in the trees."""
    names = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        top = alias.name.split('.')[0]
                        names[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    names[alias.asname or alias.name] = f'{node.module}.{alias.name}'
    return names


def _bound_names(trees):
    """Names the code binds other than by import: assignments, loop variables, arguments ..."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                names.add(node.name)
    return names


def _dotted(node, modules):
    """'d2lutils.models.Bottleneck' for ``models.Bottleneck`` when ``models`` is an imported module."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in modules:
        return None
    return '.'.join([modules[node.id]] + parts[::-1])


def _d2lutils_uses(trees, modules):
    uses = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                name = _dotted(node, modules)
                if name and name.startswith('d2lutils.'):
                    uses.add(name)
    uses.update(path for path in modules.values() if path.startswith('d2lutils.'))
    return uses


def own_cells(submission, teacher):
    """(index, source) of the code cells the student wrote or changed."""
    handed_out = {c.source for c in students.student_notebook(teacher).cells} | {
        c.source for c in teacher.cells}
    return [(i, c.source) for i, c in enumerate(submission.cells)
            if c.cell_type == 'code' and c.source not in handed_out]


def screen(submission, teacher):
    """Advice ('cell N, line L: why'): code in the cells the student wrote that a teacher may want
    to read. It takes no points: the verdict comes from the checks, judged outside the sandbox."""
    teacher_trees = [t for t in (_python(c.source) for c in teacher.cells if c.cell_type == 'code')
                     if t is not None]
    teacher_modules = _module_names(teacher_trees)
    allowed = _d2lutils_uses(teacher_trees, teacher_modules)
    own = [(i, _python(source)) for i, source in own_cells(submission, teacher)]
    own_trees = [t for _, t in own if t is not None]
    imported = _module_names(own_trees)
    # A local name equal to a module's (`for data in ...`) is the student's variable, not the module.
    rebound = _bound_names(own_trees) - set(imported)
    modules = {k: v for k, v in {**teacher_modules, **imported}.items() if k not in rebound}
    findings = []
    for index, tree in own:
        if tree is None:
            continue
        for node in ast.walk(tree):
            why = _notable(node, modules, allowed)
            if why:
                findings.append(f'cell {index + 1}, line {getattr(node, "lineno", "?")}: {why}')
    return findings


def _notable(node, modules, allowed):
    if isinstance(node, ast.Import):
        bad = [a.name for a in node.names if a.name.split('.')[0] in NOTABLE_MODULES]
        return f'imports {", ".join(bad)}' if bad else None
    if isinstance(node, ast.ImportFrom):
        top = (node.module or '').split('.')[0]
        if top in NOTABLE_MODULES:
            return f'imports from {node.module}'
        names = [f'{node.module}.{a.name}' for a in node.names]
        bad = [n for n in names if n.startswith('d2lutils.') and n not in allowed]
        return f'imports {", ".join(bad)}, which the exercise does not use' if bad else None
    if isinstance(node, ast.Name) and node.id in NOTABLE_NAMES:
        return f'uses {node.id}'
    if isinstance(node, ast.Attribute):
        if node.attr.startswith('__') and node.attr not in ORDINARY_DUNDERS:
            return f'uses the attribute {node.attr}'
        if isinstance(node.ctx, (ast.Store, ast.Del)) and _dotted(node.value, modules):
            return f'changes {_dotted(node, modules)}, an attribute of a module'
        name = _dotted(node, modules)
        if (name and name.startswith('d2lutils.') and name not in allowed
                and not any(a.startswith(name + '.') for a in allowed)):
            return f'uses {name}, which the exercise does not use'
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFLECTION:
        on_self = node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == 'self'
        return None if on_self else f'uses {node.func.id} on something other than self'
    return None


# --- marks for the teacher: the library's block, or its source -------------------------------------

def _normalized(node):
    """A class definition without its name, docstrings and comments, as a comparable string."""
    node = copy.deepcopy(node)
    node.name = '_'
    for sub in ast.walk(node):
        body = getattr(sub, 'body', None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], 'value', None), ast.Constant) and \
                isinstance(body[0].value.value, str):
            sub.body = body[1:] or [ast.Pass()]
    return ast.dump(node, annotate_fields=False)


def _class_defs(sources):
    defs = {}
    for source in sources:
        tree = _python(source)
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.ClassDef):
                defs[node.name] = node
    return defs


def marks(submission, teacher, plan):
    """What the teacher should know about the graded classes: a class the submission takes from
    d2lutils (an alias or a subclass), or one whose source is the library's reference or the
    teacher's solution (graded, but marked)."""
    found = []
    own = [source for _, source in own_cells(submission, teacher)]
    mine = _class_defs(source for source in own)
    library = _class_defs([(PACKAGE / 'models.py').read_text()])
    solution = _class_defs(c.source.replace(students.BEGIN, '').replace(students.END, '')
                           for c in teacher.cells if c.cell_type == 'code')
    for calls in plan.values():
        for check_name, target, _ in calls if isinstance(calls, list) else ():
            reference = REFERENCES.get(check_name)
            if reference is None:
                continue
            for source in own:
                tree = _python(source)
                for node in ast.walk(tree) if tree is not None else ():
                    text = ast.unparse(node) if isinstance(node, (ast.Assign, ast.ClassDef)) else ''
                    if isinstance(node, ast.ClassDef):
                        text = ' '.join(ast.unparse(b) for b in node.bases)
                    if re.search(rf'\bmodels\.{reference}\b|\bd2lutils\.models\b.*{reference}',
                                 text) or (isinstance(node, ast.ImportFrom) and any(
                                     a.name == reference for a in node.names)):
                        found.append(f'{target} is taken from the library: '
                                     f'{first_line(ast.unparse(node))}')
            if target in mine:
                ours = _normalized(mine[target])
                if reference in library and ours == _normalized(library[reference]):
                    found.append(f'the source of {target} is the library\'s reference '
                                 f'd2lutils.models.{reference} (graded; copied from the book?)')
                elif target in solution and ours == _normalized(solution[target]):
                    found.append(f'the source of {target} is the teacher\'s solution (graded)')
    return list(dict.fromkeys(found))


# --- what runs in the sandbox -----------------------------------------------------------------------

def check_calls(source):
    """The checks a teacher's check cell calls, in order: [(check name, the first argument as
    written, the other arguments' values)], e.g. [('check_resnet', 'resnet50', (50,))]; [] when it
    calls none (plain asserts)."""
    nodes = sorted((n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Attribute) and n.func.attr.startswith('check_')
                    and n.args), key=lambda n: (n.lineno, n.col_offset))
    return [(n.func.attr, ast.unparse(n.args[0]), tuple(ast.literal_eval(a) for a in n.args[1:]))
            for n in nodes]


def plan_checks(teacher):
    """{grade_id: check_calls(...)} for each check cell of the teacher's copy."""
    return {students.nbgrader_meta(c)['grade_id']: check_calls(c.source)
            for c in teacher.cells if students.is_check_cell(c)}


def prepared(nb, plan):
    """The notebook that runs in the sandbox: each check cell as handed out, after the grader's line
    that names it (its answers are filed under its grade_id); a check cell that calls no check ends
    with a token it prints when it ran to its end. Returns (notebook, {grade_id: token})."""
    nb, tokens = copy.deepcopy(nb), {}
    for cell in nb.cells:
        if not students.is_check_cell(cell):
            continue
        grade_id = students.nbgrader_meta(cell)['grade_id']
        head = (f'import d2lutils.exercises.checks as _grader_checks\n'
                f'_grader_checks.begin_cell({grade_id!r})\n')
        tail = ''
        if not plan.get(grade_id):
            tokens[grade_id] = f'grader-ran-{secrets.token_hex(16)}'
            tail = f'\nprint({tokens[grade_id]!r})\n'
        cell.source = head + cell.source + tail
    return nb, tokens


def time_limit(teacher, timeout):
    """Wall-clock seconds for a whole submission, from the teacher's copy: five times the time its
    cells took when it was last run (nbclient's timings in its metadata), plus two minutes to start
    the kernel, at least five minutes; --timeout per cell if the copy has no timings."""
    seconds, counted = 0.0, 0
    for cell in teacher.cells:
        timing = cell.get('metadata', {}).get('execution', {})
        try:
            start = datetime.datetime.fromisoformat(timing['iopub.execute_input'].rstrip('Z'))
            end = datetime.datetime.fromisoformat(timing['shell.execute_reply'].rstrip('Z'))
        except (KeyError, ValueError, AttributeError):
            continue
        seconds += max(0.0, (end - start).total_seconds())
        counted += 1
    if not counted:
        return timeout * sum(c.cell_type == 'code' for c in teacher.cells) + 120
    return max(300.0, 5 * seconds + 120)


def package_view(folder, check_names):
    """A copy of the package in ``folder`` in which the reference blocks of ``check_names``
    (``REFERENCES``) raise a clear error when built: what the sandbox sees as d2lutils."""
    view = pathlib.Path(folder) / 'd2lutils'
    shutil.copytree(PACKAGE, view, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    models = view / 'models.py'
    source = models.read_text()
    lines = source.split('\n')
    for node in sorted((n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)
                        and n.name in {REFERENCES[c] for c in check_names if c in REFERENCES}),
                       key=lambda n: -n.lineno):
        start = node.lineno - 1 - len(node.decorator_list)
        stub = [f'class {node.name}(nn.HybridBlock):',
                f'    """Not available while grading: {node.name} {UNAVAILABLE}."""',
                '    def __init__(self, *args, **kwargs):',
                f'        raise RuntimeError("d2lutils.models.{node.name} {UNAVAILABLE}: the '
                f'check compares YOUR block with it, so write your own")']
        lines[start:node.end_lineno] = stub
    models.write_text('\n'.join(lines))
    return view


def _run_in_sandbox(nb, teacher, plan, timeout, seed, sandboxed, scratch):
    """Run ``nb`` in a sandbox under ``scratch``; (executed notebook or None, message or '',
    answers folder)."""
    import nbformat
    work = pathlib.Path(scratch) / 'work'
    (work / 'answers').mkdir(parents=True)
    nbformat.write(nb, work / 'submission.ipynb')
    view = package_view(pathlib.Path(scratch) / 'view', [c for calls in plan.values()
                                                         for c, _, _ in calls])
    limit = time_limit(teacher, timeout)
    command = [sys.executable, '-m', 'd2lutils.exercises.grading', '--execute',
               str(work / 'submission.ipynb'), '--timeout', str(timeout)]
    env = {**sandbox._clean_env(work), 'D2LUTILS_ANSWERS': f'{work / "answers"}:{seed}'}
    limits = sandbox.Limits(wall_seconds=limit)
    if sandboxed:
        outcome = sandbox.run(command, work, limits, readonly=[sys.prefix],
                              binds=[(view, PACKAGE)], env=env)
    else:
        outcome = sandbox.run_unsandboxed(command, work, limits, env, pythonpath=PACKAGE.parent)
    message = ''
    if outcome.timed_out:
        message = (f'it ran longer than {limit:g} s (five times the teacher\'s copy, plus the '
                   'kernel\'s start) and was stopped; the checks that had not answered earn '
                   'nothing')
    status = work / 'runner.json'
    if not message and status.is_file() and status.stat().st_size < 4096:
        try:
            message = str(json.loads(status.read_text()).get('message', ''))[:300]
        except ValueError:
            message = ''
    if not message and outcome.returncode != 0:
        tail = [line for line in outcome.output.strip().splitlines() if line.strip()][-1:] or ['']
        message = f'the notebook runner failed (exit status {outcome.returncode}): {tail[0][:200]}'
    executed = None
    path = work / 'submission.ipynb'
    if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_NOTEBOOK_BYTES:
        try:
            executed = nbformat.read(path, as_version=4)
        except Exception:  # the student's process may have written anything there
            executed = None
    return executed, message, work / 'answers'


def execute(path, timeout):
    """In the sandbox: run the notebook at ``path`` in place in a fresh kernel; a message about a
    cell that never ended or a kernel that died goes to runner.json beside it."""
    import nbclient
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    path = pathlib.Path(path)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=timeout, allow_errors=True,
                                     kernel_name='python3',
                                     resources={'metadata': {'path': str(path.parent)}})
    message = ''
    try:
        client.execute()
    except CellTimeoutError:
        message = f'a cell ran longer than --timeout {timeout:g} s; the cells after it did not run'
    except DeadKernelError:
        message = 'the kernel died (the submission ended its process); the cells after did not run'
    except RuntimeError as error:  # nbclient: the kernel did not start or answer
        message = f'the kernel failed: {first_line(str(error))}'
    nbformat.write(nb, path)
    (path.parent / 'runner.json').write_text(json.dumps({'message': message}))


# --- judging, outside ------------------------------------------------------------------------------

def judge_cell(grade_id, calls, answers_folder, seed):
    """(passed, full message) for one check cell, judged from its answers in ``answers_folder``."""
    from d2lutils.exercises import checks
    reports = []
    for n, (check_name, target, args) in enumerate(calls):
        try:
            data = answers.load(answers_folder, f'{grade_id}-{n}')
            reports.append(checks.judge(check_name, data, seed, args))
        except (checks.CheckFailed, TypeError) as failure:
            return False, f'{type(failure).__name__}: {failure}' if isinstance(
                failure, TypeError) else str(failure)
        except answers.BadAnswers as error:
            return False, f'{check_name}: the answers the notebook wrote are not valid: {error}'
        except Exception as error:  # malformed answers that passed load: they fail, nothing else
            return False, (f'{check_name}: the answers the notebook wrote could not be judged '
                           f'({type(error).__name__}: {first_line(str(error))})')
    return True, ''.join(reports)


def _token_check(cell, token):
    """A check cell with no check call, judged by its run in the sandbox: '' when it ran to its end."""
    if cell is None:
        return 'not run'
    errors = [o for o in cell.get('outputs', []) if o.get('output_type') == 'error']
    if errors:
        return f'{errors[0].get("ename")}: {first_line(str(errors[0].get("evalue")))}'
    printed = [line for o in cell.get('outputs', []) if o.get('output_type') == 'stream'
               for line in str(o.get('text', '')).splitlines()]
    if token not in printed:
        return 'the check did not run to its end'
    return ''


IN_KERNEL = 'judged in the student\'s process: this cell calls no check function'


# --- one submission ---------------------------------------------------------------------------------

def read_submission(path):
    import nbformat
    try:
        if pathlib.Path(path).stat().st_size > MAX_NOTEBOOK_BYTES:
            raise SubmissionError(f'larger than {MAX_NOTEBOOK_BYTES // 1024 ** 2} MiB: not graded')
        return nbformat.read(path, as_version=4)
    except SubmissionError:
        raise
    except Exception as error:  # nbformat raises several kinds for a file that is not a notebook
        raise SubmissionError(f'not a readable notebook ({type(error).__name__}: '
                              f'{first_line(str(error))})') from error


def grade_submission(path, folder=students.EXERCISES, timeout=600, sandboxed=True, seed=None):
    """Grade one submission: run it in a sandbox, judge its answers here. A Result, with the full
    check messages in ``result.details`` ({grade_id: message}) for the feedback file. ``seed``
    chooses the checks' inputs (the grader's secret; one per batch, so that the references'
    answers are computed once)."""
    result = Result(submission=str(path))
    result.details = {}
    try:
        submission = read_submission(path)
        copies = teacher_copies(folder)
        assignment = assignment_of(submission)
        if assignment not in copies:
            raise SubmissionError(
                f'its metadata names no known assignment ({ASSIGNMENT_KEY}.assignment = '
                f'{assignment!r}; known: {", ".join(sorted(copies))}): was it made from the '
                'notebooks handed out?')
        result.assignment = assignment
        teacher = copies[assignment]
        handed_out = students.student_notebook(teacher)
        nb = with_teacher_cells(submission, handed_out)
        plan = plan_checks(teacher)
        result.advice = screen(nb, teacher)
        result.marks = marks(nb, teacher, plan)
        to_run, tokens = prepared(nb, plan)
        seed = secrets.randbelow(2 ** 31) if seed is None else seed
        with tempfile.TemporaryDirectory(prefix='d2lutils-grading-') as scratch:
            executed, failure, answers_folder = _run_in_sandbox(
                to_run, teacher, plan, timeout, seed, sandboxed, scratch)
            _score(result, nb, executed, handed_out, plan, tokens, answers_folder, seed)
        if failure:
            result.status, result.message = 'failed', failure
        else:
            result.status = 'graded'
    except SubmissionError as error:
        result.status, result.message = 'failed', str(error)
    return result


def _score(result, nb, executed, handed_out, plan, tokens, answers_folder, seed):
    teacher = graded_cells(handed_out)
    ran = {}
    if executed is not None:
        ran = {students.nbgrader_meta(c).get('grade_id'): c for c in executed.cells
               if students.nbgrader_meta(c).get('grade_id')}
    submitted = graded_cells(nb)
    for grade_id, source in teacher.items():
        meta = students.nbgrader_meta(source)
        if not meta.get('grade'):
            continue
        worth = float(meta.get('points', 0))
        if students.is_check_cell(source):
            if plan.get(grade_id):
                passed, message = judge_cell(grade_id, plan[grade_id], answers_folder, seed)
                note = '' if passed else first_line(message)
                if not passed and (UNAVAILABLE in message or "the library's own block" in message):
                    note = 'the library\'s own reference block, not the student\'s work: ' + note
                    result.marks.append(f'{grade_id}: uses the library\'s reference block '
                                        '(not the student\'s work)')
            else:
                note = _token_check(ran.get(grade_id), tokens[grade_id])
                passed, message = not note, note or 'ran to its end'
                note = f'{note}; {IN_KERNEL}' if note else IN_KERNEL
            result.details[grade_id] = message
            grade = CellGrade(grade_id, 'check', worth if passed else 0.0, worth, note)
            result.points += grade.points
            result.max_points += worth
        else:
            result.by_hand += worth
            unanswered = submitted[grade_id].source.strip() == source.source.strip()
            grade = (CellGrade(grade_id, 'unanswered', 0.0, worth) if unanswered
                     else CellGrade(grade_id, 'to grade', None, worth))
        result.cells.append(grade)


# --- the batch --------------------------------------------------------------------------------------

WARNING = ('grading runs the submitted notebooks (student code), each in a sandbox (bubblewrap) '
           'with the package and Python read-only, no network and limits; the checks are judged '
           'outside it.')
NO_SANDBOX_WARNING = ('--no-sandbox: the submissions run as plain processes with your rights: '
                      'they can read and change your files, the other submissions and the '
                      'results file. Use it only for notebooks you trust.')


def grade(paths, output, folder=students.EXERCISES, timeout=600, sandboxed=True, echo=print):
    """Grade each submission in its own sandbox; rewrite ``output`` and write the submission's
    feedback file after each; return the Results. ``NoSandbox`` if no sandbox can be made and
    ``sandboxed`` is true."""
    if sandboxed:
        why = sandbox.available()
        if why:
            raise NoSandbox(f'no sandbox: {why}. Grading runs student code; install bubblewrap, '
                            'or pass --no-sandbox to run it unprotected (only for notebooks you '
                            'trust)')
    # The teacher's mistakes, said once before any submission runs (not blamed on each student).
    folder = arguments.exercises_folder('folder', folder)
    output = arguments.results_file('output', output)
    output, results = pathlib.Path(output).resolve(), []
    feedback = output.with_name(output.stem + '-feedback')
    feedback.mkdir(exist_ok=True)
    names, seed = set(), secrets.randbelow(2 ** 31)
    for path in paths:
        result = grade_submission(path, folder, timeout, sandboxed, seed)
        name = pathlib.Path(path).stem
        while name in names:
            name += '_'
        names.add(name)
        result.feedback = str(feedback / f'{name}.txt')
        write_feedback(result, result.feedback)
        results.append(result)
        write_results(results, output)
        echo(result.report(), flush=True)
    return results


def write_feedback(result, path):
    """The feedback a student can use: the report, then every check's full message."""
    lines = [result.report().split('\n  to read')[0].split('\n  MARK')[0], '']
    for grade_id, message in getattr(result, 'details', {}).items():
        lines += [f'--- {grade_id} ---', re.sub(r'\x1b\[[0-9;]*m', '', message).rstrip(), '']
    pathlib.Path(path).write_text('\n'.join(lines) + '\n')


def write_results(results, output):
    """Write every result so far to ``output`` (.json: a list; otherwise CSV), atomically."""
    output = pathlib.Path(output)
    tmp = output.with_name(output.name + '.partial')
    rows = [r.row() for r in results]
    if output.suffix == '.json':
        tmp.write_text(json.dumps([{k: v for k, v in dataclasses.asdict(r).items()}
                                   for r in results], indent=1) + '\n')
    else:
        with tmp.open('w', newline='') as file:
            writer = csv.DictWriter(file, fieldnames=list(Result('').row()))
            writer.writeheader()
            writer.writerows(rows)
    os.replace(tmp, output)


def main(argv=None):
    """In the sandbox: ``--execute NOTEBOOK --timeout SECONDS`` runs the notebook in place."""
    parser = argparse.ArgumentParser(prog='python -m d2lutils.exercises.grading')
    parser.add_argument('--execute', required=True)
    parser.add_argument('--timeout', type=float, default=600)
    args = parser.parse_args(argv)
    execute(args.execute, args.timeout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
