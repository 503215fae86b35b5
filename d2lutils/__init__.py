"""Helpers for the residual-networks book: data, run profiles, training, plotting and models.

Each submodule holds one subject (``d2lutils.data``, ``d2lutils.training``, ...). Only the few names
every chapter needs are lifted to the package level.
"""
import os
import warnings

# MXNet sizes its OpenMP thread pool when it is first imported, and left to itself it kept one of two
# cores idle on the machines we measured (see benchmarks/README.md). Importing d2lutils before mxnet
# gives it every core. Passive waiting makes idle OpenMP threads sleep instead of spinning: training
# was 2.5-5x faster with it while other programs used the cores, and no slower on an idle machine.
# Values the reader has set are kept.
# A value that is not a positive whole number is replaced, and the reader told: MXNet's import aborts
# the process on OMP_NUM_THREADS=two (SIGABRT: the kernel dies without a word), and OpenMP ignores
# OMP_NUM_THREADS=0 with only a line on stderr.
os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
if not os.environ['OMP_NUM_THREADS'].strip().isdigit() or int(os.environ['OMP_NUM_THREADS']) < 1:
    warnings.warn(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']!r} is not a positive whole "
                  f"number (MXNet aborts on a word, OpenMP ignores 0); using {os.cpu_count() or 1} (every core) "
                  f"instead. Set it to a number such as 2, or leave it unset.", stacklevel=2)
    os.environ['OMP_NUM_THREADS'] = str(os.cpu_count() or 1)
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy  # noqa: E402

from d2lutils import gpu  # noqa: E402

# With MXNet's CUDA build (the `gpu` extra), load its CUDA libraries from the nvidia-*-cu11 wheels and
# hide GPUs it has no kernels for; a no-op with the CPU build. It must run before MXNet loads.
gpu.prepare()

# Python 3.12 only: numpy 1.26, the oldest numpy with 3.12 wheels, no longer has the alias `numpy.bool`
# (removed in 1.24), which MXNet 1.9.1's mxnet/numpy/utils.py reads when it is imported. Restoring it
# as numpy.bool_ lets MXNet import; every chapter imports d2lutils before mxnet. numpy 1.23.5 (3.10,
# 3.11) still has the alias and is left alone. hasattr(numpy, 'bool') would make numpy 1.26 print a
# FutureWarning, so the module's dict is read instead. Remove this with Python 3.12 support.
if numpy.lib.NumpyVersion(numpy.__version__) >= '1.24.0' and 'bool' not in numpy.__dict__:
    numpy.bool = numpy.bool_

from d2lutils.seeding import seed_everything  # noqa: E402
from d2lutils.profiles import get_profile  # noqa: E402

__all__ = ['seed_everything', 'get_profile']
__version__ = '0.1.0'
