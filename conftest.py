"""Test-wide settings, loaded before any notebook kernel starts (kernels inherit this environment)."""
import os

# Every notebook runs in the 'quick' profile under test, whatever the reader's shell says.
os.environ['D2LUTILS_PROFILE'] = 'quick'
# pytest-xdist runs one worker per core; an OpenMP pool per worker as wide as the machine would
# oversubscribe the cores, and MXNet's small operations then ran 10x slower in our measurements.
os.environ['OMP_NUM_THREADS'] = '1'
# d2lutils makes MXNet importable on Python 3.12 (it restores numpy.bool before mxnet loads), so it
# must be imported before any test module imports mxnet.
import d2lutils  # noqa: E402,F401

import pytest  # noqa: E402


@pytest.fixture
def no_data_anywhere(monkeypatch, tmp_path):
    """No real Fashion-MNIST anywhere: no D2LUTILS_DATA, and the MXNet and Debian folders point
    into tmp_path (returned). Tests of reading write their own files there; tests of argument
    checks use it to show that a bad argument is refused before any file is looked for."""
    from d2lutils import data
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, 'mxnet_data_dir', lambda: tmp_path / 'mxnet-home')
    monkeypatch.setattr(data, 'DEBIAN_DIR', tmp_path / 'debian')
    return tmp_path
