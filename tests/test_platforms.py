"""The check `make` runs first: one line for a Python or a platform that cannot run the book."""
import platform
import subprocess
import sys

import pytest

from d2lutils import platforms


@pytest.mark.parametrize('version', [(3, 10, 13), (3, 11, 7), (3, 12, 1)])
def test_supported_pythons_pass(version):
    assert platforms.python_problem(version) is None


@pytest.mark.parametrize('version, reason', [((3, 13, 0), 'numpy 1.x'), ((3, 14, 0), 'numpy 1.x'),
                                             ((3, 9, 18), '3.10 syntax')])
def test_other_pythons_get_one_line_naming_a_supported_one(version, reason):
    message = platforms.python_problem(version)
    assert '\n' not in message and reason in message
    assert f'Python {version[0]}.{version[1]} cannot run the book' in message
    assert 'make PYTHON=python3.12' in message


@pytest.mark.parametrize('system, machine', [('Linux', 'x86_64'), ('Linux', 'aarch64'),
                                             ('Darwin', 'x86_64')])
def test_platforms_with_an_mxnet_build_pass(system, machine):
    assert platforms.platform_problem(system, machine) is None


@pytest.mark.parametrize('system, machine, route', [
    ('Windows', 'AMD64', 'WSL 2'),
    ('Darwin', 'arm64', 'Rosetta 2'),
    ('Linux', 'ppc64le', 'Linux x86_64, Linux aarch64 and macOS x86_64 only'),
])
def test_other_platforms_get_one_line_with_the_route_that_works(system, machine, route):
    message = platforms.platform_problem(system, machine)
    assert '\n' not in message and route in message


def test_the_gpu_build_is_for_linux_x86_64_only():
    assert platforms.platform_problem('Linux', 'x86_64', gpu=True) is None
    assert 'without GPU=1' in platforms.platform_problem('Linux', 'aarch64', gpu=True)


def test_main_exits_1_with_the_line_on_stderr(monkeypatch, capsys):
    monkeypatch.setattr(platform, 'system', lambda: 'Windows')
    assert platforms.main([]) == 1
    assert capsys.readouterr().err.count('\n') == 1


def test_runs_as_a_script_without_importing_the_package():
    # `make` runs it with a Python that has none of the book's packages yet: -I ignores site-packages.
    result = subprocess.run([sys.executable, '-I', platforms.__file__], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, '')


def test_numpy_bool_is_restored_only_where_numpy_lacks_it():
    import numpy
    import d2lutils  # noqa: F401
    if numpy.lib.NumpyVersion(numpy.__version__) >= '1.24.0':   # Python 3.12's numpy 1.26
        assert numpy.__dict__['bool'] is numpy.bool_
    else:                                                        # 3.10 and 3.11 keep numpy 1.23.5
        assert 'bool' not in numpy.__dict__


def test_mxnet_imports_after_d2lutils_without_a_word_on_stderr():
    # nbval compares stderr too: a FutureWarning from the shim would fail every chapter.
    result = subprocess.run([sys.executable, '-c', 'import d2lutils, mxnet'], capture_output=True,
                            text=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, '')
