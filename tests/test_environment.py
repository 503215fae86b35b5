"""The installers agree: conda's environment, pyproject.toml, the Makefile and the platform check."""
import json
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from d2lutils import platforms

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']


def requirements_for(python, extras=()):
    """pyproject's requirements (the dependencies and the given extras) that apply on ``python``."""
    environment = {'python_version': python, 'python_full_version': f'{python}.0'}
    optional = PROJECT['optional-dependencies']
    listed = PROJECT['dependencies'] + [r for extra in extras for r in optional[extra]]
    requirements = [Requirement(r) for r in listed]
    return [r for r in requirements if r.marker is None or r.marker.evaluate(environment)]


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


def resolve(requirements, python, platform_tag, tmp_path):
    """What pip would install for ``requirements`` on another Python and platform, from PyPI.

    ``--dry-run`` with ``--report`` resolves from each wheel's separate metadata file (PEP 658), so
    the gpu extra's 3 GB of wheels are not downloaded: measured 9 s and 58 MB of memory. Markers are
    evaluated by requirements_for, since pip evaluates them for the Python it runs on.
    """
    report = tmp_path / 'report.json'
    subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--dry-run', '--quiet', '--ignore-installed',
         '--only-binary', ':all:', '--python-version', python, '--platform', platform_tag,
         '--target', str(tmp_path / 'target'), '--report', str(report)]
        + list(as_pins(requirements).values()), check=True)
    return {canonicalize_name(item['metadata']['name']): item['metadata']['version']
            for item in json.loads(report.read_text())['install']}


@pytest.mark.parametrize('python', ['3.11', '3.12'])
def test_the_gpu_extra_resolves(python, tmp_path):
    # The extra with the one base pin its packages constrain (mxnet-cu117 needs numpy<2): resolving
    # jupyter's tree as well took 45 s more per Python and tests nothing about the extra.
    requirements = [r for r in requirements_for(python, extras=['gpu'])
                    if r.name == 'numpy' or str(r) in PROJECT['optional-dependencies']['gpu']]
    resolved = resolve(requirements, python, 'manylinux2014_x86_64', tmp_path)
    for requirement in requirements:
        assert resolved[canonicalize_name(requirement.name)] in requirement.specifier, requirement
    assert 'mxnet' not in resolved            # the CPU build would overwrite the CUDA one
    assert len([name for name in resolved if name.startswith('nvidia-')]) == 10


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / 'README.md').read_text()
    ci = (ROOT / '.ci' / 'run').read_text()
    assert 'make test' in readme
    assert ci.strip().splitlines()[-1] == 'make test'
