"""The conda environment and pyproject.toml pin the same packages; the README's commands exist."""
import pathlib
import re
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def pyproject_pins():
    project = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
    return {re.split(r'[=<>~!]', d)[0].strip(): d.replace(' ', '') for d in project['dependencies']}


def test_environment_yml_pins_what_pyproject_pins():
    env = yaml.safe_load((ROOT / 'environment.yml').read_text())
    pip_section = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict))
    pins = {re.split(r'[=<>~!]', d)[0]: d for d in pip_section if not d.startswith('-e')}
    assert pins == pyproject_pins()
    assert '-e .' in pip_section


def test_environment_python_is_allowed_by_pyproject():
    env = yaml.safe_load((ROOT / 'environment.yml').read_text())
    python = next(d for d in env['dependencies'] if isinstance(d, str) and d.startswith('python='))
    assert python == 'python=3.11'
    requires = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['requires-python']
    assert requires == '>=3.10,<3.12'


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / 'README.md').read_text()
    ci = (ROOT / '.ci' / 'run').read_text()
    assert 'make test' in readme
    assert ci.strip().splitlines()[-1] == 'make test'
