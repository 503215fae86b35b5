"""Resolve pyproject's ``gpu`` extra for Linux x86-64 on Python 3.11 and 3.12, from PyPI, and record
what pip would install: benchmarks/gpu_extra_resolution.json.

    .venv/bin/python benchmarks/resolve_gpu_extra.py

Run it by hand (it needs the package index and about a minute of CPU per Python) whenever the
``gpu`` extra or the numpy pin changes; tests/test_environment.py checks that the committed record was
made from pyproject's current requirements and that what it resolved satisfies them (the CUDA
build of MXNet, never the CPU one, and its ten NVIDIA libraries). No GPU is needed: pip's
``--dry-run --report`` resolves from each wheel's metadata file (PEP 658), so the extra's 3 GB of
wheels are not downloaded.
"""
from __future__ import annotations

import datetime as dt
import json
import pathlib
import subprocess
import sys
import tempfile
try:
    import tomllib
except ImportError:  # Python 3.10: pytest and import-linter depend on tomli there
    import tomli as tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
RECORD = ROOT / 'benchmarks' / 'gpu_extra_resolution.json'
PYTHONS = ('3.11', '3.12')
PLATFORM = 'manylinux2014_x86_64'


def requirements_for(python, extras=()):
    """pyproject's requirements (the dependencies and the given extras) that apply on ``python``."""
    environment = {'python_version': python, 'python_full_version': f'{python}.0'}
    optional = PROJECT['optional-dependencies']
    listed = PROJECT['dependencies'] + [r for extra in extras for r in optional[extra]]
    requirements = [Requirement(r) for r in listed]
    return [r for r in requirements if r.marker is None or r.marker.evaluate(environment)]


def gpu_requirements(python):
    """The extra with the one base pin its packages constrain (mxnet-cu117 needs numpy<2); jupyter's
    tree is left out (it took 45 s more per Python and tells nothing about the extra). Markers are
    evaluated here, since pip evaluates them for the Python it runs on."""
    return [f'{r.name}{r.specifier}' for r in requirements_for(python, extras=['gpu'])
            if r.name == 'numpy' or str(r) in PROJECT['optional-dependencies']['gpu']]


def resolve(pins, python, folder):
    """{package: version} that pip would install for ``pins`` on ``python`` and PLATFORM."""
    report = pathlib.Path(folder) / 'report.json'
    subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--dry-run', '--quiet', '--ignore-installed',
         '--only-binary', ':all:', '--python-version', python, '--platform', PLATFORM,
         '--target', str(pathlib.Path(folder) / 'target'), '--report', str(report)] + pins, check=True)
    return {canonicalize_name(item['metadata']['name']): item['metadata']['version']
            for item in json.loads(report.read_text())['install']}


def main():
    record = {'platform': PLATFORM, 'date': dt.date.today().isoformat(), 'pythons': {}}
    for python in PYTHONS:
        pins = gpu_requirements(python)
        with tempfile.TemporaryDirectory() as folder:
            resolved = resolve(pins, python, folder)
        record['pythons'][python] = {'requirements': pins, 'resolved': dict(sorted(resolved.items()))}
        print(f'Python {python}: {len(resolved)} packages, mxnet-cu117 {resolved.get("mxnet-cu117")}')
    RECORD.write_text(json.dumps(record, indent=1) + '\n')
    print(f'wrote {RECORD.relative_to(ROOT)}')


if __name__ == '__main__':
    main()
