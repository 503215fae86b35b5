"""The training loop every chapter shares: one or several devices, live curves, a history.

It is d2l's ``train_ch6`` grown by what the chapters need: several devices (each batch split across
them, gradients summed by the Trainer's kvstore), a returned history instead of prints only, and a
line per epoch when no notebook is there to draw curves.
"""
import dataclasses
import math

import mxnet as mx
from d2l import mxnet as d2l
from mxnet import autograd, gluon, init, np

from d2lutils import arguments


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
        if not isinstance(device, mx.Context):
            raise TypeError(f'devices must be a context such as mx.cpu() or mx.gpu(0), or a list '
                            f'of them; got {device!r}.')
        if device.device_type == 'gpu' and device.device_id >= mx.context.num_gpus():
            raise ValueError(f'devices names {device}, but MXNet sees {mx.context.num_gpus()} '
                             f'GPU(s). Use d2l.try_gpu(), which falls back to mx.cpu().')
    return devices


def split_batch(X, y, devices):
    """Move a batch to the devices: all of it to a single device, or a slice to each of several."""
    if len(devices) == 1:
        return [X.as_in_ctx(devices[0])], [y.as_in_ctx(devices[0])]
    return (gluon.utils.split_and_load(X, devices, even_split=False),
            gluon.utils.split_and_load(y, devices, even_split=False))


def model_devices(net):
    """The contexts a network's parameters live on. Used in the pre-activation exercise.

    Parameters
    ----------
    net : gluon.Block
        An initialized network.

    Returns
    -------
    list of mxnet.Context
    """
    return list(next(iter(net.collect_params().values())).list_ctx())


def count_correct(y_hat, labels):
    """Number of rows whose largest score is at the label, as a float32 array (no wait for it)."""
    return (y_hat.argmax(axis=1).astype(labels.dtype) == labels).astype('float32').sum()


def evaluate_accuracy(net, data_iter, devices=None):
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
    correct, total = np.zeros((), ctx=devices[0]), 0
    for X, y in data_iter:
        for X_part, y_part in zip(*split_batch(X, y, devices)):
            correct = correct + count_correct(net(X_part), y_part).as_in_ctx(devices[0])
            total += y_part.shape[0]
    if total == 0:
        raise ValueError(f'data_iter must give at least one example; got none from {data_iter!r}.')
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


def check_loop_arguments(net, train_iter, test_iter, optimizer_params, hybridize, live_plot):
    """Refuse the arguments of ``train`` that MXNet would reject late, or accept and misuse."""

    if not isinstance(net, gluon.Block):
        raise TypeError(f'net must be a Gluon network (a gluon.Block, e.g. nn.HybridSequential); '
                        f'got {net!r}.')
    if live_plot is not None:
        arguments.flag('live_plot', live_plot)
    for name, loader in (('train_iter', train_iter), ('test_iter', test_iter)):
        if not (hasattr(loader, '__iter__') and hasattr(loader, '__len__')):
            raise TypeError(f'{name} must be a data loader with a length, e.g. a '
                            f'gluon.data.DataLoader from data.load_fashion_mnist; got {loader!r}.')
        if len(loader) == 0:
            raise ValueError(f'{name} must give at least one batch; got an empty {loader!r}.')
    if optimizer_params is not None and not isinstance(optimizer_params, dict):
        raise TypeError(f'optimizer_params must be a dict such as {{"momentum": 0.9}}, or None; '
                        f'got {optimizer_params!r}.')
    if optimizer_params and 'learning_rate' in optimizer_params:
        raise ValueError(f"optimizer_params must not set 'learning_rate' (got "
                         f"{optimizer_params['learning_rate']!r}): the learning rate is the lr "
                         f"argument, and two values would leave the reader unsure which one ran.")
    if not isinstance(hybridize, (bool, dict)):
        raise TypeError(f'hybridize must be True, False or a dict of net.hybridize arguments; '
                        f'got {hybridize!r}.')


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


def train(net, train_iter, test_iter, num_epochs, lr, devices=None, *, optimizer_params=None,
          hybridize=False, live_plot=None):
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
    num_epochs = arguments.positive_int('num_epochs', num_epochs)
    lr = arguments.positive_finite('lr', lr)
    check_loop_arguments(net, train_iter, test_iter, optimizer_params, hybridize, live_plot)
    devices = as_device_list(devices)
    settings = describe_run(num_epochs, lr, len(train_iter), devices, optimizer_params, hybridize)
    print(settings)
    net.initialize(init.Xavier(), ctx=devices, force_reinit=True)
    if hybridize:
        net.hybridize(**(hybridize if isinstance(hybridize, dict) else {}))
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': lr, **(optimizer_params or {})})
    live_plot = in_notebook() if live_plot is None else live_plot
    animator = d2l.Animator(xlabel='epoch', xlim=[0, num_epochs],
                            legend=['train loss', 'train acc', 'test acc']) if live_plot else None
    history, num_batches = History(devices), len(train_iter)
    for epoch in range(num_epochs):
        totals, seen, timer = RunningTotals(devices[0]), 0, d2l.Timer()
        for i, (X, y) in enumerate(train_iter):
            X_parts, y_parts = split_batch(X, y, devices)
            with autograd.record():
                y_hats = [net(X_part) for X_part in X_parts]
                if epoch == 0 and i == 0:  # before the loss can fail on, or clip, a bad shape
                    for y_hat, y_part in zip(y_hats, y_parts):
                        check_scores_match_labels(y_hat, y_part)
                losses = [loss(y_hat, y_part) for y_hat, y_part in zip(y_hats, y_parts)]
            if epoch == 0 and i == 0:  # one wait, once: stop before the first update
                for part_loss in losses:
                    stop_if_diverged(float(part_loss.mean()), epoch, num_epochs, lr, history)
            for part_loss in losses:
                part_loss.backward()
            trainer.step(X.shape[0])
            totals.add(losses, y_hats, y_parts)
            seen += X.shape[0]
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
        history.test_acc.append(evaluate_accuracy(net, test_iter, devices))
        if animator:
            animator.add(epoch + 1, (None, None, history.test_acc[-1]))
        else:
            print(f'epoch {epoch + 1}/{num_epochs}: {history.summary()}')
    if animator:  # the last redraw cleared the first line
        print(settings)
        print(history.summary())
    return history
