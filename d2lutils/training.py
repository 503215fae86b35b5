"""The training loop every chapter shares: one or several devices, live curves, a history.

It is d2l's ``train_ch6`` grown by what the chapters need: several devices (each batch split across
them, gradients summed by the Trainer's kvstore), a returned history instead of prints only, and a
line per epoch when no notebook is there to draw curves.
"""
import dataclasses
import math
from typing import Annotated

import mxnet as mx
from d2l import mxnet as d2l
from mxnet import autograd, gluon, init, np

from d2lutils import arguments
from d2lutils.arguments import Check, checked

# The parameters the public functions share, declared once.
Net = Annotated[gluon.Block, Check(arguments.instance_of, cls='mxnet.gluon.Block',
                                   allowed='a Gluon network (a gluon.Block, e.g. nn.HybridSequential)')]
Loader = Annotated[object, Check(arguments.loader)]
Initialized = Annotated[gluon.Block, Check(arguments.initialized_net)]
Devices = Annotated[object, Check(arguments.contexts, none_means='d2l.try_gpu()')]


@dataclasses.dataclass
class History:
    """Per-epoch results of a run, in the order the epochs ran."""
    devices: list
    train_loss: list = dataclasses.field(default_factory=list)
    train_acc: list = dataclasses.field(default_factory=list)
    test_acc: list = dataclasses.field(default_factory=list)
    examples_per_sec: list = dataclasses.field(default_factory=list)

    def summary(self):
        """One line with the final epoch's figures."""
        return (f'loss {self.train_loss[-1]:.3f}, train acc {self.train_acc[-1]:.3f}, '
                f'test acc {self.test_acc[-1]:.3f}, {self.examples_per_sec[-1]:.0f} examples/sec '
                f'on {", ".join(str(d) for d in self.devices)}')


def as_device_list(devices=None):
    """A list of contexts: ``None`` means ``d2l.try_gpu()``, a single context becomes a list of one."""
    if devices is None:
        return [d2l.try_gpu()]
    if isinstance(devices, (list, tuple)):
        if not devices:
            raise ValueError('devices is an empty list; pass at least one context, e.g. mx.cpu()')
        devices = list(devices)
    else:
        devices = [devices]
    for device in devices:
        arguments.context('devices', device)
    return devices


def split_batch(X, y, devices):
    """Move a batch to the devices: all of it to a single device, or a slice to each of several."""
    if len(devices) == 1:
        return [X.as_in_ctx(devices[0])], [y.as_in_ctx(devices[0])]
    return (gluon.utils.split_and_load(X, devices, even_split=False),
            gluon.utils.split_and_load(y, devices, even_split=False))


@checked
def model_devices(net: Net):
    """The contexts a network's parameters live on. Used in the pre-activation exercise.

    Parameters
    ----------
    net : gluon.Block
        An initialized network.

    Returns
    -------
    list of mxnet.Context
    """
    params = list(net.collect_params().values())
    if not params or any(p._data is None for p in params):
        raise arguments.ArgumentError(
            f'net must be initialized, with every shape known, to live on a device; got '
            f'{arguments._shown(net)}, {"which has no parameters" if not params else "not yet"}. '
            f'Call net.initialize(ctx=...) and run it once on a batch, or train it first.')
    return list(params[0].list_ctx())


def count_correct(y_hat, labels):
    """Number of rows whose largest score is at the label, as a float32 array (no wait for it)."""
    return (y_hat.argmax(axis=1).astype(labels.dtype) == labels).astype('float32').sum()


@checked
def evaluate_accuracy(net: Initialized, data_iter: Loader, devices: Devices = None):
    """Fraction of correctly classified examples, each batch moved to the model's device(s). Used in
    chapter 5.

    The count stays on the first device until the end, so MXNet never waits between batches.

    Parameters
    ----------
    net : gluon.Block
        An initialized classifier.
    data_iter : iterable
        Batches of (images, labels), e.g. a Gluon ``DataLoader``.
    devices : mxnet.Context or list of them, optional
        Where to compute; by default the devices ``net``'s parameters live on.

    Returns
    -------
    float
    """
    devices = as_device_list(devices) if devices is not None else model_devices(net)
    return _accuracy(net, data_iter, devices)


def _accuracy(net, data_iter, devices, example_shape=None):
    """``evaluate_accuracy`` after its checks; ``train`` passes its images' shape to compare.

    The largest label is kept on the device like the count and checked once, at the end, against
    the number of scores: a label the network cannot give would silently count as wrong.
    """
    correct, total = np.zeros((), ctx=devices[0]), 0
    largest, width = np.zeros((), ctx=devices[0]), None
    for i, (X, y) in enumerate(data_iter):
        if i == 0 and example_shape is not None and tuple(X.shape[1:]) != tuple(example_shape):
            raise arguments.ArgumentError(
                f'test_iter must give images of the shape train_iter gives, {tuple(example_shape)}; '
                f'its first batch holds images of shape {tuple(X.shape[1:])}. Load both with one '
                f'call (data.load_fashion_mnist or data.load_with_profile), with one resize.')
        previous = correct  # waited for below: the engine stays at most one batch behind
        for X_part, y_part in zip(*split_batch(X, y, devices)):
            y_hat = net(X_part)
            correct = correct + count_correct(y_hat, y_part).as_in_ctx(devices[0])
            if y_part.ndim == 1:
                largest = np.maximum(largest, y_part.max().astype('float32').as_in_ctx(devices[0]))
                width = y_hat.shape[1]
            total += y_part.shape[0]
        previous.wait_to_read()  # see _train_epoch: an interrupt stops within a batch
    if total == 0:
        raise arguments.ArgumentError(f'data_iter must give at least one example; got none from '
                                      f'{data_iter!r}.')
    if width is not None and int(largest) >= width:
        raise arguments.ArgumentError(
            f'data_iter has labels up to {int(largest)}, but net gives {width} scores per example '
            f'(classes 0 to {width - 1}): those examples could only count as wrong. Evaluate on '
            f'data with the classes the network was trained on, or give its last layer '
            f'{int(largest) + 1} outputs.')
    return float(correct) / total


class RunningTotals:
    """Sums of the loss and of the correct predictions, kept on a device until they are read.

    Reading a number back to Python after every batch (``float(loss)``) makes MXNet's engine wait
    for that batch before Python can queue the next one; keeping the sums as arrays lets the two
    overlap. ``read`` waits for what is queued and returns plain floats.

    The largest label is kept too, so that a label the network has no score for is caught even
    when the first batch did not hold one.
    """

    def __init__(self, device):
        self.device = device
        self.loss_sum = np.zeros((), ctx=device)
        self.correct = np.zeros((), ctx=device)
        self.largest_label = np.zeros((), ctx=device)

    def add(self, losses, y_hats, labels):
        for part_loss, y_hat, label in zip(losses, y_hats, labels):
            self.loss_sum = self.loss_sum + part_loss.sum().as_in_ctx(self.device)
            self.correct = self.correct + count_correct(y_hat, label).as_in_ctx(self.device)
            self.largest_label = np.maximum(self.largest_label,
                                            label.max().astype('float32').as_in_ctx(self.device))

    def read(self):
        return float(self.loss_sum), float(self.correct)


class TrainingDivergedError(ArithmeticError):
    """The training loss became NaN or infinite, so training stopped; the message says what to try.

    ``history`` holds the epochs that finished before it happened.
    """

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


def divergence_advice(loss_value, epoch, num_epochs, lr):
    """What to tell a reader whose training loss became ``loss_value`` (NaN or infinite)."""
    return (f'The training loss became {loss_value} in epoch {epoch + 1} of {num_epochs} with '
            f'lr={lr:g}, so training stopped (训练发散): nothing more can be learned from it.\n'
            f'What to try:\n'
            f'  1. a smaller learning rate, e.g. lr={lr / 10:g} (a tenth), and a smaller one again '
            f'if the loss still blows up;\n'
            f'  2. check the data: finite inputs scaled to a small range (the loader gives [0, 1]) '
            f'and labels that are class indices 0, 1, ..., number of classes - 1.\n'
            f'The epochs that finished are in this error\'s .history.')


def stop_if_diverged(loss_value, epoch, num_epochs, lr, history):
    """Raise ``TrainingDivergedError`` (without MXNet's context) if ``loss_value`` is NaN or inf."""
    if not math.isfinite(loss_value):
        raise TrainingDivergedError(divergence_advice(loss_value, epoch, num_epochs, lr), history)


def check_scores_match_labels(y_hat, labels):
    """Refuse a network whose output is not one score per class for every example of the batch.

    Without this check a 5-unit head on 10 classes trains: softmax cross-entropy clips labels
    5-9 to 4, and the loss it prints means nothing.
    """
    if y_hat.ndim != 2 or y_hat.shape[0] != labels.shape[0]:
        raise ValueError(f'net must give one row of class scores per example, shape (batch '
                         f'size, number of classes), here ({labels.shape[0]}, number of classes); '
                         f'it gave shape {tuple(y_hat.shape)}. End the network with a Dense layer that has '
                         f'one output per class, e.g. nn.Dense(10).')
    if labels.ndim == 1:  # class indices (other labels, e.g. one-hot rows, are a custom loss's)
        check_label_range(y_hat.shape[1], int(labels.max()), int(labels.min()))


def check_losses(losses, loss):
    """Refuse a loss function that does not give an array of losses (checked on the first batch)."""
    for part_loss in losses:
        if not isinstance(part_loss, (np.ndarray, mx.nd.NDArray)):
            raise arguments.ArgumentError(
                f'loss must return an array of losses, one per example, as '
                f'gluon.loss.SoftmaxCrossEntropyLoss() does; {arguments._shown(loss)} returned '
                f'{arguments._shown(part_loss)}.')


def check_label_range(width, largest, smallest=0):
    """Refuse labels from ``smallest`` to ``largest`` for a network that gives ``width`` scores."""
    if smallest < 0:
        raise ValueError(f'the labels of train_iter must be class indices 0, 1, ..., {width - 1}; '
                         f'one of them is {smallest}.')
    if largest >= width:
        raise ValueError(f'net gives {width} scores per example, but the labels of train_iter go '
                         f'up to {largest}: it must give one score per class, at least '
                         f'{largest + 1}. Give its last layer {largest + 1} outputs, e.g. '
                         f'nn.Dense({largest + 1}), or check the labels.')


def check_schedule_length(optimizer_params, num_epochs, batches_per_epoch):
    """Refuse a learning-rate schedule built for a run of another length than this one.

    A scheduler built for one epoch and reused for three leaves the rate at 0 from the second epoch
    on (a flat loss, no word); one built for a longer run never finishes its decay.
    """
    scheduler = (optimizer_params or {}).get('lr_scheduler')
    updates = num_epochs * batches_per_epoch
    planned = getattr(scheduler, 'max_update', None)
    if planned is not None and planned != updates:
        raise arguments.ArgumentError(
            f"optimizer_params['lr_scheduler'] must be planned for this run's {updates} updates "
            f'(num_epochs={num_epochs} times {batches_per_epoch} batches of train_iter); it was '
            f'built for {planned}, so the rate would '
            f'{"stay at 0 after update " + str(planned) if planned < updates else "never finish its decay"}. '
            f'Build a new one for this run: profile.optimizer_params(len(train_iter)), or '
            f'schedules.make_lr_scheduler(..., total_steps={updates}).')




def describe_run(num_epochs, lr, batches_per_epoch, devices, optimizer_params=None,
                 hybridize=False):
    """The settings a ``train`` call runs with, as the line it prints first.

    Built from the call's own arguments (``devices`` as a list of contexts), so that what a notebook
    shows above its curves is what produced them, e.g. ``Training: 2 epoch(s) x 469 batches, SGD lr
    0.1, momentum 0.9, wd 0.0005, CosineScheduler: warm-up 140 updates, 938 updates in all, on
    cpu(0), hybridized``. A schedule's length is its own (``max_update``): when it differs from the
    run's updates, the line shows both.
    """
    params = dict(optimizer_params or {})
    scheduler = params.pop('lr_scheduler', None)
    parts = [f'{num_epochs} epoch(s) x {batches_per_epoch} batches', f'SGD lr {lr:g}']
    parts += [f'{key} {value:g}' if isinstance(value, (int, float)) else f'{key} {value!r}'
              for key, value in sorted(params.items())]
    if scheduler is not None:
        total = getattr(scheduler, 'max_update', None)
        text = f'{type(scheduler).__name__}: warm-up {getattr(scheduler, "warmup_steps", 0)} updates'
        if total is not None:
            text += f', {total} updates in all'
            if total != num_epochs * batches_per_epoch:
                text += f' (the run makes {num_epochs * batches_per_epoch})'
        parts.append(text)
    parts.append('on ' + ', '.join(str(d) for d in devices))
    if hybridize:
        parts.append('hybridized')
    return 'Training: ' + ', '.join(parts)


def in_notebook():
    """True inside a Jupyter kernel, where curves can be redrawn in place."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and 'IPKernelApp' in shell.config


def optimizer_settings(name, value):
    """The check of ``train``'s optimizer_params: a dict without 'learning_rate' (that is ``lr``)."""
    value = arguments.mapping(name, value, 'a dict such as {"momentum": 0.9}',
                              none_means='no more settings')
    if value and 'learning_rate' in value:
        raise arguments.ArgumentError(
            f"{name} must not set 'learning_rate' (got {value['learning_rate']!r}): the learning "
            f'rate is the lr argument, and two values would leave the reader unsure which one ran.')
    return value


HYBRIDIZE_OPTIONS = ('static_alloc', 'static_shape', 'backend', 'backend_opts', 'clear',
                     'partition_if_dynamic', 'inline_limit', 'forward_bulk_size',
                     'backward_bulk_size')  # what HybridBlock.hybridize accepts in MXNet 1.9


def hybridize_setting(name, value):
    """False, True, or a dict of ``net.hybridize`` keyword arguments."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(HYBRIDIZE_OPTIONS), key=str)
        if unknown:
            raise arguments.ArgumentError(
                f'{name} must name only net.hybridize arguments ({", ".join(HYBRIDIZE_OPTIONS)}); '
                f'got {unknown[0]!r} in {value!r}.')
        return value
    if isinstance(value, bool):
        return value
    raise arguments.ArgumentError(f'{name} must be True, False or a dict of net.hybridize '
                                  f'arguments; got {arguments._shown(value)}.')


@checked
def train(net: Net, train_iter: Loader, test_iter: Loader,
          num_epochs: Annotated[int, Check(arguments.positive_int)],
          lr: Annotated[float, Check(arguments.positive_finite)],
          devices: Devices = None, *,
          optimizer_params: Annotated[dict | None, Check(optimizer_settings)] = None,
          hybridize: Annotated[bool | dict, Check(hybridize_setting)] = False,
          live_plot: Annotated[bool | None, Check(arguments.flag,
                                                  none_means='only in a notebook')] = None):
    """Train ``net`` with softmax cross-entropy and SGD from fresh Xavier weights; return a
    ``History``. Used in chapters 1, 2 and 5 and the pre-activation exercise.

    It prints first the settings it runs with (``describe_run``), and with live curves again above
    the final summary, since every redraw clears the cell's output. Arguments are checked before
    anything runs, and the first batch's scores against its labels.
    If the training loss becomes NaN or infinite, training stops at the end of that epoch (or at
    the first batch, or at a point of the live plot, if seen there) with ``TrainingDivergedError``.

    Parameters
    ----------
    net : gluon.Block
        The classifier.
    train_iter, test_iter : iterable
        Batches of (images, labels), e.g. from ``data.load_fashion_mnist``.
    num_epochs : int
        Passes over ``train_iter``.
    lr : float
        The learning rate (with a schedule: its peak).
    devices : mxnet.Context or list of them, optional
        Default ``d2l.try_gpu()``; with several, each batch is split across them.
    optimizer_params : dict, optional
        More optimizer arguments besides the learning rate, e.g. ``momentum``, ``wd``, or a
        schedule as ``'lr_scheduler'`` (see ``schedules.make_lr_scheduler`` and
        ``Profile.optimizer_params``).
    hybridize : bool or dict
        False, True (``net.hybridize()``) or keyword arguments for ``net.hybridize``, e.g.
        ``{'static_alloc': True, 'static_shape': True}``.
    live_plot : bool, optional
        Redraw curves after each fifth of an epoch (default: only in a notebook); otherwise a line
        per epoch is printed.

    Returns
    -------
    History
    """
    devices = as_device_list(devices)
    check_schedule_length(optimizer_params, num_epochs, len(train_iter))
    settings = describe_run(num_epochs, lr, len(train_iter), devices, optimizer_params, hybridize)
    print(settings)
    net.initialize(init.Xavier(), ctx=devices, force_reinit=True)
    if hybridize:
        net.hybridize(**(hybridize if isinstance(hybridize, dict) else {}))
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    try:
        trainer = gluon.Trainer(net.collect_params(), 'sgd',
                                {'learning_rate': lr, **(optimizer_params or {})})
    except (TypeError, ValueError, mx.base.MXNetError) as error:  # e.g. an unknown setting
        raise arguments.ArgumentError(
            f"optimizer_params must hold settings SGD takes (e.g. 'momentum', 'wd'); MXNet "
            f'refused {optimizer_params!r}: {error}') from None
    live_plot = in_notebook() if live_plot is None else live_plot
    animator = d2l.Animator(xlabel='epoch', xlim=[0, num_epochs],
                            legend=['train loss', 'train acc', 'test acc']) if live_plot else None
    history, num_batches = History(devices), len(train_iter)
    for epoch in range(num_epochs):
        totals, seen, timer = RunningTotals(devices[0]), 0, d2l.Timer()
        previous = None  # the previous batch's losses, waited for: see below
        for i, (X, y) in enumerate(train_iter):
            X_parts, y_parts = split_batch(X, y, devices)
            with autograd.record():
                y_hats = [net(X_part) for X_part in X_parts]
                if epoch == 0 and i == 0:  # before the loss can fail on, or clip, a bad shape
                    for y_hat, y_part in zip(y_hats, y_parts):
                        check_scores_match_labels(y_hat, y_part)
                losses = [loss(y_hat, y_part) for y_hat, y_part in zip(y_hats, y_parts)]
            if epoch == 0 and i == 0:  # one wait, once: stop before the first update
                check_losses(losses, loss)
                example_shape = tuple(X.shape[1:])
                for part_loss in losses:
                    stop_if_diverged(float(part_loss.mean()), epoch, num_epochs, lr, history)
            for part_loss in losses:
                part_loss.backward()
            trainer.step(X.shape[0])
            totals.add(losses, y_hats, y_parts)
            seen += X.shape[0]
            # MXNet's engine runs behind Python: without a wait, Python queues a whole epoch in
            # moments and then sits in one long C-level wait (totals.read() below), where an
            # interrupt (Ctrl-C, the kernel's stop button) is seen only when the epoch ends.
            # Waiting for the previous batch keeps the engine at most one batch behind, so an
            # interrupt stops training after at most one more batch; the engine still has this
            # batch queued while Python waits, so it is never idle.
            for part_loss in previous or ():
                part_loss.wait_to_read()
            previous = losses
            if animator and ((i + 1) % max(num_batches // 5, 1) == 0 or i == num_batches - 1):
                loss_sum, correct = totals.read()
                stop_if_diverged(loss_sum, epoch, num_epochs, lr, history)
                animator.add(epoch + (i + 1) / num_batches, (loss_sum / seen, correct / seen, None))
        loss_sum, correct = totals.read()  # waits for the last batch, so the timer sees all work
        stop_if_diverged(loss_sum, epoch, num_epochs, lr, history)
        if y_parts[0].ndim == 1:
            check_label_range(y_hats[0].shape[1], int(totals.largest_label))
        history.examples_per_sec.append(seen / timer.stop())
        history.train_loss.append(loss_sum / seen)
        history.train_acc.append(correct / seen)
        history.test_acc.append(_accuracy(net, test_iter, devices, example_shape))
        if animator:
            animator.add(epoch + 1, (None, None, history.test_acc[-1]))
        else:
            print(f'epoch {epoch + 1}/{num_epochs}: {history.summary()}')
    if animator:  # the last redraw cleared the first line
        print(settings)
        print(history.summary())
    return history

