"""One call that seeds every random generator a chapter's output depends on."""
import random
from typing import Annotated

import numpy as onp

from d2lutils import arguments
from d2lutils.arguments import Check


@arguments.checked
def seed_everything(seed: Annotated[int, Check(arguments.int_between, low=0, high=2**32 - 1,
                                               what=' (NumPy takes no other seeds)')] = 0):
    """Seed Python's ``random``, NumPy (which Gluon's DataLoader uses to shuffle) and MXNet.

    A checked notebook output (a gradient norm, a loss) is only reproducible when all three are fixed.
    """
    import mxnet as mx
    random.seed(seed)
    onp.random.seed(seed)
    mx.random.seed(seed)
