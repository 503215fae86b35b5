"""One call that seeds every random generator a chapter's output depends on."""
import random

import numpy as onp


def seed_everything(seed=0):
    """Seed Python's ``random``, NumPy (which Gluon's DataLoader uses to shuffle) and MXNet.

    A checked notebook output (a gradient norm, a loss) is only reproducible when all three are fixed.
    """
    import mxnet as mx
    random.seed(seed)
    onp.random.seed(seed)
    mx.random.seed(seed)
