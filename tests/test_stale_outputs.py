"""No stored output states settings that the current code would not print (issue 23).

Notebooks are committed with the outputs of a long run in the ``cpu`` profile, and their training
cells carry ``NBVAL_IGNORE_OUTPUT``, so nbval never sees a line such as ``Training: 3 epoch(s) ...``
that a later change of a profile, of ``training.train`` or of a chapter's arguments has made false.
This test re-runs every notebook that states settings, in the ``cpu`` profile, with its own code and
the library's own printing, but with every pass over the data cut to one batch
(``settings_check_kernel``), and compares the settings each cell printed with the stored ones, cell
by cell, whatever the cell's marker says. Later cells that need real training results may fail
there; that is ignored unless the failing cell prints settings.
"""
import copy
import os
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

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


def has_outputs(notebook):
    return any(cell.get('outputs') for cell in notebook.cells if cell.cell_type == 'code')


def states_settings(notebook):
    """Whether a notebook's stored outputs or its code state settings."""
    return any(settings_lines(stdout(cell)) or PRINTS_SETTINGS.search(cell.source)
               for cell in notebook.cells if cell.cell_type == 'code')


def execute(notebook, directory, setup, profile=COMMITTED_PROFILE, timeout=300):
    """Run ``notebook`` in a fresh kernel in ``profile``, after the code ``setup``; return the
    executed copy (errors are kept in the cells' outputs, and execution goes on after them)."""
    notebook = copy.deepcopy(notebook)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(setup))
    client = NotebookClient(notebook, timeout=timeout, allow_errors=True, kernel_name='python3',
                            resources={'metadata': {'path': str(directory)}})
    client.execute(env=dict(os.environ, D2LUTILS_PROFILE=profile))
    notebook.cells.pop(0)
    return notebook


def stale_cells(stored, fresh):
    """One message per code cell whose stored settings differ from those its code prints now, or
    whose code prints settings and failed."""
    problems = []
    for index, (before, now) in enumerate(zip(stored.cells, fresh.cells)):
        if before.cell_type != 'code':
            continue
        first_line = next((line for line in before.source.splitlines()
                           if line.strip() and not line.startswith('#')), '')
        where = f'cell {index} ({first_line.strip()[:60]})'
        stored_lines, fresh_lines = settings_lines(stdout(before)), settings_lines(stdout(now))
        failure = error(now)
        if failure and (stored_lines or PRINTS_SETTINGS.search(before.source)):
            problems.append(f'{where} failed in the check: {failure}')
        elif stored_lines != fresh_lines:
            problems.append(f'{where}:\n  stored: {stored_lines}\n  now:    {fresh_lines}')
    return problems


def notebooks_that_state_settings():
    paths = []
    for path in sorted((ROOT / 'chapters').rglob('*.ipynb')):
        notebook = nbformat.read(path, as_version=4)
        if '.ipynb_checkpoints' not in path.parts and has_outputs(notebook) and \
                states_settings(notebook):
            paths.append(path.relative_to(ROOT))
    return paths


@pytest.mark.parametrize('path', notebooks_that_state_settings(), ids=str)
def test_stored_settings_are_what_the_code_prints_now(path):
    stored = nbformat.read(ROOT / path, as_version=4)
    fresh = execute(stored, (ROOT / path).parent, SETUP)
    problems = stale_cells(stored, fresh)
    assert not problems, (
        f'{path} stores settings its code no longer prints; re-execute it '
        f'(D2LUTILS_PROFILE={COMMITTED_PROFILE} jupyter nbconvert --to notebook --execute '
        f'--inplace {path}):\n' + '\n'.join(problems))


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
# The cpu profile as it was before it became 2 epochs: what chapter 2's stored outputs show.
OLDER_CPU_PROFILE = ('import dataclasses\nfrom d2lutils import profiles\n'
                     "profiles.PROFILES['cpu'] = dataclasses.replace(profiles.PROFILES['cpu'], "
                     'num_epochs=3)')


@pytest.fixture(scope='module')
def fixture_notebook():
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in FIXTURE])


def test_the_check_refuses_outputs_of_an_older_profile(fixture_notebook, tmp_path):
    stored = execute(fixture_notebook, tmp_path, OLDER_CPU_PROFILE)  # a real run, not cut
    assert '3 epoch(s)' in stdout(stored.cells[0]) and 'epoch 3/3' in stdout(stored.cells[1])
    problems = stale_cells(stored, execute(stored, tmp_path, SETUP))
    assert [p.split(' (')[0] for p in problems] == ['cell 0', 'cell 1'], problems
    assert "stored: [\"Profile 'cpu'" in problems[0] and "3 epoch(s)" in problems[0]
    assert "'Training: 3 epoch(s) x 2 batches" in problems[1] and "'epoch 3/3'" in problems[1]


def test_the_check_accepts_outputs_made_by_the_current_code(fixture_notebook, tmp_path):
    stored = execute(fixture_notebook, tmp_path, '')  # re-executed: a real run, not cut
    assert 'Training: 2 epoch(s) x 2 batches' in stdout(stored.cells[1])
    fresh = execute(stored, tmp_path, SETUP)
    assert stale_cells(stored, fresh) == []
    # A settings line missing from the outputs (as when a cell was run before train printed one)
    for output in stored.cells[1].outputs:
        if output.output_type == 'stream':
            output.text = re.sub(r'^Training: .*\n', '', output.text, flags=re.M)
    problems = stale_cells(stored, fresh)
    assert len(problems) == 1 and problems[0].startswith('cell 1') and 'Training: 2' in problems[0]
