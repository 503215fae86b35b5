"""The package's layers: pyproject.toml's import-linter contracts hold, name every module, and fail
when a cycle is planted (inside a function, where an import hides best).

import-linter (over grimp) reads every import statement of a module, those inside functions
included, without importing anything. Each check runs in a fresh process on a copy of the package
or on the package itself, so that the copy, not the installed one, is what gets read.
"""
import os
import pathlib
import shutil
import subprocess
import sys

import grimp

try:
    import tomllib
except ImportError:  # Python 3.10: import-linter itself depends on tomli there
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / 'pyproject.toml'

# Lint the package found first on sys.path (a copy when PYTHONPATH names one) with pyproject's
# contracts; no cache, so that nothing is written into the repository.
LINT = ('import sys\nfrom importlinter.cli import lint_imports\n'
        'sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))')


def lint(package_parent):
    return subprocess.run([sys.executable, '-c', LINT, str(PYPROJECT)], capture_output=True,
                          text=True, timeout=120, cwd=package_parent,  # `-c` puts the cwd first
                          env={**os.environ, 'PYTHONPATH': str(package_parent)})


def contracts():
    return tomllib.loads(PYPROJECT.read_text())['tool']['importlinter']['contracts']


def named_in_layers():
    names = set()
    for contract in contracts():
        for container in contract.get('containers', ['']):
            for layer in contract['layers']:
                names.update(f'{container}.{m.strip()}' if container else m.strip()
                             for m in layer.split('|'))
    return names


def test_the_contracts_hold():
    run = lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'Contracts: 2 kept, 0 broken.' in run.stdout, run.stdout


def test_every_module_is_in_a_layer():
    """A module left out of the layers could import anything; so none is left out."""
    modules = grimp.build_graph('d2lutils', cache_dir=None).modules
    unlisted = set(modules) - {'d2lutils'} - named_in_layers()
    assert not unlisted, f'name these in [tool.importlinter] in pyproject.toml: {sorted(unlisted)}'
    assert not named_in_layers() - set(modules), 'pyproject names modules that do not exist'


def test_no_cycle_through_the_package_itself():
    """The layers leave out ``d2lutils/__init__.py``, which imports gpu, seeding and profiles: none
    of those may lead back to it."""
    graph = grimp.build_graph('d2lutils', cache_dir=None)
    back = [m for m in graph.find_modules_directly_imported_by('d2lutils')
            if graph.chain_exists(importer=m, imported='d2lutils')]
    assert not back, f'{back} import d2lutils, which imports them'


def plant(tmp_path, module, line):
    """A copy of the package whose ``module`` imports ``line`` inside a function."""
    copy = tmp_path / 'd2lutils'
    shutil.copytree(ROOT / 'd2lutils', copy, ignore=shutil.ignore_patterns('__pycache__'))
    path = copy.joinpath(*module.split('.')[1:]).with_suffix('.py')
    path.write_text(path.read_text() + f'\n\ndef _planted():\n    {line}\n')
    return tmp_path


def test_a_cycle_inside_a_function_breaks_the_contract(tmp_path):
    """profiles <-> training, as it was: profiles imported the training loop inside a method."""
    run = lint(plant(tmp_path, 'd2lutils.profiles', 'from d2lutils import training'))
    assert run.returncode == 1, run.stdout + run.stderr
    assert 'd2lutils.profiles -> d2lutils.training' in run.stdout, run.stdout
    assert 'Contracts: 1 kept, 1 broken.' in run.stdout, run.stdout


def test_the_generator_importing_the_command_line_breaks_the_contract(tmp_path):
    """exercises <-> grading, as it was: the generator's module held the --grade command."""
    run = lint(plant(tmp_path, 'd2lutils.exercises.students',
                     'from d2lutils.exercises import grading'))
    assert run.returncode == 1, run.stdout + run.stderr
    assert 'd2lutils.exercises.students -> d2lutils.exercises.grading' in run.stdout, run.stdout
