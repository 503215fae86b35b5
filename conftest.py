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


@pytest.fixture(scope='module')
def lab(request, tmp_path_factory):
    """JupyterLab started by book/lab.sh as `make book` starts it (tests/test_jupyterlab.py's Lab),
    one per test module that asks for it, with the module's ``LAB_OPTIONS`` (lab.sh's own options;
    tests/test_chinese_lab.py's ("--zh",): `make book-zh`); the browser tests fail, saying what is
    missing, without headless Chromium or when lab.sh starts no server (its own message)."""
    import headless_chromium
    from test_jupyterlab import Lab
    lacking = headless_chromium.missing()
    if lacking:
        pytest.fail(f"JupyterLab is checked in headless Chromium, which needs {lacking}", pytrace=False)
    try:
        server = Lab(tmp_path_factory.mktemp('lab'), options=getattr(request.module, 'LAB_OPTIONS', ()))
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


# pytest-xdist (--dist loadscope) hands whole modules to the workers in collection order. Its default
# order is by number of tests, which started the longest modules (a few slow tests each) last, so one
# worker ran on alone at the end: pyproject turns that off (--no-loadscope-reorder) and this list puts
# the modules that took longest in `pytest --durations` first (longest first; the rest keep pytest's
# order). A module missing from the list only runs later; nothing is skipped. A worker takes its next
# module while the last two tests of its current one are left, so a module of one or two tests
# (test_check_mutants, test_chinese_lab) brings the module after it onto the same worker at once.
# Order from an interrupted -n 2 run on 2026-12-02 on a loaded machine (sums of each module's items
# among the 40 longest): jupyterlab ~560 s, nbgrader ~520, grader ~360, slides ~220, check_mutants
# ~160, chinese_website ~145, book ~110, stale_outputs ~75; check_mutants comes after the longer ones
# so that the module it brings along is a shorter one.
LONGEST_FIRST = [
    'tests/test_nbgrader.py', 'tests/test_jupyterlab.py', 'tests/test_grader.py', 'tests/test_slides.py',
    'tests/test_chinese_slides.py', 'tests/test_chinese_website.py', 'tests/test_book.py',
    'tests/test_check_mutants.py', 'tests/test_stale_outputs.py', 'chapters/05_training_resnet.ipynb',
    'tests/test_distributed.py', 'tests/test_handout.py', 'tests/test_chapter5.py',
    'tests/test_chinese_lab.py',
    'chapters/exercises/solutions/bottleneck.ipynb', 'tests/test_exercises_run.py',
]


def pytest_collection_modifyitems(config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split('::')[0], len(rank)))  # stable: order kept within


def pytest_xdist_auto_num_workers(config):
    """One worker more than cores (`-n auto`): the browser, notebook and grading tests spend much of
    their time waiting on other processes, and a third worker on two cores fills that time."""
    return (os.cpu_count() or 1) + 1
