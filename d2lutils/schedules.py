"""Learning-rate schedules: how the rate moves over a run, built as MXNet schedulers.

A profile names its schedule (``Profile.lr_schedule``) and ``Profile.lr_scheduler`` builds it
here; the training loop only receives the scheduler in ``optimizer_params``. Kept apart from
``training`` so that ``profiles``, which everything imports, need not import the training loop.
"""
from typing import Annotated

from mxnet import lr_scheduler

from d2lutils import arguments
from d2lutils.arguments import Check, checked


@checked
def make_lr_scheduler(
        schedule: Annotated[str, Check(arguments.one_of, choices=('constant', 'cosine', 'linear'))],
        lr: Annotated[float, Check(arguments.positive_finite)],
        total_steps: Annotated[int, Check(arguments.positive_int)],
        warmup_steps: Annotated[int, Check(arguments.non_negative_int)] = 0):
    """An MXNet learning-rate scheduler over ``total_steps`` updates, or None for 'constant'.
    Used in chapters 3b and 5.

    'cosine' and 'linear' raise the rate linearly from 0 to ``lr`` over ``warmup_steps`` updates,
    then bring it down to 0 at the last update along half a cosine or a straight line.

    Parameters
    ----------
    schedule : str
        'constant', 'cosine' or 'linear'.
    lr : float
        The largest learning rate, reached at the end of the warm-up.
    total_steps : int
        Updates in the whole run (epochs times batches per epoch).
    warmup_steps : int
        Updates of the linear warm-up.

    Returns
    -------
    mxnet.lr_scheduler.LRScheduler or None
    """
    if schedule == 'constant':
        return None
    if warmup_steps >= total_steps:  # the warm-up would be cut short, and nothing left to decay
        raise arguments.ArgumentError(
            f'warmup_steps must be fewer than total_steps ({total_steps}), the updates of the whole '
            f'run; got {warmup_steps}. Shorten the warm-up (e.g. a tenth of the run: '
            f'{total_steps // 10}) or check total_steps (epochs times batches per epoch).')
    if schedule == 'cosine':
        return lr_scheduler.CosineScheduler(total_steps, base_lr=lr, final_lr=0.0,
                                            warmup_steps=warmup_steps, warmup_begin_lr=0.0)
    if schedule == 'linear':
        return lr_scheduler.PolyScheduler(total_steps, base_lr=lr, pwr=1, final_lr=0.0,
                                          warmup_steps=warmup_steps, warmup_begin_lr=0.0)
