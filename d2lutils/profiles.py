"""Run profiles: the one place that decides how big a training run is.

The same notebook runs on a GPU (the classic chapter's setting), on a laptop's CPU (a real result in
minutes) and in the tests (seconds). ``get_profile`` picks one; ``D2LUTILS_PROFILE`` overrides it.
"""
import dataclasses
import os

ENV_VAR = 'D2LUTILS_PROFILE'


@dataclasses.dataclass(frozen=True)
class Profile:
    """Settings for one kind of run. ``None`` subset sizes mean the whole data set."""
    name: str
    purpose: str
    batch_size: int
    lr: float
    num_epochs: int
    resize: int | None = None
    train_subset: int | None = None
    test_subset: int | None = None

    def __str__(self):
        size = f'{self.resize}x{self.resize}' if self.resize else '28x28'
        train = 'all' if self.train_subset is None else f'{self.train_subset:,}'
        test = 'all' if self.test_subset is None else f'{self.test_subset:,}'
        return (f"Profile '{self.name}' ({self.purpose}): images {size}, batch {self.batch_size}, "
                f"lr {self.lr}, {self.num_epochs} epoch(s), train examples {train}, test examples {test}")


PROFILES = {
    'gpu': Profile('gpu', 'the classic chapter on a GPU', batch_size=256, lr=0.05, num_epochs=10,
                   resize=96),
    'cpu': Profile('cpu', 'full data on a laptop CPU, minutes', batch_size=128, lr=0.1, num_epochs=3),
    'quick': Profile('quick', 'tests only, seconds; results mean nothing', batch_size=128, lr=0.1,
                     num_epochs=1, train_subset=1024, test_subset=512),
}


def default_profile_name():
    """``gpu`` when MXNet sees a GPU, otherwise ``cpu``; ``quick`` is never chosen by default."""
    import mxnet as mx
    return 'gpu' if mx.context.num_gpus() > 0 else 'cpu'


def get_profile(name=None):
    """Return the profile named ``name``, else the one in ``$D2LUTILS_PROFILE``, else the default.

    An unknown name is an error rather than a silent fall-back, so that a typo never turns a full run
    into a quick one.
    """
    name = name or os.environ.get(ENV_VAR) or default_profile_name()
    try:
        return PROFILES[name]
    except KeyError:
        valid = ', '.join(sorted(PROFILES))
        raise ValueError(f"Unknown run profile {name!r} (from the argument or ${ENV_VAR}). "
                         f"Valid profiles: {valid}.") from None
