"""Plain and residual networks of the same depth, built by one definition, trained side by side.

``stacked_cnn(num_layers, residual)`` builds the CIFAR-10 networks of He et al. (2016, CVPR,
Sec. 4.2): ``num_layers = 6n + 2`` weight layers, a 3x3 convolution, three stages of ``2n`` 3x3
convolutions with 16, 32 and 64 channels (the first convolution of the second and third stages halves
the height and width), global average pooling and a dense layer; batch norm after every convolution.
The convolutions come in pairs (``TwoConvBlock``). Without shortcuts a pair is conv-BN-ReLU-conv-BN-
ReLU; with them the pair's input is added before the second ReLU, and that is the only difference.

Where a pair changes the shape (twice the channels, half the height and width) the shortcut is the
paper's option A: it keeps every second pixel and appends zero channels (``ZeroPadShortcut``). It has
no weights, so the plain and the residual network have exactly the same parameters, which the paper
also chose for its CIFAR-10 comparison. Option B (a 1x1 projection where the shape changes) would give
the residual network two extra convolutions and batch norms, and a difference in training could then
come from them; on ImageNet it was slightly better than A (CVPR, Table 3).

``train_side_by_side`` trains every network with the same data, epochs, batch, optimizer and
initialization, once per seed; ``accuracy_without_each_block`` removes one pair at a time from a
trained network at test time (the lesion study of Veit, Wilber and Belongie, 2016).

The blocks use MXNet's NumPy interface (``npx.set_np()``), like every chapter.
"""
import contextlib
import dataclasses
import io
import time
from typing import Annotated

import numpy as onp
from mxnet.gluon import nn

from d2lutils import arguments, seeding, training
from d2lutils.arguments import Check, checked


@dataclasses.dataclass(frozen=True)
class Setting:
    """How big the side-by-side experiment is in one run profile (None: the whole split)."""
    train_subset: int | None
    test_subset: int | None
    num_epochs: int
    depths: tuple = (8, 32)
    seeds: tuple = (0, 1, 2)


# Sizes per run profile. The cpu row is chosen so that the 12 runs take about 6 of the chapter's
# 8 minutes on an idle 2-core machine (the rest: the lesion study and the plots); the quick row keeps
# the tests to seconds with a shallower "deep" network.
SETTINGS = {
    'gpu': Setting(train_subset=None, test_subset=None, num_epochs=10),
    'cpu': Setting(train_subset=5_000, test_subset=2_000, num_epochs=4),
    'quick': Setting(train_subset=128, test_subset=128, num_epochs=2, depths=(8, 14)),
}


def profile_or_name(name, value):
    """A run profile or its name (a string)."""
    if isinstance(value, str) or type(value).__name__ == 'Profile':
        return value
    raise arguments.ArgumentError(f"{name} must be a run profile or its name, e.g. "
                                  f"d2lutils.get_profile() or 'cpu'; got {arguments._shown(value)}.")


@checked
def setting_for(profile: Annotated[object, Check(profile_or_name)]):
    """The experiment's size in ``profile`` (a ``Profile`` or its name)."""
    name = getattr(profile, 'name', profile)
    try:
        return SETTINGS[name]
    except KeyError:
        raise arguments.ArgumentError(f'profile must be one of {", ".join(sorted(SETTINGS))} (a '
                                      f'plain-vs-residual setting exists for those); got {name!r}.') from None


def conv_bn(channels, strides=1):
    """A 3x3 convolution (no bias: batch norm's shift does its job) and a batch norm."""
    return [nn.Conv2D(channels, kernel_size=3, strides=strides, padding=1, use_bias=False),
            nn.BatchNorm()]


def conv_bn_relu(channels, strides=1):
    """The network's first layer: conv3x3-BN-ReLU, on its own (no shortcut goes around it)."""
    layer = nn.HybridSequential()
    layer.add(*conv_bn(channels, strides), nn.Activation('relu'))
    return layer


class ZeroPadShortcut(nn.HybridBlock):
    """Option A of He et al. (2016, CVPR, Sec. 3.3): the identity, made the shape of the output.

    It keeps every ``strides``-th pixel (a 1x1 max pooling with that stride: Gluon's pooling does the
    subsampling, so we need no indexing of our own) and appends ``extra_channels`` channels of zeros.
    It has no parameters.
    """

    @checked
    def __init__(self, extra_channels: Annotated[int, Check(arguments.non_negative_int)],
                 strides: Annotated[int, Check(arguments.positive_int)], **kwargs):
        super().__init__(**kwargs)
        self.extra_channels = extra_channels
        self.subsample = nn.MaxPool2D(pool_size=1, strides=strides)

    def hybrid_forward(self, F, x):
        return F.np.pad(self.subsample(x), ((0, 0), (0, self.extra_channels), (0, 0), (0, 0)))


class TwoConvBlock(nn.HybridBlock):
    """Two conv3x3-BN layers, each followed by a ReLU; with ``residual`` the input is added first.

    plain:    ``relu(F(x))``               with ``F(x) = bn2(conv2(relu(bn1(conv1(x)))))``
    residual: ``relu(F(x) + shortcut(x))`` (the basic block of He et al. 2016, CVPR, Fig. 2)

    The first convolution has ``strides``. ``shortcut`` is None (identity) when the shape stays, else
    a ``ZeroPadShortcut``. ``branch_removed`` (see ``branch_removed``) drops ``F`` at test time.
    """

    @checked
    def __init__(self, in_channels: Annotated[int, Check(arguments.positive_int)],
                 channels: Annotated[int, Check(arguments.positive_int)],
                 strides: Annotated[int, Check(arguments.positive_int)] = 1,
                 residual: Annotated[bool, Check(arguments.flag)] = False, **kwargs):
        super().__init__(**kwargs)
        if channels < in_channels:
            raise arguments.ArgumentError(
                f'channels must be at least in_channels: TwoConvBlock({in_channels} -> '
                f'{channels} channels): the zero-padding shortcut can only add channels; use '
                f'widths that do not decrease.')
        self.residual = residual
        self.reshapes = strides != 1 or channels != in_channels
        self.conv1, self.bn1 = conv_bn(channels, strides)
        self.conv2, self.bn2 = conv_bn(channels)
        self.relu = nn.Activation('relu')
        self.shortcut = (ZeroPadShortcut(channels - in_channels, strides)
                         if residual and self.reshapes else None)
        self.branch_removed = False

    def hybrid_forward(self, F, x):
        identity = self.shortcut(x) if self.shortcut is not None else x
        if self.branch_removed:
            # What is left of the block: its shortcut. The block's input comes out of a ReLU, so
            # relu(identity) == identity; for the plain network that is the identity itself.
            return identity
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + identity) if self.residual else self.relu(y)


@checked
def stacked_cnn(num_layers: Annotated[int, Check(arguments.positive_int)],
                residual: Annotated[bool, Check(arguments.flag)] = False,
                widths: Annotated[tuple, Check(arguments.positive_ints)] = (16, 32, 64),
                num_classes: Annotated[int, Check(arguments.positive_int)] = 10):
    """The plain (``residual=False``) or residual network with ``num_layers = 6n + 2`` weight layers.

    A 3x3 convolution with stride 2 (28x28 Fashion-MNIST images become 14x14; the paper's CIFAR
    network has stride 1 here), then ``n`` ``TwoConvBlock``s per width, the first of every stage but
    the first with stride 2, global average pooling and a dense layer.
    """
    blocks_per_stage, remainder = divmod(num_layers - 2, 2 * len(widths))
    if remainder or blocks_per_stage < 1:
        valid = ', '.join(str(2 * len(widths) * n + 2) for n in range(1, 6))
        raise arguments.ArgumentError(
            f'num_layers must be {2 * len(widths)}n + 2 for some n >= 1 ({valid}, ...), not '
            f'{num_layers}: every stage holds n pairs of convolutions.')
    if any(b < a for a, b in zip(widths, widths[1:])):
        raise arguments.ArgumentError(f'widths must not decrease (the zero-padding shortcut can only '
                                      f'add channels); got {widths}.')
    net = nn.HybridSequential()
    net.add(conv_bn_relu(widths[0], strides=2))
    in_channels = widths[0]
    for stage, channels in enumerate(widths):
        for i in range(blocks_per_stage):
            strides = 2 if stage > 0 and i == 0 else 1
            net.add(TwoConvBlock(in_channels, channels, strides, residual))
            in_channels = channels
    net.add(nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


def network_name(num_layers, residual):
    return f'{"residual" if residual else "plain"}-{num_layers}'


@dataclasses.dataclass
class Run:
    """One trained network: which one, its seed, its per-epoch history and the network itself."""
    num_layers: int
    residual: bool
    seed: int
    history: training.History
    seconds: float
    net: nn.HybridSequential = dataclasses.field(repr=False)

    @property
    def name(self):
        return network_name(self.num_layers, self.residual)


def sgd_settings(name, value):
    """None, a dict of SGD settings, or a function returning one (called once per run)."""
    if value is None or isinstance(value, dict) or (callable(value) and not isinstance(value, type)):
        return value
    raise arguments.ArgumentError(f'{name} must be None, a dict such as {{"momentum": 0.9}}, or a '
                                  f'function that returns one; got {arguments._shown(value)}.')


def describe_experiment(depths, seeds, num_epochs, lr, batches_per_epoch, devices,
                        optimizer_params=None):
    """The settings ``train_side_by_side`` runs with, as the line it prints first.

    Built from the call's own arguments, and each run's part by ``training.describe_run`` (the line
    ``training.train`` prints), so that the chapter shows what produced its curves, e.g.
    ``Side by side: plain and residual networks of 8, 32 layers, seeds 0, 1, 2, each run 4 epoch(s)
    x 40 batches, SGD lr 0.1, momentum 0.9, ..., on cpu(0), hybridized``.
    """
    each = training.describe_run(num_epochs, lr, batches_per_epoch, devices, optimizer_params,
                                 hybridize=True)
    return (f'Side by side: plain and residual networks of {", ".join(map(str, depths))} layers, '
            f'seeds {", ".join(map(str, seeds))}, each run {each.removeprefix("Training: ")}')


@checked
def train_side_by_side(depths: Annotated[tuple, Check(arguments.positive_ints, example='(8, 32)')],
                       seeds: Annotated[tuple, Check(arguments.non_negative_ints)],
                       train_iter: training.Loader, test_iter: training.Loader,
                       num_epochs: Annotated[int, Check(arguments.positive_int)],
                       lr: Annotated[float, Check(arguments.positive_finite)],
                       device: training.Devices = None,
                       optimizer_params: Annotated[object, Check(sgd_settings)] = None):
    """Train the plain and the residual network of every depth once per seed; return the ``Run``s.

    Every run uses the same data, epochs, batch, optimizer (SGD at ``lr``, plus
    ``optimizer_params``) and initialization (Xavier, ``training.train``'s default).
    ``optimizer_params`` is a dict, or a function that returns one: called once per run, it gives
    every run a fresh learning-rate scheduler (a scheduler counts the updates it has seen). Seeding before
    each run makes a plain and a residual network of the same depth and seed start from the same
    weights (they have the same parameters, created in the same order) and see the same batches.
    Prints first the settings (``describe_experiment``, with the first run's optimizer settings),
    then one line per run instead of ``training.train``'s line per epoch.
    """
    for num_layers in depths:
        stacked_cnn(num_layers)  # refuses a depth that is not 6n + 2 before any run starts
    plan = [(num_layers, residual, seed)
            for num_layers in depths for residual in (False, True) for seed in seeds]
    runs = []
    for num_layers, residual, seed in plan:
        seeding.seed_everything(seed)
        net = stacked_cnn(num_layers, residual)
        params = optimizer_params() if callable(optimizer_params) else optimizer_params
        if not runs:
            print(describe_experiment(depths, seeds, num_epochs, lr, len(train_iter),
                                      training.as_device_list(device), params))
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            history = training.train(net, train_iter, test_iter, num_epochs, lr, device,
                                     optimizer_params=params, hybridize=True, live_plot=False)
        run = Run(num_layers, residual, seed, history, time.perf_counter() - start, net)
        print(f'{run.name:12s} seed {seed}: training error {1 - history.train_acc[-1]:.3f}, '
              f'test error {1 - history.test_acc[-1]:.3f} after {num_epochs} epoch(s), '
              f'{run.seconds:.0f} s')
        runs.append(run)
    return runs


def runs_list(name, value):
    """A non-empty list of ``Run``s, as ``train_side_by_side`` returns."""
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(r, Run) for r in value):
        raise arguments.ArgumentError(f'{name} must be the list of runs train_side_by_side returns; '
                                      f'got {arguments._shown(value)}.')
    return value


@checked
def error_bands(runs: Annotated[list, Check(runs_list)],
                curve: Annotated[str, Check(arguments.one_of, choices=('train', 'test'))] = 'train'):
    """Per network name: (mean, min, max) arrays over seeds of the ``curve`` error per epoch.

    ``curve`` is 'train' (the average over each epoch while the weights change, as
    ``training.train`` records it) or 'test' (after each epoch).
    """
    errors = {}
    for run in runs:
        accuracy = run.history.train_acc if curve == 'train' else run.history.test_acc
        errors.setdefault(run.name, []).append(1 - onp.array(accuracy))
    return {name: (onp.mean(e, axis=0), onp.min(e, axis=0), onp.max(e, axis=0))
            for name, e in errors.items()}


@checked
def two_conv_blocks(net: Annotated[nn.HybridSequential, Check(
        arguments.instance_of, cls='mxnet.gluon.nn.HybridSequential',
        allowed='a network stacked_cnn built')]):
    """The network's ``TwoConvBlock``s, input side first."""
    return [block for block in net if isinstance(block, TwoConvBlock)]


def can_remove(block):
    """A residual block can always lose its branch (its shortcut remains); a plain pair only when
    its output has its input's shape, so that the identity can take its place."""
    return block.residual or not block.reshapes


@contextlib.contextmanager
@checked
def branch_removed(block: Annotated[object, Check(
        arguments.instance_of, cls='d2lutils.plain_vs_residual.TwoConvBlock',
        allowed='a TwoConvBlock, e.g. one of two_conv_blocks(net)')]):
    """Inside the ``with``, ``block`` computes only its shortcut; afterwards it is whole again.

    The block must not be hybridized: a hybridized network replays the graph it recorded and would
    ignore the change (call ``net.hybridize(active=False)`` first).
    """
    if not can_remove(block):
        raise arguments.ArgumentError('block: this plain block changes the shape of its input, so nothing can take its '
                         'place; remove a block whose input and output shapes agree.')
    if block._active:  # Gluon's flag for "hybridized"; it has no public accessor
        raise RuntimeError('The network is hybridized, so it would ignore the removed branch; call '
                           'net.hybridize(active=False) before removing blocks.')
    block.branch_removed = True
    try:
        yield block
    finally:
        block.branch_removed = False


@dataclasses.dataclass
class Lesion:
    """Test accuracy of a trained network whole, and with each block removed (None: not removable)."""
    name: str
    seed: int
    baseline: float
    without_block: list

    def drops(self):
        """Accuracy lost by removing each block (None where the block cannot be removed)."""
        return [None if a is None else self.baseline - a for a in self.without_block]


@checked
def accuracy_without_each_block(
        run: Annotated[object, Check(arguments.instance_of, cls='d2lutils.plain_vs_residual.Run',
                                     allowed='one of the runs train_side_by_side returns')],
        test_iter: training.Loader):
    """Remove each block of ``run.net`` in turn and measure the test accuracy (a ``Lesion``).

    Turns hybridization off (the removal changes the graph); the blocks are whole again afterwards.
    """
    net = run.net
    net.hybridize(active=False)
    baseline = training.evaluate_accuracy(net, test_iter)
    accuracies = []
    for block in two_conv_blocks(net):
        if not can_remove(block):
            accuracies.append(None)
            continue
        with branch_removed(block):
            accuracies.append(training.evaluate_accuracy(net, test_iter))
    return Lesion(run.name, run.seed, baseline, accuracies)
