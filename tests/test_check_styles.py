"""The exercise checks accept every correct way of writing the blocks.

Each class below computes what the reference computes (``d2lutils.models.Bottleneck`` or
``PreActResidual``) in a style a student may well choose. The lists ``BOTTLENECK_STYLES`` and
``PREACT_STYLES`` are the accepted styles; each must pass its check.
"""
import pytest

import d2lutils  # noqa: F401  (sets MXNet's thread count first)
from mxnet import npx
from mxnet.gluon import nn

from d2lutils import models
from d2lutils.exercises import checks

npx.set_np()


# --------------------------------------------------------------------------- bottleneck styles
def conv_bn(channels, kernel_size, strides=1, use_bias=False):
    """A convolution followed by batch norm, as one HybridSequential."""
    body = nn.HybridSequential()
    body.add(nn.Conv2D(channels, kernel_size, strides=strides, padding=kernel_size // 2,
                       use_bias=use_bias), nn.BatchNorm())
    return body


class BottleneckWithBiases(models.Bottleneck):
    """Biases on every convolution (as MXNet's model zoo does): batch norm removes them."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(num_channels, use_1x1conv, strides, **kwargs)
        inner = num_channels // 4
        self.body = nn.HybridSequential()  # replaces the library's body and downsample
        self.body.add(*conv_bn(inner, 1, strides, use_bias=True), nn.Activation('relu'),
                      *conv_bn(inner, 3, use_bias=True), nn.Activation('relu'),
                      *conv_bn(num_channels, 1, use_bias=True))
        if use_1x1conv:
            self.downsample = conv_bn(num_channels, 1, strides, use_bias=True)


class BottleneckSequential(nn.HybridBlock):
    """The branch as one HybridSequential, the projection as another (a sub-block)."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        inner = num_channels // 4
        self.body = nn.HybridSequential()
        self.body.add(nn.Conv2D(inner, 1, strides=strides, use_bias=False), nn.BatchNorm(),
                      nn.Activation('relu'),
                      nn.Conv2D(inner, 3, padding=1, use_bias=False), nn.BatchNorm(),
                      nn.Activation('relu'),
                      nn.Conv2D(num_channels, 1, use_bias=False), nn.BatchNorm())
        self.shortcut = conv_bn(num_channels, 1, strides) if use_1x1conv else None

    def hybrid_forward(self, F, x):
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return F.npx.relu(self.body(x) + shortcut)


class Projection(nn.HybridBlock):
    """The projection shortcut as a block of its own."""

    def __init__(self, num_channels, strides, **kwargs):
        super().__init__(**kwargs)
        self.conv = nn.Conv2D(num_channels, 1, strides=strides, use_bias=False)
        self.bn = nn.BatchNorm()

    def hybrid_forward(self, F, x):
        return self.bn(self.conv(x))


class BottleneckShortcutFirst(nn.HybridBlock):
    """Shortcut created and computed first, its own Projection block, F.npx.relu, other names."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.proj = Projection(num_channels, strides) if use_1x1conv else None
        inner = num_channels // 4
        self.reduce = nn.Conv2D(inner, 1, strides=strides, use_bias=False)
        self.reduce_bn = nn.BatchNorm()
        self.spatial = nn.Conv2D(inner, 3, padding=1, use_bias=False)
        self.spatial_bn = nn.BatchNorm()
        self.expand = nn.Conv2D(num_channels, 1, use_bias=False)
        self.expand_bn = nn.BatchNorm()

    def hybrid_forward(self, F, x):
        shortcut = self.proj(x) if self.proj is not None else x
        y = F.npx.relu(self.reduce_bn(self.reduce(x)))
        y = F.npx.activation(self.spatial_bn(self.spatial(y)), act_type='relu')
        return F.np.maximum(shortcut + self.expand_bn(self.expand(y)), 0)


class BottleneckImperative(nn.Block):
    """An nn.Block with forward(x) and mxnet.npx.relu, one ReLU layer per place."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        inner = num_channels // 4
        self.c1, self.b1 = nn.Conv2D(inner, 1, strides=strides, use_bias=False), nn.BatchNorm()
        self.c2, self.b2 = nn.Conv2D(inner, 3, padding=1, use_bias=False), nn.BatchNorm()
        self.c3, self.b3 = nn.Conv2D(num_channels, 1, use_bias=False), nn.BatchNorm()
        self.r1, self.r2 = nn.Activation('relu'), nn.Activation('relu')
        self.c4 = nn.Conv2D(num_channels, 1, strides=strides, use_bias=False) if use_1x1conv \
            else None
        self.b4 = nn.BatchNorm() if use_1x1conv else None

    def forward(self, x):
        y = self.r2(self.b2(self.c2(self.r1(self.b1(self.c1(x))))))
        y = self.b3(self.c3(y))
        return npx.relu(y + (self.b4(self.c4(x)) if self.c4 is not None else x))


class BottleneckHybridizesItself(models.Bottleneck):
    """Calls self.hybridize() in its constructor (the check used to crash on it)."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(num_channels, use_1x1conv, strides, **kwargs)
        self.hybridize()


class BottleneckV15(models.Bottleneck):
    """The stride on the 3x3 convolution ("ResNet v1.5", torchvision): accepted with a note."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(num_channels, use_1x1conv, strides, stride_on='3x3', **kwargs)


BOTTLENECK_STYLES = [models.Bottleneck, BottleneckWithBiases, BottleneckSequential,
                     BottleneckShortcutFirst, BottleneckImperative, BottleneckHybridizesItself,
                     BottleneckV15]


# --------------------------------------------------------------------------- pre-activation styles
class PreActWithBiases(models.PreActResidual):
    """Biases on every convolution."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(num_channels, use_1x1conv, strides, **kwargs)
        self.body = nn.HybridSequential()  # replaces the library's body and downsample
        self.body.add(nn.Conv2D(num_channels, 3, strides=strides, padding=1), nn.BatchNorm(),
                      nn.Activation('relu'), nn.Conv2D(num_channels, 3, padding=1))
        if use_1x1conv:
            self.downsample = nn.Conv2D(num_channels, 1, strides=strides)


class PreActSequential(nn.HybridBlock):
    """BN-ReLU pairs and the branch as HybridSequential bodies; the projection a sub-block."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.pre = nn.HybridSequential()
        self.pre.add(nn.BatchNorm(), nn.Activation('relu'))
        self.body = nn.HybridSequential()
        self.body.add(nn.Conv2D(num_channels, 3, strides=strides, padding=1, use_bias=False),
                      nn.BatchNorm(), nn.Activation('relu'),
                      nn.Conv2D(num_channels, 3, padding=1, use_bias=False))
        self.projection = nn.HybridSequential()
        if use_1x1conv:
            self.projection.add(nn.Conv2D(num_channels, 1, strides=strides, use_bias=False))
        self.use_1x1conv = use_1x1conv

    def hybrid_forward(self, F, x):
        pre = self.pre(x)
        return self.body(pre) + (self.projection(pre) if self.use_1x1conv else x)


class PreActImperative(nn.Block):
    """An nn.Block with npx.relu, computing the branch before the shortcut."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.bn_a, self.bn_b = nn.BatchNorm(), nn.BatchNorm()
        self.conv_a = nn.Conv2D(num_channels, 3, strides=strides, padding=1, use_bias=False)
        self.conv_b = nn.Conv2D(num_channels, 3, padding=1, use_bias=False)
        self.skip = nn.Conv2D(num_channels, 1, strides=strides, use_bias=False) if use_1x1conv \
            else None

    def forward(self, x):
        pre = npx.relu(self.bn_a(x))
        y = self.conv_b(npx.relu(self.bn_b(self.conv_a(pre))))
        return (self.skip(pre) if self.skip is not None else x) + y


class PreActHybridizesItself(models.PreActResidual):
    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(num_channels, use_1x1conv, strides, **kwargs)
        self.hybridize()


PREACT_STYLES = [models.PreActResidual, PreActWithBiases, PreActSequential, PreActImperative,
                 PreActHybridizesItself]


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize('style', BOTTLENECK_STYLES, ids=lambda c: c.__name__)
def test_bottleneck_style_is_accepted(style, capsys):
    checks.check_bottleneck(style)
    out = capsys.readouterr().out
    assert f'check_bottleneck({style.__name__}): passed, 4 settings' in out
    assert max(map(len, out.splitlines())) <= checks.WIDTH, out  # long class names too
    assert ('ResNet v1.5' in out) == (style is BottleneckV15), out


@pytest.mark.parametrize('style', PREACT_STYLES, ids=lambda c: c.__name__)
def test_preact_style_is_accepted(style, capsys):
    checks.check_preact(style)
    assert f'check_preact({style.__name__}): passed, 4 settings' in capsys.readouterr().out

