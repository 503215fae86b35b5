"""No stored output states settings that the current code would not print (issue 23).

Notebooks are committed with the outputs of a long run in the ``cpu`` profile, and their training
cells carry ``NBVAL_IGNORE_OUTPUT``, so nbval never sees a line such as ``Training: 3 epoch(s) ...``
that a later change of a profile, of ``training.train`` or of a chapter's arguments has made false.
This test re-runs, for every notebook that states settings, the cells that state them and the cells
they need (read from the code: every earlier cell that defines a name they read), all notebooks in
one kernel in the ``cpu`` profile (the one the fixture notebook below runs in first), with their own code and the library's own printing but little
work (``settings_check_kernel``: one batch per pass over the data, a one-layer network trained in
place of the chapter's). It compares the settings each cell printed with the stored ones, cell by
cell, whatever the cell's marker says; a settings cell that fails in the check is reported too.
"""
import ast
import contextlib
import copy
import os
import pathlib
import re
import resource

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from d2lutils import profiles

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The profile the committed outputs are made in (CONTRIBUTING.md, "Notebook habits").
COMMITTED_PROFILE = 'cpu'
# Lines that state settings, compared whole: the profile, training.train's and train_side_by_side's
# first lines, and the chapters' own lines about their runs' data and budget.
WHOLE_LINES = re.compile(r"^(Profile '|Training: |Side by side: |this experiment: |both networks: )"
                         r"|\bbatches of \d+ per epoch\b")
# Parts of result lines that state a setting (the number of epochs); the results beside them vary.
FRAGMENTS = re.compile(r"^epoch \d+/\d+(?=:)|\bafter \d+ epoch\(s\)|\bafter epoch \d+\b")
# Code that prints settings: a cell holding it must run without an error in the check.
PRINTS_SETTINGS = re.compile(r"\btrain(_side_by_side)?\(|print\((profile|run)\b|get_profile\(")
SETUP = (f'import sys\nsys.path.insert(0, {str(ROOT / "tests")!r})\n'
         'import settings_check_kernel\nsettings_check_kernel.install()')


def settings_lines(text):
    """The settings stated in ``text``: whole settings lines, and the settings parts of others."""
    found = []
    for line in text.splitlines():
        if WHOLE_LINES.search(line):
            found.append(line.rstrip())
        else:
            found += FRAGMENTS.findall(line)
    return found


def stdout(cell):
    return ''.join(o.get('text', '') for o in cell.get('outputs', [])
                   if o.output_type == 'stream' and o.name == 'stdout')


def error(cell):
    return next((f'{o.ename}: {o.evalue}' for o in cell.get('outputs', [])
                 if o.output_type == 'error'), None)


def parse(source):
    """A cell's code as a Python syntax tree, its magics read as Python."""
    return ast.parse(TransformerManager().transform_cell(source))


def names(source):
    """(names a cell defines, names it reads)."""
    defined, read = set(), set()
    for node in ast.walk(parse(source)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split('.')[0] for a in node.names)
    return defined, read


def settings_cells(notebook):
    """Indices of the code cells that store settings or whose code prints them: those that call
    ``train``, print a profile, or call a function a cell of the notebook defines around them."""
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == 'code']
    printing = {i for i in code
                if settings_lines(stdout(notebook.cells[i])) or
                PRINTS_SETTINGS.search(notebook.cells[i].source)}
    wrappers = {node.name for i in printing for node in parse(notebook.cells[i].source).body
                if isinstance(node, ast.FunctionDef)}
    return sorted(printing | {i for i in code if names(notebook.cells[i].source)[1] & wrappers})


def needed_cells(notebook, targets):
    """The code cells ``targets`` need, in order: for every name a needed cell reads and does not
    define, every cell before it that defines the name (a later one may do it only under a
    condition); the first cell, the imports, always."""
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == 'code']
    scopes = {i: names(notebook.cells[i].source) for i in code}
    needed, todo = set(), [code[0], *targets]
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        for name in scopes[i][1] - scopes[i][0]:
            todo += [j for j in code if j < i and name in scopes[j][0]]
    return sorted(needed)


@contextlib.contextmanager
def one_kernel(profile=COMMITTED_PROFILE, timeout=300):
    """A fresh kernel in ``profile``, for the time of the ``with``; yields ``run(parts)``, which
    runs ``parts``, a list of (set-up code, cells, folder), one after another in that kernel: for
    each, the namespace is emptied, the folder made current and the set-up code run before the
    cells. ``run`` returns the executed cells of each part; an error stays in its cell's outputs,
    and execution goes on after it. Later calls of ``run`` use the same kernel (one start, one
    import of MXNet), so a call may depend on what an earlier one printed."""
    notebook = nbformat.v4.new_notebook()
    client = NotebookClient(notebook, timeout=timeout, allow_errors=True, kernel_name='python3')

    def run(parts):
        runs = []
        for setup, part_cells, folder in parts:
            cells = [nbformat.v4.new_code_cell(
                f"get_ipython().run_line_magic('reset', '-f')\nimport os\nos.chdir({str(folder)!r})\n"
                f"{setup}")] + [nbformat.v4.new_code_cell(cell.source) for cell in part_cells]
            for cell in cells:
                notebook.cells.append(cell)
                client.execute_cell(cell, len(notebook.cells) - 1)
            assert not error(cells[0]), error(cells[0])
            runs.append(cells[1:])
        return runs

    with client.setup_kernel(env=dict(os.environ, D2LUTILS_PROFILE=profile)):
        yield run


def stale_cells(stored, fresh):
    """One message per code cell of ``stored`` (a dict: index -> cell) whose stored settings differ
    from those its code printed in ``fresh`` (the same keys), or whose code failed there."""
    problems = []
    for index, before in stored.items():
        now = fresh[index]
        first_line = next((line for line in before.source.splitlines()
                           if line.strip() and not line.startswith('#')), '')
        where = f'cell {index} ({first_line.strip()[:60]})'
        stored_lines, fresh_lines = settings_lines(stdout(before)), settings_lines(stdout(now))
        if error(now):
            problems.append(f'{where} failed in the check: {error(now)}')
        elif stored_lines != fresh_lines:
            problems.append(f'{where}:\n  stored: {stored_lines}\n  now:    {fresh_lines}')
    return problems


def check(notebooks, run):
    """For each (notebook, folder): the messages of ``stale_cells`` for its settings cells, each
    re-run after only the cells it needs, all in the kernel of ``run`` (``one_kernel``) with the
    cheap stand-ins."""
    plans = [(notebook, needed_cells(notebook, settings_cells(notebook)))
             for notebook, _ in notebooks]
    runs = run([(SETUP, [notebook.cells[i] for i in needed], folder)
                              for (notebook, needed), (_, folder) in zip(plans, notebooks)])
    results = []
    for (notebook, needed), executed in zip(plans, runs):
        fresh = dict(zip(needed, executed))
        results.append(stale_cells({i: notebook.cells[i] for i in settings_cells(notebook)},
                                   fresh))
    return results


def has_outputs(notebook):
    return any(cell.get('outputs') for cell in notebook.cells if cell.cell_type == 'code')


def notebooks_that_state_settings():
    paths = []
    for path in sorted((ROOT / 'chapters').rglob('*.ipynb')):
        notebook = nbformat.read(path, as_version=4)
        if '.ipynb_checkpoints' not in path.parts and has_outputs(notebook) and \
                settings_cells(notebook):
            paths.append(path.relative_to(ROOT))
    return paths


NOTEBOOKS = notebooks_that_state_settings()


@pytest.fixture(scope='module')
def chapter_problems(checked):
    """Per notebook path, what the check finds."""
    return checked['chapters']


@pytest.mark.parametrize('path', NOTEBOOKS, ids=str)
def test_stored_settings_are_what_the_code_prints_now(path, chapter_problems):
    assert not chapter_problems[path], (
        f'{path} stores settings its code no longer prints; re-execute it '
        f'(D2LUTILS_PROFILE={COMMITTED_PROFILE} jupyter nbconvert --to notebook --execute '
        f'--inplace {path}):\n' + '\n'.join(chapter_problems[path]))


def test_settings_lines_are_found_whole_or_in_part():
    text = ("Profile 'cpu' (x): batch 128\nTraining: 2 epoch(s) x 469 batches, SGD lr 0.1\n"
            "epoch 1/3: loss 0.8, train acc 0.7\nplain-8 seed 0: training error 0.1 after 4 "
            "epoch(s), 49 s\nloss 0.222, train acc 0.918\nafter epoch 4, mean over seeds\n"
            "4,000 training and 2,000 test images, 32 batches of 128 per epoch")
    assert settings_lines(text) == [
        "Profile 'cpu' (x): batch 128", 'Training: 2 epoch(s) x 469 batches, SGD lr 0.1',
        'epoch 1/3', 'after 4 epoch(s)', 'after epoch 4',
        '4,000 training and 2,000 test images, 32 batches of 128 per epoch']


# A notebook that states its settings the ways the chapters do: the profile, then a training run.
FIXTURE = [
    'import d2lutils\nfrom d2lutils import data, training\nfrom mxnet import npx\n'
    'from mxnet.gluon import nn\nnpx.set_np()\nprofile = d2lutils.get_profile()\nprint(profile)',
    '# NBVAL_IGNORE_OUTPUT\n'
    'train_iter, test_iter = data.load_fashion_mnist(profile.batch_size, train_subset=256,\n'
    '                                                test_subset=128)\n'
    'history = training.train(nn.Dense(10), train_iter, test_iter, profile.num_epochs, profile.lr,\n'
    '                         optimizer_params=profile.optimizer_params(len(train_iter)),\n'
    '                         live_plot=False)',
]
# A cpu profile of 3 epochs (an older one; the current one has another number), and the current
# one back (reloading the module rebuilds its profiles).
OLDER_CPU_PROFILE = ('import dataclasses\nfrom d2lutils import profiles\n'
                     "profiles.PROFILES['cpu'] = dataclasses.replace(profiles.PROFILES['cpu'], "
                     'num_epochs=3)')
CPU_EPOCHS = profiles.PROFILES['cpu'].num_epochs
assert CPU_EPOCHS != 3, 'the fixture needs an older profile that differs from the current one'
CURRENT_CPU_PROFILE = 'import importlib\nfrom d2lutils import profiles\nimportlib.reload(profiles)'


@pytest.fixture(scope='module')
def checked(tmp_path_factory):
    """One kernel for the whole module (a kernel's start and MXNet's import cost more than the
    check itself): first the fixture notebook executed for real (not cut) in the older cpu profile,
    then in the current one; then the check, with its stand-ins, of every chapter that states
    settings and of the fixture's two runs and of the current one with its Training line removed
    from the outputs (as when a cell ran before train printed that line)."""
    folder = tmp_path_factory.mktemp('fixture')
    cells = [nbformat.v4.new_code_cell(source) for source in FIXTURE]
    chapters = [(nbformat.read(ROOT / path, as_version=4), (ROOT / path).parent)
                for path in NOTEBOOKS]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with one_kernel() as run:
        older, current = (nbformat.v4.new_notebook(cells=executed) for executed in run(
            [(OLDER_CPU_PROFILE, cells, folder), (CURRENT_CPU_PROFILE, cells, folder)]))
        missing = copy.deepcopy(current)
        for output in missing.cells[1].outputs:
            if output.output_type == 'stream':
                output.text = re.sub(r'^Training: .*\n', '', output.text, flags=re.M)
        problems = check(chapters + [(notebook, folder) for notebook in (older, current, missing)],
                         run)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f'settings check of {len(NOTEBOOKS)} notebooks and the fixture: '
          f'{after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime:.0f} s of CPU')
    return {'chapters': dict(zip(NOTEBOOKS, problems)), 'fixture': (older, current, problems[-3:])}


@pytest.fixture(scope='module')
def fixture_runs(checked):
    """The fixture's older and current runs, and the check's findings on the older, the current
    and the current without its Training line."""
    return checked['fixture']


def test_the_check_refuses_outputs_of_an_older_profile(fixture_runs):
    older, _, (problems, _, _) = fixture_runs
    assert '3 epoch(s)' in stdout(older.cells[0]) and 'epoch 3/3' in stdout(older.cells[1])
    assert [p.split(' (')[0] for p in problems] == ['cell 0', 'cell 1'], problems
    assert "stored: [\"Profile 'cpu'" in problems[0] and "3 epoch(s)" in problems[0]
    assert "'Training: 3 epoch(s) x 2 batches" in problems[1] and "'epoch 3/3'" in problems[1]


def test_the_check_accepts_outputs_made_by_the_current_code(fixture_runs):
    _, current, (_, problems, _) = fixture_runs
    assert f'Training: {CPU_EPOCHS} epoch(s) x 2 batches' in stdout(current.cells[1])
    assert problems == []


def test_the_check_refuses_a_missing_settings_line(fixture_runs):
    _, _, (_, _, problems) = fixture_runs
    assert len(problems) == 1 and problems[0].startswith('cell 1')
    assert f'Training: {CPU_EPOCHS}' in problems[0]
