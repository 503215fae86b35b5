"""Residual networks: the blocks, a stage builder and one ``resnet`` function for the whole family.

One HybridBlock per kind of block:

- ``Residual``: basic block, conv3x3-BN-ReLU-conv3x3-BN, add, ReLU (CVPR paper, ResNet-18/34);
- ``Bottleneck``: conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1-BN, add, ReLU (CVPR paper,
  ResNet-50/101/152);
- ``PreActResidual``: BN-ReLU-conv3x3-BN-ReLU-conv3x3, add (ECCV paper, "ResNet v2");
- ``PreActBottleneck``: BN-ReLU-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1, add (ECCV paper).

``RESNET_SPEC`` and ``STAGE_WIDTHS`` hold the CVPR paper's Table 1 and the ECCV paper's ResNet-200,
and ``resnet(depth, version)`` builds any of these six depths from them, in either version.

CVPR: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition" (arXiv 1512.03385).
ECCV: He, Zhang, Ren, Sun, "Identity Mappings in Deep Residual Networks" (arXiv 1603.05027).

A convolution that batch normalization follows has no bias: batch norm subtracts the batch mean of
each channel, which removes any constant added per channel, and its own shift (beta) does the bias's
job. The pre-activation blocks' convolutions are followed by a BN too (that of the next unit, or the
network's final BN), so they have no bias either.

Every block takes its input width lazily (deferred initialization), like Gluon's layers: the first
forward pass fixes it. One ``nn.Activation('relu')`` per block serves every place that block applies
a ReLU (it has no parameters); being a child block, it shows up in ``net.summary`` and in
``d2lutils.inspection.trace``.

The blocks use only child blocks and ``+``, so they run both in NumPy mode (``npx.set_np()``) and in
MXNet's legacy NDArray mode, hybridized or not.
"""
import math
from typing import Annotated

from mxnet.gluon import nn

from d2lutils import arguments
from d2lutils.arguments import Check, checked

# Blocks per stage for each depth: 18 to 152 from the CVPR paper's Table 1. ResNet-200 is the ECCV
# paper's ImageNet network (Sec. 5, Table 5; trained there with pre-activation blocks, version=2);
# the paper gives no table of its blocks; (3, 24, 36, 3) is ResNet-200 in Facebook's
# fb.resnet.torch (models/preresnet.lua), on which the authors' released Torch code
# (KaimingHe/resnet-1k-layers) builds.
RESNET_SPEC = {
    18: ('basic', (2, 2, 2, 2)),
    34: ('basic', (3, 4, 6, 3)),
    50: ('bottleneck', (3, 4, 6, 3)),
    101: ('bottleneck', (3, 4, 23, 3)),
    152: ('bottleneck', (3, 8, 36, 3)),
    200: ('bottleneck', (3, 24, 36, 3)),
}

# Output width of every block in each of the four stages. A bottleneck's inner 3x3 convolution is a
# quarter as wide (64/128/256/512), the same width as the basic block's convolutions.
STAGE_WIDTHS = {
    'basic': (64, 128, 256, 512),
    'bottleneck': (256, 512, 1024, 2048),
}

STEM_WIDTH = 64

# The stem (the layers before stage 1): kernel size, stride, and whether a 3x3/2 max-pool follows.
# 'imagenet' is the CVPR paper's (Table 1): 224x224 becomes 56x56, a quarter of the side. On 28x28
# Fashion-MNIST it leaves 7x7 for stage 1 and 1x1 for stage 4, where a 3x3 convolution sees only
# padding around its centre tap. 'small' keeps the resolution with one 3x3 convolution and no
# pooling, as the CVPR paper's CIFAR-10 networks (Sec. 4.2) and the TF ResNet tutorial do for 32x32
# images; 'small-stride2' halves it once (28x28 -> 14x14, stage 4 at 2x2), for a quarter of the cost.
STEMS = {
    'imagenet': (7, 2, True),
    'small': (3, 1, False),
    'small-stride2': (3, 2, False),
}

# The parameters the blocks and builders share, declared once.
Channels = Annotated[int, Check(arguments.positive_int)]
Flag = Annotated[bool, Check(arguments.flag)]
Strides = Annotated[int, Check(arguments.positive_int)]
Net = Annotated[nn.Block, Check(arguments.instance_of, cls='mxnet.gluon.Block',
                                allowed='a Gluon network (a gluon.Block, e.g. nn.HybridSequential)')]


def check_block_settings(num_channels, use_1x1conv, strides, inner=1):
    """Refuse a block whose identity shortcut cannot be added, or whose inner width is 0.

    A stride other than 1 changes the height and width, so only a projection can add the input.
    """
    if strides != 1 and not use_1x1conv:
        raise arguments.ArgumentError(
            f'strides must be 1 when use_1x1conv is False (the identity shortcut cannot add an '
            f'input of another size); got strides={strides}. Pass use_1x1conv=True to project it.')
    if num_channels % inner:
        raise arguments.ArgumentError(
            f'num_channels must be a multiple of {inner} (the inner 3x3 convolution is '
            f'num_channels // {inner} wide); got {num_channels}, e.g. use {inner * max(1, num_channels // inner)}.')


def check_identity_input(x, y):
    """Refuse an input the identity shortcut cannot add to the branch's output ``y``.

    Without it, a 1-channel input to a 3-channel block is broadcast into every channel and the block
    runs. Only arrays are compared (hybridized graphs get symbols, which have no shape): a
    comparison of shapes Python already holds, with no wait for MXNet's engine.
    """
    shape = getattr(x, 'shape', None)
    if isinstance(shape, tuple) and shape != tuple(y.shape):
        raise arguments.ArgumentError(
            f'x (the block\'s input) must have the shape of the block\'s output, {tuple(y.shape)}, '
            f'for the identity shortcut to add it; got an input of shape {shape}. Build the block '
            f'with use_1x1conv=True (a projection), or give it {y.shape[1]} input channels.')


def _conv(channels, kernel_size, strides=1):
    """A convolution without bias (the batch norm next to it has a shift), padded to keep the size."""
    return nn.Conv2D(channels, kernel_size=kernel_size, strides=strides, padding=kernel_size // 2,
                     use_bias=False)


def _sequential(*layers):
    seq = nn.HybridSequential()
    seq.add(*layers)
    return seq


class Residual(nn.HybridBlock):
    """The basic residual block (残差块) of ResNet-18/34 (He et al. 2016, CVPR, Fig. 2, Table 1).

    ``y = relu(F(x) + shortcut(x))``. ``body`` is the residual branch F: 3x3 convolution (with
    ``strides``) - BN - ReLU - 3x3 convolution - BN. The shortcut (快捷连接) is the identity, unless
    ``use_1x1conv``: then ``downsample``, a 1x1 convolution with the same ``strides`` and a batch
    norm (the paper's projection shortcut, option B), makes ``x`` the shape of ``F(x)``. The sum is
    taken before the last ReLU, so the block adds to its input rather than replacing it.

    Every block of this module names its parts as Gluon's model zoo does (``BasicBlockV1``):
    ``body`` is the residual branch, ``downsample`` the projection shortcut (None for the
    identity); the pre-activation blocks add ``preact``, the BN-ReLU both paths start from.

    Shown in chapter 3, which builds it cell by cell (``tests/test_ch34_agree.py`` proves the
    chapter's copy and this one compute the same); used by ``resnet`` for ResNet-18/34.

    Parameters
    ----------
    num_channels : int
        Output channels of the block.
    use_1x1conv : bool
        Project the shortcut with a 1x1 convolution and a batch norm (when the shape changes).
    strides : int
        Stride of the block; 2 halves height and width.
    """

    @checked
    def __init__(self, num_channels: Channels, use_1x1conv: Flag = False, strides: Strides = 1,
                 **kwargs):
        check_block_settings(num_channels, use_1x1conv, strides, inner=1)
        super().__init__(**kwargs)
        self.body = _sequential(_conv(num_channels, 3, strides), nn.BatchNorm(),
                                nn.Activation('relu'), _conv(num_channels, 3), nn.BatchNorm())
        self.downsample = (_sequential(_conv(num_channels, 1, strides), nn.BatchNorm())
                           if use_1x1conv else None)
        self.relu = nn.Activation('relu')

    def hybrid_forward(self, F, x):
        y = self.body(x)
        if self.downsample is not None:
            x = self.downsample(x)
        else:
            check_identity_input(x, y)
        return self.relu(y + x)


class Bottleneck(nn.HybridBlock):
    """The bottleneck block (瓶颈块) of ResNet-50/101/152 (He et al. 2016, CVPR, Fig. 5 right).

    ``num_channels`` is the block's OUTPUT width; the body works at a quarter of it:
    1x1 conv to ``num_channels // 4`` - BN - ReLU - 3x3 conv - BN - ReLU - 1x1 conv back to
    ``num_channels`` - BN, then add the shortcut and apply ReLU. The 1x1 convolutions make the 3x3
    one cheap: a bottleneck costs about what a basic block of the inner width costs, while the
    stage carries four times as many channels.

    Where the stride goes (``stride_on``): ``'1x1'`` (default) puts it on the first 1x1
    convolution, as in the paper's released models and in MXNet's model zoo v1. This is what the
    paper's Table 1 multiply-add counts (3.8/7.6/11.3 billion) correspond to. ``'3x3'`` puts it on
    the 3x3 convolution, as torchvision and NVIDIA's "ResNet v1.5" do, which costs 6% more
    multiply-adds in ResNet-50 (4.09 instead of 3.86 billion; 3% and 2% more in ResNet-101 and 152)
    and is slightly more accurate; the bottleneck exercise's check accepts either. The parameter
    counts are the same either way, because a stride changes no weight shape.

    With ``use_1x1conv`` the shortcut (``downsample``) is a 1x1 convolution with ``strides`` and a
    batch norm, as the first block of every stage needs: its width or resolution changes.

    Used in chapter 3 and the bottleneck exercise (the reference its check compares with).

    Parameters
    ----------
    num_channels : int
        Output channels of the block (the inner 3x3 convolution is a quarter as wide).
    use_1x1conv : bool
        Project the shortcut with a 1x1 convolution and a batch norm (when the shape changes).
    strides : int
        Stride of the block; 2 halves height and width.
    stride_on : str
        ``'1x1'`` (the paper) or ``'3x3'`` ("ResNet v1.5"): the convolution of the body that strides.
    """

    @checked
    def __init__(self, num_channels: Channels, use_1x1conv: Flag = False, strides: Strides = 1,
                 stride_on: Annotated[str, Check(arguments.one_of, choices=('1x1', '3x3'),
                                                 what=" ('1x1': the paper, '3x3': ResNet v1.5)")]
                 = '1x1', **kwargs):
        check_block_settings(num_channels, use_1x1conv, strides, inner=4)
        super().__init__(**kwargs)
        inner = num_channels // 4
        first, middle = (strides, 1) if stride_on == '1x1' else (1, strides)
        self.body = _sequential(_conv(inner, 1, first), nn.BatchNorm(), nn.Activation('relu'),
                                _conv(inner, 3, middle), nn.BatchNorm(), nn.Activation('relu'),
                                _conv(num_channels, 1), nn.BatchNorm())
        self.downsample = (_sequential(_conv(num_channels, 1, strides), nn.BatchNorm())
                           if use_1x1conv else None)
        self.relu = nn.Activation('relu')

    def hybrid_forward(self, F, x):
        y = self.body(x)
        if self.downsample is not None:
            x = self.downsample(x)
        else:
            check_identity_input(x, y)
        return self.relu(y + x)


class PreActResidual(nn.HybridBlock):
    """The pre-activation basic block, ResNet v2 (He et al. 2016, ECCV, Fig. 1(b) and 4(e)).

    ``y = x + body(preact(x))`` with ``preact`` = BN - ReLU and ``body`` = 3x3 conv (with
    ``strides``) - BN - ReLU - 3x3 conv: batch norm and ReLU come BEFORE each convolution, and
    nothing follows the addition, so ``x`` reaches the next block untouched and a stack of these
    blocks has a clean identity path from any block to any later one.

    With ``use_1x1conv`` the shortcut is ``downsample``, a 1x1 convolution with ``strides`` (no
    batch norm after it) applied to the pre-activated input ``preact(x)``, as in the authors' code
    and MXNet's model zoo v2; the identity shortcut takes the raw ``x``.

    Used in chapter 3 and the pre-activation exercise (the reference its check compares with).

    Parameters
    ----------
    num_channels : int
        Output channels of the block.
    use_1x1conv : bool
        Project the shortcut with a 1x1 convolution (no batch norm) (needed when the shape changes).
    strides : int
        Stride of the block; 2 halves height and width.
    """

    @checked
    def __init__(self, num_channels: Channels, use_1x1conv: Flag = False, strides: Strides = 1,
                 **kwargs):
        check_block_settings(num_channels, use_1x1conv, strides, inner=1)
        super().__init__(**kwargs)
        self.preact = _sequential(nn.BatchNorm(), nn.Activation('relu'))
        self.body = _sequential(_conv(num_channels, 3, strides), nn.BatchNorm(),
                                nn.Activation('relu'), _conv(num_channels, 3))
        self.downsample = _conv(num_channels, 1, strides) if use_1x1conv else None

    def hybrid_forward(self, F, x):
        pre = self.preact(x)
        shortcut = self.downsample(pre) if self.downsample is not None else x
        y = self.body(pre)
        if self.downsample is None:
            check_identity_input(x, y)
        return y + shortcut


class PreActBottleneck(nn.HybridBlock):
    """The pre-activation bottleneck block, ResNet v2 (He et al. 2016, ECCV).

    ``preact`` (BN-ReLU), then the ``body``: conv1x1 (to ``num_channels // 4``) - BN-ReLU-conv3x3 -
    BN-ReLU-conv1x1 (to ``num_channels``), added to the shortcut, nothing after the addition. With
    ``use_1x1conv`` the shortcut is ``downsample``, a strided 1x1 convolution of the pre-activated
    input.

    Where the stride goes: on the 3x3 convolution, as in MXNet's model zoo v2 (``BottleneckV2``)
    and TensorFlow's official ResNet v2 (``_bottleneck_block_v2``), so that this block and the
    zoo's have the same weights and the same multiply-adds. The authors' released code
    (``resnet-pre-act.lua`` in ``KaimingHe/resnet-1k-layers``: a Torch re-implementation of the
    ECCV paper's CIFAR ResNet-164/1001, whose experiments were run in Caffe) puts it on the first
    1x1 convolution instead, as ``Bottleneck`` does by default. The parameter counts are the same
    either way: a stride changes no weight shape.

    Used in chapter 3.

    Parameters
    ----------
    num_channels : int
        Output channels of the block (the inner 3x3 convolution is a quarter as wide).
    use_1x1conv : bool
        Project the shortcut with a 1x1 convolution (no batch norm) (needed when the shape changes).
    strides : int
        Stride of the block; 2 halves height and width.
    """

    @checked
    def __init__(self, num_channels: Channels, use_1x1conv: Flag = False, strides: Strides = 1,
                 **kwargs):
        check_block_settings(num_channels, use_1x1conv, strides, inner=4)
        super().__init__(**kwargs)
        inner = num_channels // 4
        self.preact = _sequential(nn.BatchNorm(), nn.Activation('relu'))
        self.body = _sequential(_conv(inner, 1), nn.BatchNorm(), nn.Activation('relu'),
                                _conv(inner, 3, strides), nn.BatchNorm(), nn.Activation('relu'),
                                _conv(num_channels, 1))
        self.downsample = _conv(num_channels, 1, strides) if use_1x1conv else None

    def hybrid_forward(self, F, x):
        pre = self.preact(x)
        shortcut = self.downsample(pre) if self.downsample is not None else x
        y = self.body(pre)
        if self.downsample is None:
            check_identity_input(x, y)
        return y + shortcut


BLOCKS = {
    (1, 'basic'): Residual,
    (1, 'bottleneck'): Bottleneck,
    (2, 'basic'): PreActResidual,
    (2, 'bottleneck'): PreActBottleneck,
}


@checked
def resnet_stage(block_cls: Annotated[type, Check(arguments.subclass_of, cls='mxnet.gluon.Block',
                                                   allowed='a block class such as models.Residual')],
                 num_channels: Channels, num_blocks: Annotated[int, Check(arguments.positive_int)],
                 first_stage: Flag = False, in_channels: Channels = STEM_WIDTH):
    """One stage: ``num_blocks`` blocks of ``block_cls``, all ``num_channels`` wide at the output.

    The first block of a stage changes the shape, so it gets the 1x1 projection shortcut: every
    stage after the first halves height and width (stride 2) and widens the channels; the first
    stage follows the stem's max-pooling, so it keeps the resolution (stride 1) and needs a
    projection only when ``num_channels`` differs from the stem's ``in_channels`` (64): never for
    basic blocks, always for bottlenecks (64 -> 256). The other blocks keep the shape and add the
    identity.

    Shown in chapter 4, for basic blocks (``tests/test_ch34_agree.py`` proves the chapter's
    ``resnet_stage`` and ``resnet18`` build what ``resnet(18)`` builds).

    Parameters
    ----------
    block_cls : type
        The block class, e.g. ``Residual`` or ``Bottleneck``.
    num_channels : int
        Output channels of every block of the stage.
    num_blocks : int
        Blocks in the stage.
    first_stage : bool
        The stage right after the stem (stride 1) rather than a later one (stride 2).
    in_channels : int
        Channels the stage receives; only the first stage's matters (the stem's width).

    Returns
    -------
    nn.HybridSequential
    """
    strides = 1 if first_stage else 2
    project = not first_stage or num_channels != in_channels
    stage = nn.HybridSequential()
    stage.add(block_cls(num_channels, use_1x1conv=project, strides=strides))
    for _ in range(num_blocks - 1):
        stage.add(block_cls(num_channels))
    return stage


Width = Annotated[float, Check(arguments.positive_finite)]


@checked
def widen(channels: Channels, width: Width):
    """``channels`` times the width factor, rounded, and at least 1: the one rounding rule for
    ``resnet(width=...)``, chapter 5's table of widths and benchmarks/throughput.py's PyTorch twin."""
    return max(1, round(channels * width))


@checked
def resnet(depth: Annotated[int, Check(arguments.one_of, choices=tuple(RESNET_SPEC))] = 18,
           num_classes: Annotated[int, Check(arguments.positive_int)] = 10,
           version: Annotated[int, Check(arguments.one_of, choices=(1, 2))] = 1,
           stem: Annotated[str, Check(arguments.one_of, choices=tuple(STEMS))] = 'imagenet',
           width: Width = 1.0):
    """A ResNet of ``depth`` 18, 34, 50, 101, 152 or 200, built from ``RESNET_SPEC``.

    ``version=1``: the CVPR paper's network (post-activation blocks). ``version=2``: pre-activation
    blocks (ECCV paper), plus a final BN-ReLU, which their outputs need before the pooling, because
    a pre-activation block ends with a bare addition. In version 2 the stem keeps its BN-ReLU, so the
    first block's shortcut carries the activated output as the ECCV paper's first unit does; that
    block still applies its own BN-ReLU on its branch, a redundant pair (128 parameters for 64
    channels) that MXNet's model zoo v2 has too and the authors' code leaves out.

    ``stem`` names one of ``STEMS``: ``'imagenet'`` (default, the paper's 7x7/2 convolution and
    3x3/2 max-pool) or a 3x3 convolution without pooling for small images, with stride 1
    (``'small'``) or 2 (``'small-stride2'``). The stages and blocks are the same for every stem.

    ``width`` multiplies every layer's channels (the stem's and each stage's), as the widening factor
    k of Zagoruyko and Komodakis' wide ResNets does (they widen, k > 1); ``width=0.5`` gives stages of
    32, 64, 128 and 256 channels, about a quarter of the multiply-adds. Depth and blocks stay.

    Layout (a flat ``HybridSequential``, so ``net[i]`` indexes it): the stem's layers (conv, BN,
    ReLU, and max-pool for the ImageNet stem only), four stages (``HybridSequential`` of blocks),
    [BN, ReLU for v2], global average pooling (全局平均汇聚) and a ``Dense(num_classes)`` layer.
    Input channels and size are inferred at the first forward pass: 3x224x224 ImageNet images and
    1x96x96 Fashion-MNIST images both work.
    """
    kind, blocks_per_stage = RESNET_SPEC[depth]
    block_cls = BLOCKS[(version, kind)]
    kernel, stride, max_pool = STEMS[stem]
    stem_width = widen(STEM_WIDTH, width)
    net = nn.HybridSequential()
    net.add(nn.Conv2D(stem_width, kernel_size=kernel, strides=stride, padding=kernel // 2,
                      use_bias=False),
            nn.BatchNorm(), nn.Activation('relu'))
    if max_pool:
        net.add(nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    for i, (channels, num_blocks) in enumerate(zip(STAGE_WIDTHS[kind], blocks_per_stage)):
        net.add(resnet_stage(block_cls, widen(channels, width), num_blocks, first_stage=(i == 0),
                             in_channels=stem_width))
    if version == 2:
        net.add(nn.BatchNorm(), nn.Activation('relu'))
    net.add(nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


@checked
def count_parameters(net: Net, trainable_only: Flag = True):
    """Number of scalars in ``net``'s parameters. Used in chapters 3, 4 and 5 and both exercises.

    Parameters
    ----------
    net : gluon.Block
        The network; it must have run once, to fix every shape (``inspection.parameter_counts``
        counts an uninitialized one).
    trainable_only : bool
        Leave out parameters no gradient updates (``grad_req == 'null'``): batch norm's running mean
        and variance, which a forward pass in training mode averages but no optimizer touches. This
        (the default) is the count papers report.

    Returns
    -------
    int
    """
    params = [p for p in net.collect_params().values()
              if not (trainable_only and p.grad_req == 'null')]
    unknown = [p.name for p in params if p.shape is None or any(d <= 0 for d in p.shape)]
    if unknown:  # Gluon writes a size it has not inferred yet as 0 (or -1): the sum would be wrong
        raise arguments.ArgumentError(
            f'net must have run once before its parameters can be counted: {len(unknown)} of them '
            f'(e.g. {unknown[0]}) still have a deferred shape, fixed by the first forward pass. '
            f'Initialize it and run it on one batch first (net.initialize(); net(X)), or count it '
            f'without running it: inspection.parameter_counts(net, input_shape).')
    return sum(math.prod(p.shape) for p in params)


@checked
def named_parameters(net: Net, trainable_only: Flag = True):
    """The parameters with paths a reader can follow. Used in chapters 3, 4 and 5.

    Parameters
    ----------
    net : gluon.Block
        The network.
    trainable_only : bool
        As in ``count_parameters``.

    Returns
    -------
    list of (str, gluon.Parameter)
        Paths such as ``'downsample.0.weight'`` or ``'4.0.body.1.gamma'``, instead of MXNet's global names
        (``conv57_weight``), which depend on how many layers the process has created before.
    """
    params = net._collect_params_with_prefix()  # the names save_parameters uses
    return [(name, p) for name, p in params.items()
            if not (trainable_only and p.grad_req == 'null')]
