"""Which Pythons and platforms can run the book, checked before `make` installs anything.

``make`` runs this file as a script with the interpreter it is about to use, so that an unsupported
Python or platform gets one line saying what to do instead of a resolver error deep inside pip. It is
run as a file, not imported through ``d2lutils`` (whose ``__init__`` needs MXNet), and it keeps to
syntax old Pythons parse (no f-strings), so that even a Python 3.5 reaches the message.
"""
import platform
import sys

# requires-python in pyproject.toml says the same (tests/test_environment.py keeps the two in step).
# 3.13 needs numpy 2, and MXNet 1.9.1 uses names numpy 2 removed (np.PZERO, ...).
SUPPORTED_PYTHONS = ((3, 10), (3, 11), (3, 12))
RECOMMENDED_PYTHON = '3.12'

# (platform.system(), platform.machine()) pairs with an `mxnet==1.9.1` wheel on PyPI
# (manylinux2014_x86_64, manylinux2014_aarch64, macosx_10_13_x86_64), found with pip --only-binary.
# An x86_64 Python under Rosetta 2 on Apple Silicon reports ('Darwin', 'x86_64').
SUPPORTED_PLATFORMS = (('Linux', 'x86_64'), ('Linux', 'aarch64'), ('Darwin', 'x86_64'))
# `mxnet-cu117==1.9.1` and the nvidia-*-cu11 wheels of the `gpu` extra exist for this one.
GPU_PLATFORMS = (('Linux', 'x86_64'),)


def python_problem(version):
    """One line saying why this Python cannot run the book, or None when it can."""
    major_minor = tuple(version[:2])
    if major_minor in SUPPORTED_PYTHONS:
        return None
    supported = ', '.join('%d.%d' % v for v in SUPPORTED_PYTHONS)
    reason = ('MXNet 1.9.1 needs numpy 1.x, which has no build for it'
              if major_minor > SUPPORTED_PYTHONS[-1] else "the book's code uses Python 3.10 syntax")
    return ('Python %d.%d cannot run the book (%s). Use Python %s (supported: %s): '
            'make PYTHON=python%s' % (major_minor + (reason, RECOMMENDED_PYTHON, supported,
                                                    RECOMMENDED_PYTHON)))


def platform_problem(system, machine, gpu=False):
    """One line saying why this system cannot run the book (or its GPU build), or None when it can."""
    if system == 'Windows':
        return ('Windows cannot run the book directly: MXNet 1.9.1 has no Windows build. '
                'Install WSL 2 (`wsl --install`), then run make inside its Ubuntu.')
    if system == 'Darwin' and machine == 'arm64':
        return ('Apple Silicon (macOS arm64) has no MXNet 1.9.1 build: use an x86_64 Python under '
                'Rosetta 2 (make PYTHON=/path/to/x86_64/python3.12) or a Linux aarch64 VM or container.')
    if (system, machine) not in SUPPORTED_PLATFORMS:
        return ('%s on %s has no MXNet 1.9.1 build (there are builds for Linux x86_64, Linux aarch64 '
                'and macOS x86_64 only).' % (system, machine))
    if gpu and (system, machine) not in GPU_PLATFORMS:
        return ("MXNet's GPU build (mxnet-cu117) exists for Linux x86_64 only: "
                'run make without GPU=1 on %s %s.' % (system, machine))
    return None


def main(argv):
    """Exit 1 with one line on stderr when this interpreter or machine cannot run the book."""
    problem = (platform_problem(platform.system(), platform.machine(), gpu='--gpu' in argv)
               or python_problem(sys.version_info))
    if problem:
        sys.stderr.write(problem + '\n')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
