"""The installers agree: conda's environment, pyproject.toml, the Makefile and the platform check."""
import json
import pathlib
import re

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from benchmarks import resolve_gpu_extra as gpu_extra
from d2lutils import platforms

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = gpu_extra.PROJECT
requirements_for = gpu_extra.requirements_for


def as_pins(requirements):
    return {r.name: f'{r.name}{r.specifier}' for r in requirements}


def environment_yml():
    return yaml.safe_load((ROOT / 'environment.yml').read_text())


def test_environment_yml_pins_what_pyproject_pins_for_its_python():
    env = environment_yml()
    python = next(d for d in env['dependencies'] if isinstance(d, str) and d.startswith('python='))
    pip_section = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict))
    pins = as_pins(Requirement(d) for d in pip_section if not d.startswith('-e'))
    assert pins == as_pins(requirements_for(python.removeprefix('python='), extras=['cpu']))
    assert '-e .' in pip_section


def test_environment_python_is_one_the_book_supports():
    env = environment_yml()
    python = next(d for d in env['dependencies'] if isinstance(d, str) and d.startswith('python='))
    assert tuple(int(n) for n in python.removeprefix('python=').split('.')) in platforms.SUPPORTED_PYTHONS


def test_requires_python_and_the_make_check_accept_the_same_versions():
    requires = SpecifierSet(PROJECT['requires-python'])
    for minor in range(6, 16):
        assert requires.contains(f'3.{minor}.0') == ((3, minor) in platforms.SUPPORTED_PYTHONS), minor


def test_d2l_is_pinned_alike_where_pyproject_and_the_makefile_install_it():
    makefile_pin = re.search(r'^D2L := (\S+)$', (ROOT / 'Makefile').read_text(), re.M).group(1)
    assert as_pins(requirements_for('3.11'))['d2l'] == makefile_pin
    assert 'd2l' not in as_pins(requirements_for('3.12'))   # its numpy pin has no 3.12 wheel


def test_python_3_12_gets_what_mxnet_needs_there():
    pins = as_pins(requirements_for('3.12'))
    assert pins['numpy'].startswith('numpy==1.26')   # numpy.bool restored by d2lutils
    assert 'setuptools' in pins                      # distutils, which MXNet imports
    assert as_pins(requirements_for('3.11'))['numpy'] == 'numpy==1.23.5'


@pytest.mark.parametrize('python', gpu_extra.PYTHONS)
def test_the_gpu_extra_resolves(python):
    """benchmarks/resolve_gpu_extra.py's committed record (pip's resolution from PyPI, run by hand:
    the index is not reached here) is of pyproject's current gpu extra, and what it resolved meets it."""
    record = json.loads(gpu_extra.RECORD.read_text())['pythons'][python]
    rerun = 'run .venv/bin/python benchmarks/resolve_gpu_extra.py and commit its record'
    assert record['requirements'] == gpu_extra.gpu_requirements(python), \
        f"pyproject's gpu extra changed since the record was made: {rerun}"
    resolved = record['resolved']
    for requirement in map(Requirement, record['requirements']):
        assert resolved[canonicalize_name(requirement.name)] in requirement.specifier, requirement
    assert 'mxnet' not in resolved            # the CPU build would overwrite the CUDA one
    assert len([name for name in resolved if name.startswith('nvidia-')]) == 10


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / 'README.md').read_text()
    ci = (ROOT / '.ci' / 'run').read_text()
    assert 'make test' in readme
    assert ci.strip().splitlines()[-1] == 'make test'
