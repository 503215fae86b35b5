"""Run profiles: the one place that decides how big a training run is.

The same notebook runs on a GPU (the classic chapter's setting), on a laptop's CPU (a real result in
minutes) and in the tests (seconds). ``get_profile`` picks one; ``D2LUTILS_PROFILE`` overrides it.
"""
import dataclasses
import os
from typing import Annotated

from d2lutils import arguments
from d2lutils.arguments import Check

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
    # The optimizer's recipe (SGD). The defaults are plain SGD at a constant learning rate.
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: str = 'constant'   # 'constant', or 'cosine'/'linear' decay to 0 after a warm-up
    warmup_epochs: float = 0.0
    # The ResNet-18 stem the chapters train (a key of d2lutils.models.STEMS).
    stem: str = 'imagenet'
    # Every layer's channels times this factor (``models.resnet(width=...)``); 1 is the paper's.
    width: float = 1.0

    def __str__(self):
        size = f'{self.resize}x{self.resize}' if self.resize else '28x28'
        if self.stem != 'imagenet':
            size += f' (ResNet-18 stem {self.stem!r})'
        if self.width != 1.0:
            size += f', ResNet-18 width x{self.width:g}'
        train = 'all' if self.train_subset is None else f'{self.train_subset:,}'
        test = 'all' if self.test_subset is None else f'{self.test_subset:,}'
        text = (f"Profile '{self.name}' ({self.purpose}): images {size}, batch {self.batch_size}, "
                f"lr {self.lr}, {self.num_epochs} epoch(s), train examples {train}, test examples {test}")
        if (self.momentum, self.weight_decay, self.lr_schedule) != (0.0, 0.0, 'constant'):
            text += (f"; SGD momentum {self.momentum}, weight decay {self.weight_decay:g}, "
                     f"lr schedule {self.lr_schedule}")
            if self.warmup_epochs:
                text += f' after {self.warmup_epochs:g} warm-up epoch(s)'
        return text

    @arguments.checked
    def lr_scheduler(self, batches_per_epoch: Annotated[int, Check(arguments.positive_int)]):
        """A fresh MXNet learning-rate scheduler for this profile's run, or None when constant."""
        from d2lutils import schedules  # imports MXNet, which `import d2lutils` must not load yet
        return schedules.make_lr_scheduler(self.lr_schedule, self.lr, self.num_epochs * batches_per_epoch,
                                 int(self.warmup_epochs * batches_per_epoch))

    @arguments.checked
    def optimizer_params(self, batches_per_epoch: Annotated[int, Check(arguments.positive_int)]):
        """SGD's settings besides the learning rate, for ``training.train(optimizer_params=...)``."""
        params = {'momentum': self.momentum, 'wd': self.weight_decay}
        scheduler = self.lr_scheduler(batches_per_epoch)
        if scheduler is not None:
            params['lr_scheduler'] = scheduler
        return params


PROFILES = {
    # gpu: Dive into Deep Learning 1.0's ResNet section (96x96, batch 256, lr 0.05, 10 epochs); the
    # classic d2l-zh v0 chapter had the same size, batch and rate with 5 epochs.
    'gpu': Profile('gpu', "d2l 1.0's setting on a GPU", batch_size=256, lr=0.05, num_epochs=10,
                   resize=96),
    # cpu: chosen from the frontier in benchmarks/README.md: ResNet-18 at a quarter of the paper's
    # width (stages of 16, 32, 64 and 128 channels) with a 3x3 stride-2 stem and no max-pool (28x28 ->
    # 14x14, stage 4 at 2x2), SGD with momentum and weight decay, a warm-up then a cosine decay to 0
    # at the last update, five epochs.
    'cpu': Profile('cpu', 'full data on a laptop CPU, minutes', batch_size=128, lr=0.1, num_epochs=5,
                   momentum=0.9, weight_decay=5e-4, lr_schedule='cosine', warmup_epochs=0.3,
                   stem='small-stride2', width=0.25),
    # quick: the cpu profile's network on small subsets, so the tests run the network it trains.
    'quick': Profile('quick', 'tests only, seconds; results mean nothing', batch_size=128, lr=0.1,
                     num_epochs=1, train_subset=1024, test_subset=512, stem='small-stride2',
                     width=0.25),
}


def default_profile_name():
    """``gpu`` when MXNet sees a GPU, otherwise ``cpu``; ``quick`` is never chosen by default.

    A GPU that MXNet's CUDA build has no kernels for was hidden from MXNet when d2lutils was imported
    (``d2lutils.gpu``); the reader is told in one line why the book then runs on the CPU.
    """
    import mxnet as mx
    from d2lutils import gpu
    if mx.context.num_gpus() > 0:
        return 'gpu'
    reason = gpu.unusable_gpu_message()
    if reason:
        print(reason)
    return 'cpu'


def refuse_gpu_profile_without_gpu(name):
    """The 'gpu' profile where MXNet sees no GPU would train at 96x96 on the CPU for over an hour."""
    import mxnet as mx
    if name == 'gpu' and mx.context.num_gpus() == 0:
        raise arguments.ArgumentError(
            f"name (or ${ENV_VAR}) is 'gpu', a run profile that needs a GPU, and MXNet sees "
            f"none here: on this CPU its 10 epochs at 96x96 would take hours. Use the 'cpu' "
            f"profile: get_profile('cpu'), or set {ENV_VAR}=cpu and restart the kernel.")


@arguments.checked
def get_profile(name: Annotated[str | None, Check(arguments.text,
                                                  none_means=f'${ENV_VAR}, else the default')] = None):
    """Return the profile named ``name``, else the one in ``$D2LUTILS_PROFILE``, else the default.

    An unknown name is an error rather than a silent fall-back, so that a typo never turns a full run
    into a quick one; so is the 'gpu' profile on a machine whose MXNet sees no GPU.
    """
    name = name or os.environ.get(ENV_VAR) or default_profile_name()
    if name not in PROFILES:
        valid = ', '.join(sorted(PROFILES))
        raise arguments.ArgumentError(f"name (or ${ENV_VAR}) must be a run profile's name; got "
                                      f"{name!r}, an unknown run profile. Valid profiles: {valid}.")
    refuse_gpu_profile_without_gpu(name)
    return PROFILES[name]
