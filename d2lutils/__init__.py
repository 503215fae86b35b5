"""Helpers for the residual-networks book: data, run profiles, training, plotting and models.

Each submodule holds one subject (``d2lutils.data``, ``d2lutils.training``, ...). Only the few names
every chapter needs are lifted to the package level.
"""
import os

# MXNet sizes its OpenMP thread pool when it is first imported, and left to itself it kept one of two
# cores idle on the machines we measured (see benchmarks/README.md). Importing d2lutils before mxnet
# gives it every core. Passive waiting makes idle OpenMP threads sleep instead of spinning: training
# was 2.5-5x faster with it while other programs used the cores, and no slower on an idle machine.
# Values the reader has set are kept.
os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

from d2lutils.seeding import seed_everything  # noqa: E402
from d2lutils.profiles import get_profile  # noqa: E402

__all__ = ['seed_everything', 'get_profile']
__version__ = '0.1.0'
