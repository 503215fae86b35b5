"""Grading submitted exercise notebooks against the teacher's copy.

``python -m d2lutils.exercises --grade FILE.ipynb ...`` lands here. What a submission may say about
itself is not trusted: the assignment comes from its metadata (``d2lutils.assignment``, which the
solution notebooks carry and both the students' versions and nbgrader's release keep), but the
points, the check cells and the set of graded cells come from the teacher's copy, the solution
notebook of that assignment. As nbgrader's autograde does, a check cell is put back as it was handed
out (edited or deleted, it is replaced or re-inserted after the graded cell before it), a graded
cell the teacher's copy does not have is not graded, and points in the submission are ignored.

A submission could try to grade itself: replace ``d2lutils.exercises.checks`` functions, rebind
``checks`` or a builtin such as ``isinstance``, or hide a check's error. Two defences, because code that runs in
the kernel can undo anything else that runs there:

- in the kernel, before each check cell, a guard loads ``d2lutils/exercises/checks.py`` and the
  d2lutils modules it uses (the reference blocks of ``d2lutils.models``) afresh from the files installed
  (SHA-256 compared with the grader's own reading), without the import system; re-runs the
  teacher's imports; and removes from the submission's namespace the builtins that the check and
  the guard use. The check earns its points only if its cell then prints a random token written
  after the check, so a swallowed error earns nothing;
- outside the kernel, before anything runs, ``screen`` reads the code the student wrote (cells
  that differ from the handed-out ones) for what tampering needs and an exercise never does:
  importing ``sys``, ``os``, ``importlib``, ``builtins``, ``IPython`` ...; ``exec``, ``eval``,
  ``get_ipython``, ``open``, dunder attributes; assigning to an attribute of a module; reaching a
  ``d2lutils`` name the teacher's copy does not use (the reference blocks the checks compare with).
  A submission it flags is not run, keeps no check points and is reported for a teacher to read
  (who may then grade it with ``--no-screen``).

A student determined to defeat a grader that runs checks in the student's own kernel can still
find a way; the screen makes that visible. Grade in a container or a throwaway account: the code
runs with the grader's rights.

Each submission runs in a process of its own, in a fresh kernel, in a scratch folder, with every
cell bounded by ``--timeout``. One that is not JSON, names no known assignment, kills its kernel or
never ends is reported as failed and costs only its own score; the results file (CSV or JSON) is
rewritten after every submission.
"""
import argparse
import ast
import builtins
import copy
import csv
import dataclasses
import hashlib
import json
import os
import pathlib
import re
import secrets
import subprocess
import sys
import tempfile

from d2lutils.exercises import students

PACKAGE = pathlib.Path(__file__).resolve().parents[1]  # the d2lutils folder
CHECKS = 'd2lutils.exercises.checks'
ASSIGNMENT_KEY = 'd2lutils'  # nb.metadata.d2lutils.assignment

# What tampering needs and an exercise on residual blocks does not.
FORBIDDEN_MODULES = frozenset({
    'atexit', 'builtins', 'code', 'ctypes', 'gc', 'importlib', 'inspect', 'ipykernel', 'IPython',
    'jupyter_client', 'multiprocessing', 'os', 'pickle', 'pytest', 'runpy', 'shutil', 'signal',
    'subprocess', 'sys', 'threading', 'types', 'unittest'})
FORBIDDEN_NAMES = frozenset({
    '__builtins__', '__import__', 'breakpoint', 'compile', 'eval', 'exec', 'exit', 'get_ipython',
    'globals', 'open', 'quit', 'vars'})
ALLOWED_DUNDERS = frozenset({'__init__', '__name__'})
REFLECTION = frozenset({'getattr', 'setattr', 'delattr'})


class SubmissionError(Exception):
    """A submission that cannot be graded at all (its score is 0; the others are graded)."""


class ChecksChanged(RuntimeError):
    """d2lutils/exercises/checks.py changed on disk during a batch: what follows is not trusted."""


@dataclasses.dataclass
class CellGrade:
    grade_id: str
    kind: str  # 'check', 'by hand' or 'unanswered'
    points: float
    max_points: float
    note: str = ''

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
    status: str = 'failed'  # 'graded', 'review' (the screen flagged it) or 'failed'
    points: float = 0.0      # from the checks
    max_points: float = 0.0  # of the checks, from the teacher's copy
    by_hand: float = 0.0     # points of the answers graded by hand, from the teacher's copy
    message: str = ''
    cells: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        return self.status == 'graded'

    def report(self):
        head = f'{self.submission}: {self.points:g}/{self.max_points:g} points from checks'
        if self.assignment:
            head += f' [{self.assignment}]'
        if self.status != 'graded':
            head += f' -- {self.status.upper()}: {self.message}'
        return '\n'.join([head] + [c.line() for c in self.cells])

    def row(self):
        return {'submission': self.submission, 'assignment': self.assignment,
                'status': self.status, 'points': self.points, 'max_points': self.max_points,
                'by_hand_max': self.by_hand,
                'cells': '; '.join(f'{c.grade_id}={c.points:g}/{c.max_points:g}'
                                   + ('' if c.kind == 'check' else f' {c.kind}')
                                   for c in self.cells),
                'message': self.message}

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


def graded_cells(nb):
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


def teacher_imports(teacher):
    """The import statements of the teacher's cells that are not solutions, as source lines."""
    lines = []
    for cell in teacher.cells:
        if cell.cell_type != 'code' or students.nbgrader_meta(cell).get('solution'):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body
                  if isinstance(node, (ast.Import, ast.ImportFrom))]
    return lines


def _module_file(name):
    """The file of d2lutils module ``name`` (e.g. 'd2lutils.exercises.checks'), or None if none."""
    path = PACKAGE.parent.joinpath(*name.split('.')).with_suffix('.py')
    return path if path.is_file() else None


def _package_imports(name):
    """The d2lutils modules (files in the package) that module ``name`` imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(_module_file(name).read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] == 'd2lutils':
            names.add(node.module)
            names.update(f'{node.module}.{alias.name}' for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return sorted(n for n in names if n.startswith('d2lutils.') and _module_file(n))


def trusted_modules():
    """[(module name, file, SHA-256)] the guard reloads: the d2lutils modules checks.py imports,
    directly or through each other (the reference blocks live in d2lutils.models, the layer walk in
    d2lutils.walker), then checks itself. A module comes after every module it imports, so that a
    module-level ``from d2lutils import walker`` binds the reloaded walker, not the kernel's."""
    order, started = [], set()

    def visit(name):
        if name not in started:  # tests/test_layers.py keeps the package free of import cycles
            started.add(name)
            for imported in _package_imports(name):
                visit(imported)
            order.append(name)

    visit(CHECKS)
    return [(name, str(_module_file(name)),
             hashlib.sha256(_module_file(name).read_bytes()).hexdigest()) for name in order]


GUARD_BUILTINS = frozenset({'compile', 'exec', 'open', 'print', 'RuntimeError', 'setattr'})


def guarded(check_source, imports, token, modules):
    """A check cell's source with the grader's guard before it and its pass token after it."""
    used = {n.id for n in ast.walk(ast.parse(check_source)) if isinstance(n, ast.Name)}
    shadows = sorted((used & set(dir(builtins))) | GUARD_BUILTINS)
    # A bare except: naming an exception class here would let a shadowed one through.
    unshadow = ''.join(f'try:\n    del {name}\nexcept:\n    pass\n' for name in shadows)
    guard = f'''\
# --- the grader's guard: builtins, the checks and their references as installed, the imports ---
{unshadow}def _grader_guard():
    import hashlib, sys, types, d2lutils.exercises
    for name, path, sha in {modules!r}:
        with open(path, 'rb') as file:
            source = file.read()
        if hashlib.sha256(source).hexdigest() != sha:
            raise RuntimeError(f'grader: {{path}} changed on disk while grading')
        package, _, attribute = name.rpartition('.')
        module = types.ModuleType(name)
        module.__file__, module.__package__ = path, package
        sys.modules[name] = module
        setattr(sys.modules[package], attribute, module)
        exec(compile(source, path, 'exec'), module.__dict__)
_grader_guard()
del _grader_guard
{chr(10).join(imports)}
# --- the check as handed out ---
'''
    return f'{guard}{check_source}\nprint({token!r})\n'


# --- the screen: what tampering needs, in the code the student wrote ----------------------------

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


def _dotted(node, modules):
    """'d2lutils.models.Bottleneck' for ``models.Bottleneck`` when ``models`` is an imported module."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in modules:
        return None
    return '.'.join([modules[node.id]] + parts[::-1])


def _python(source):
    """A cell's source as Python (IPython magics and shell lines become get_ipython() calls)."""
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None  # it fails when it runs, which costs the student, not the grader


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


def screen(submission, teacher):
    """Findings ('cell N, line L: why') in the code cells the student wrote or changed."""
    teacher_trees = [t for t in (_python(c.source) for c in teacher.cells if c.cell_type == 'code')
                     if t is not None]
    teacher_modules = _module_names(teacher_trees)
    allowed = _d2lutils_uses(teacher_trees, teacher_modules)
    handed_out = {c.source for c in students.student_notebook(teacher).cells} | {
        c.source for c in teacher.cells}
    own = [(i, _python(c.source)) for i, c in enumerate(submission.cells)
           if c.cell_type == 'code' and c.source not in handed_out]
    modules = {**teacher_modules, **_module_names(t for _, t in own if t is not None)}
    findings = []
    for index, tree in own:
        if tree is None:
            continue
        for node in ast.walk(tree):
            why = _tampering(node, modules, allowed)
            if why:
                findings.append(f'cell {index + 1}, line {getattr(node, "lineno", "?")}: {why}')
    return findings


def _tampering(node, modules, allowed):
    if isinstance(node, ast.Import):
        bad = [a.name for a in node.names if a.name.split('.')[0] in FORBIDDEN_MODULES]
        return f'imports {", ".join(bad)}' if bad else None
    if isinstance(node, ast.ImportFrom):
        top = (node.module or '').split('.')[0]
        if top in FORBIDDEN_MODULES:
            return f'imports from {node.module}'
        names = [f'{node.module}.{a.name}' for a in node.names]
        bad = [n for n in names if n.startswith('d2lutils.') and n not in allowed
               and not n.startswith(CHECKS)]
        return f'imports {", ".join(bad)}, which the exercise does not use' if bad else None
    if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
        return f'uses {node.id}'
    if isinstance(node, ast.Attribute):
        if node.attr.startswith('__') and node.attr not in ALLOWED_DUNDERS:
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


# --- running one submission (in a process of its own) -------------------------------------------

def grade_submission(path, folder=students.EXERCISES, timeout=600, use_screen=True):
    """Grade one submission in this process (``grade`` calls it in a child process): a Result."""
    import nbformat
    result = Result(submission=str(path))
    try:
        try:
            submission = nbformat.read(path, as_version=4)
        except Exception as error:  # nbformat raises several kinds for a file that is not a notebook
            raise SubmissionError(f'not a readable notebook ({type(error).__name__}: '
                                  f'{first_line(str(error))})') from error
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
        findings = screen(nb, teacher) if use_screen else []
        tokens = _guard_checks(nb, teacher)
        # A flagged submission is not run: what it would do is what the screen is wary of.
        failure = None if findings else _execute(nb, timeout)
        _score(result, nb, handed_out, tokens)
        if failure:
            result.status, result.message = 'failed', failure
        elif findings:
            result.status = 'review'
            result.message = ('not run, no check points: read its code, then grade it with '
                              '--no-screen if it is fair: ' + '; '.join(findings[:5])
                              + (f' (and {len(findings) - 5} more)' if len(findings) > 5 else ''))
        else:
            result.status = 'graded'
    except SubmissionError as error:
        result.status, result.message = 'failed', str(error)
    return result


def _guard_checks(nb, teacher):
    """Guard every check cell of ``nb`` in place; return {grade_id: pass token}."""
    imports, modules, tokens = teacher_imports(teacher), trusted_modules(), {}
    for cell in nb.cells:
        if students.is_check_cell(cell):
            grade_id = students.nbgrader_meta(cell)['grade_id']
            tokens[grade_id] = f'grader-pass-{secrets.token_hex(16)}'
            cell.source = guarded(cell.source, imports, tokens[grade_id], modules)
    return tokens


def _execute(nb, timeout):
    """Run ``nb`` in place in a fresh kernel in a scratch folder; a message if it broke, else None."""
    import nbclient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    with tempfile.TemporaryDirectory(prefix='d2lutils-grading-') as scratch:
        client = nbclient.NotebookClient(nb, timeout=timeout, allow_errors=True,
                                         kernel_name='python3',
                                         resources={'metadata': {'path': scratch}})
        try:
            client.execute()
        except CellTimeoutError:
            return f'a cell ran longer than --timeout {timeout:g} s; the cells after it did not run'
        except DeadKernelError:
            return 'the kernel died (the submission ended its process); the cells after did not run'
        except RuntimeError as error:  # nbclient: the kernel did not start or answer
            return f'the kernel failed: {first_line(str(error))}'
    return None


def _score(result, nb, handed_out, tokens):
    teacher = graded_cells(handed_out)
    ran = {students.nbgrader_meta(c).get('grade_id'): c for c in nb.cells
           if students.nbgrader_meta(c).get('grade_id')}
    for grade_id, source in teacher.items():
        meta = students.nbgrader_meta(source)
        if not meta.get('grade'):
            continue
        worth = float(meta.get('points', 0))
        cell = ran[grade_id]
        if students.is_check_cell(source):
            note = _check_failure(cell, tokens[grade_id])
            grade = CellGrade(grade_id, 'check', 0.0 if note else worth, worth, note)
            result.points += grade.points
            result.max_points += worth
        else:
            result.by_hand += worth
            unanswered = cell.source.strip() == source.source.strip()
            grade = CellGrade(grade_id, 'unanswered' if unanswered else 'by hand', 0.0, worth)
        result.cells.append(grade)


def _check_failure(cell, token):
    """Why a check cell earns nothing ('' when it passed)."""
    errors = [o for o in cell.get('outputs', []) if o.get('output_type') == 'error']
    if errors:
        return f'{errors[0]["ename"]}: {first_line(errors[0]["evalue"])}'
    if cell.get('execution_count') is None:
        return 'not run'
    printed = [line for o in cell.get('outputs', []) if o.get('output_type') == 'stream'
               for line in o.get('text', '').splitlines()]
    if token not in printed:
        return 'the check did not finish (its error was hidden, or the cell stopped early)'
    return ''


# --- the batch ----------------------------------------------------------------------------------

WARNING = ('grading runs the submitted notebooks: their code runs with your rights on this '
           'machine. Grade in a container or a throwaway account.')


def grade(paths, output, folder=students.EXERCISES, timeout=600, use_screen=True, echo=print):
    """Grade each submission in its own process; rewrite ``output`` after each; return Results."""
    output, results = pathlib.Path(output), []
    modules = trusted_modules()
    for path in paths:
        result = _grade_in_child(path, folder, timeout, use_screen)
        results.append(result)
        write_results(results, output)
        echo(result.report(), flush=True)
        if trusted_modules() != modules:
            raise ChecksChanged(f'd2lutils/exercises/checks.py or a module it uses changed on disk '
                                f'while grading {path}: stopped; reinstall the book, grade in a '
                                f'container')
    return results


def _grade_in_child(path, folder, timeout, use_screen):
    with tempfile.TemporaryDirectory(prefix='d2lutils-grader-') as scratch:
        out = pathlib.Path(scratch) / 'result.json'
        command = [sys.executable, '-m', 'd2lutils.exercises.grading', str(path),
                   '--folder', str(folder), '--timeout', str(timeout), '--result', str(out)]
        if not use_screen:
            command.append('--no-screen')
        limit = _process_limit(path, timeout)
        try:
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, timeout=limit)
        except subprocess.TimeoutExpired:
            return Result(str(path), message=f'grading took longer than {limit:g} s and was stopped')
        if done.returncode != 0 or not out.exists():
            tail = done.stderr.decode(errors='replace').strip().splitlines()[-1:] or ['']
            return Result(str(path), message=f'the grading process failed (exit status '
                                             f'{done.returncode}): {tail[0][:200]}')
        return Result.from_json(json.loads(out.read_text()))


def _process_limit(path, timeout):
    """A bound for a whole submission: every cell at --timeout, plus a kernel start."""
    try:
        cells = json.loads(pathlib.Path(path).read_text()).get('cells')
    except (OSError, ValueError, AttributeError):
        cells = None  # the child reports what is wrong with it
    return ((len(cells) if isinstance(cells, list) else 0) + 5) * timeout + 120


def write_results(results, output):
    """Write every result so far to ``output`` (.json: a list; otherwise CSV), atomically."""
    output = pathlib.Path(output)
    tmp = output.with_name(output.name + '.partial')
    rows = [r.row() for r in results]
    if output.suffix == '.json':
        tmp.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1) + '\n')
    else:
        with tmp.open('w', newline='') as file:
            writer = csv.DictWriter(file, fieldnames=list(Result('').row()))
            writer.writeheader()
            writer.writerows(rows)
    os.replace(tmp, output)


def main(argv=None):
    """The child's entry: grade one submission and write its Result as JSON."""
    parser = argparse.ArgumentParser(prog='python -m d2lutils.exercises.grading')
    parser.add_argument('submission')
    parser.add_argument('--folder', default=str(students.EXERCISES))
    parser.add_argument('--timeout', type=float, default=600)
    parser.add_argument('--result', required=True)
    parser.add_argument('--no-screen', action='store_true')
    args = parser.parse_args(argv)
    result = grade_submission(args.submission, args.folder, args.timeout,
                              use_screen=not args.no_screen)
    pathlib.Path(args.result).write_text(json.dumps(dataclasses.asdict(result)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
