"""d2lutils.models against the papers' parameter counts and against MXNet's own model zoo.

The model zoo (``mxnet.gluon.model_zoo.vision``) is code no one in this project wrote, so agreeing
with it is evidence, not self-confirmation. Its weights are not needed: an initialized net and one
forward pass fix every parameter's shape. Counting at 32x32 gives the same counts as at 224x224 (no
parameter shape depends on the image size), in a fraction of the time.
"""
import pytest

import d2lutils  # noqa: F401  (sets OMP_NUM_THREADS before mxnet is imported)
import mxnet as mx
from mxnet import autograd, np, npx
from mxnet.gluon.model_zoo import vision

from d2lutils import inspection, models

npx.set_np()

# Trainable parameters at 3x224x224 with 1000 classes (shared/notes/paper-facts.md; the standard
# counts of the CVPR paper's architectures without conv biases before batch norm).
PAPER_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}

BLOCK_CLASSES = [models.Residual, models.Bottleneck, models.PreActResidual, models.PreActBottleneck]


def built(net, shape=(1, 3, 32, 32)):
    """Initialize ``net`` and run it once on zeros, so deferred shapes are fixed."""
    net.initialize(mx.init.Zero())
    net(np.zeros(shape))
    mx.nd.waitall()
    return net


def shaped(net, shape=(1, 3, 224, 224)):
    """Fix every parameter's shape by shape inference only: no weights, no computation.

    ``HybridBlock.infer_shape`` builds the graph symbolically; for ResNet-152 it takes a fraction of
    a second where initializing and running the model takes seconds. ``test_shape_inference_counts_
    like_a_forward_pass`` checks that both give the same counts.
    """
    net.infer_shape(np.zeros(shape))
    return net


def zoo_counts(version, depth):
    """(trainable, all) parameter counts of MXNet's model-zoo ResNet."""
    zoo = shaped(vision.get_resnet(version, depth))
    return models.count_parameters(zoo), models.count_parameters(zoo, trainable_only=False)


def zoo_bottleneck_biases(depth):
    """Biases of the zoo's v1 bottlenecks: each 1x1 convolution has one per output channel."""
    kind, blocks = models.RESNET_SPEC[depth]
    assert kind == 'bottleneck'
    return sum(n * (width // 4 + width) for width, n in zip(models.STAGE_WIDTHS[kind], blocks))


def test_spec_table_matches_paper_depths():
    # depth = 2 (stem conv + final dense) + layers per block * blocks (CVPR paper, Table 1)
    for depth, (kind, blocks) in models.RESNET_SPEC.items():
        per_block = {'basic': 2, 'bottleneck': 3}[kind]
        assert 2 + per_block * sum(blocks) == depth


@pytest.mark.parametrize('depth', sorted(PAPER_PARAMS))
def test_trainable_parameters_match_paper_and_model_zoo(depth):
    net = shaped(models.resnet(depth, num_classes=1000))
    ours = models.count_parameters(net)
    assert ours == PAPER_PARAMS[depth]
    zoo_trainable, zoo_all = zoo_counts(1, depth)
    if depth in (18, 34):
        assert zoo_trainable == ours
    else:
        # The zoo's BottleneckV1 gives its two 1x1 convolutions biases, which batch norm cancels.
        assert zoo_trainable - ours == zoo_bottleneck_biases(depth)
    # collect_params() also holds batch norm's running mean and variance (2 per channel).
    running = models.count_parameters(net, trainable_only=False) - ours
    bn_channels = sum(p.shape[0] for name, p in net.collect_params().items()
                      if name.endswith('running_mean'))
    assert running == 2 * bn_channels
    assert zoo_all - zoo_trainable == running  # the same batch norms as ours


@pytest.mark.parametrize('depth', [18, 50])
def test_version2_matches_model_zoo_v2(depth):
    net = shaped(models.resnet(depth, num_classes=1000, version=2))
    assert models.count_parameters(net) == zoo_counts(2, depth)[0]


def closed_form_parameters(kind, blocks_per_stage, in_channels=3, num_classes=1000):
    """Trainable parameters of a v1 ResNet, counted from the architecture alone (no MXNet).

    A k x k convolution from a to b channels has k*k*a*b weights, a batch norm 2 per channel; the
    first block of a stage has a 1x1 projection (with its batch norm) when its input and output
    differ (every stage's first block in this family). Checked below against the five published counts before it is trusted for ResNet-200,
    which has no published count of this kind.
    """
    def conv_bn(k, a, b):
        return k * k * a * b + 2 * b
    total = conv_bn(7, in_channels, 64)  # stem
    c_in = 64
    for width, n in zip(models.STAGE_WIDTHS[kind], blocks_per_stage):
        for i in range(n):
            if kind == 'basic':
                total += conv_bn(3, c_in, width) + conv_bn(3, width, width)
            else:
                inner = width // 4
                total += conv_bn(1, c_in, inner) + conv_bn(3, inner, inner) + conv_bn(1, inner, width)
            if c_in != width:  # only a stage's first block changes the width
                total += conv_bn(1, c_in, width)
            c_in = width
    return total + c_in * num_classes + num_classes


@pytest.mark.parametrize('depth', sorted(PAPER_PARAMS))
def test_closed_form_count_reproduces_published_counts(depth):
    assert closed_form_parameters(*models.RESNET_SPEC[depth]) == PAPER_PARAMS[depth]


def test_resnet200_matches_closed_form_and_model_zoo_class():
    # The ECCV paper's ResNet-200 (blocks as in fb.resnet.torch). The model zoo has no ResNet-200,
    # but its ResNetV1 class builds any block layout; its 1x1 convolutions carry biases, as above.
    kind, blocks = models.RESNET_SPEC[200]
    assert (kind, blocks) == ('bottleneck', (3, 24, 36, 3))
    ours = models.count_parameters(shaped(models.resnet(200, num_classes=1000)))
    assert ours == closed_form_parameters(kind, blocks) == 64_673_832
    zoo = shaped(vision.ResNetV1(vision.BottleneckV1, list(blocks), [64, 256, 512, 1024, 2048]))
    assert models.count_parameters(zoo) - zoo_bottleneck_biases(200) == ours
    v2 = models.count_parameters(shaped(models.resnet(200, num_classes=1000, version=2)))
    zoo_v2 = shaped(vision.ResNetV2(vision.BottleneckV2, list(blocks), [64, 256, 512, 1024, 2048]))
    assert v2 == models.count_parameters(zoo_v2)


def test_preact_bottleneck_strides_like_model_zoo_v2():
    # Stride on the 3x3 convolution, as MXNet's BottleneckV2: same weights and same multiply-adds.
    ours = models.PreActBottleneck(64, use_1x1conv=True, strides=2)
    zoo = vision.BottleneckV2(64, 2, downsample=True, in_channels=32)
    shape = (1, 32, 8, 8)
    assert inspection.count_macs(ours, shape) == inspection.count_macs(zoo, shape)
    for net in (ours, zoo):
        shaped(net, shape)
    assert models.count_parameters(ours) == models.count_parameters(zoo)


def test_zoo_bias_count_for_resnet50_by_hand():
    # 3 blocks of (64 + 256), 4 of (128 + 512), 6 of (256 + 1024), 3 of (512 + 2048)
    assert zoo_bottleneck_biases(50) == 3 * 320 + 4 * 640 + 6 * 1280 + 3 * 2560 == 18_880


@pytest.mark.parametrize('cls', BLOCK_CLASSES)
@pytest.mark.parametrize('hybridize', [False, True])
def test_every_block_shapes(cls, hybridize):
    x = np.zeros((2, 16, 8, 8))
    keep = cls(16)
    keep.initialize()
    project = cls(32, use_1x1conv=True, strides=2)
    project.initialize()
    if hybridize:
        keep.hybridize()
        project.hybridize()
    assert keep(x).shape == (2, 16, 8, 8)
    assert project(x).shape == (2, 32, 4, 4)


def test_shape_inference_counts_like_a_forward_pass():
    a = built(models.resnet(18, num_classes=1000))
    b = shaped(models.resnet(18, num_classes=1000))
    assert models.count_parameters(a) == models.count_parameters(b) == PAPER_PARAMS[18]
    assert models.count_parameters(a, False) == models.count_parameters(b, False)
    zoo = built(vision.get_resnet(1, 18))
    assert sum(p.data().size for p in zoo.collect_params().values() if p.grad_req != 'null') \
        == PAPER_PARAMS[18]


def test_no_bias_anywhere_but_the_classifier():
    net = shaped(models.resnet(50, num_classes=1000))
    biases = [name for name in net.collect_params() if name.endswith('bias')]
    assert len(biases) == 1 and biases[0].startswith('dense')


def test_bottleneck_stride_placement_leaves_parameters_alone():
    # v1 strides the first 1x1 conv, v2 the 3x3; same weight shapes apart from BN placement.
    a = built(models.Bottleneck(64, use_1x1conv=True, strides=2), (1, 32, 8, 8))
    assert a.body[0]._kwargs['stride'] == (2, 2) and a.body[3]._kwargs['stride'] == (1, 1)
    b = built(models.PreActBottleneck(64, use_1x1conv=True, strides=2), (1, 32, 8, 8))
    assert b.body[0]._kwargs['stride'] == (1, 1) and b.body[3]._kwargs['stride'] == (2, 2)
    c = built(models.Bottleneck(64, use_1x1conv=True, strides=2, stride_on='3x3'), (1, 32, 8, 8))
    assert c.body[0]._kwargs['stride'] == (1, 1) and c.body[3]._kwargs['stride'] == (2, 2)
    conv_weights = lambda blk: sorted(p.shape for n, p in blk.collect_params().items()
                                      if 'conv' in n and n.endswith('weight'))
    assert conv_weights(a) == conv_weights(b) == conv_weights(c)
    with pytest.raises(ValueError, match="stride_on must be one of '1x1', '3x3'"):
        models.Bottleneck(64, stride_on='conv2')


def test_identity_shortcut_passes_gradient():
    # With the second convolution's weights (body[3]) at zero the residual branch is 0 and, for the
    # pre-activation block (no ReLU after the sum), the block is exactly the identity.
    d2lutils.seed_everything(0)
    blk = models.PreActResidual(4)
    blk.initialize()
    x = np.random.normal(size=(2, 4, 5, 5))
    blk(x)
    blk.body[3].weight.set_data(np.zeros(blk.body[3].weight.shape))
    x.attach_grad()
    with autograd.record():
        y = blk(x)
    y.backward()
    assert float(np.abs(y - x).max()) == 0.0
    assert float(np.abs(x.grad - 1).max()) == 0.0


def test_resnet_fashion_mnist_shapes():
    net = built(models.resnet(18, num_classes=10), (2, 1, 96, 96))
    assert net(np.zeros((2, 1, 96, 96))).shape == (2, 10)
    assert net[0].weight.shape == (64, 1, 7, 7)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r'depth must be one of 18, 34, 50, 101, 152, 200; got 20\.'):
        models.resnet(20)
    with pytest.raises(ValueError, match=r'version must be one of 1, 2; got 3\.'):
        models.resnet(18, version=3)


def test_legacy_ndarray_mode():
    npx.reset_np()
    try:
        blk = models.Residual(6, use_1x1conv=True, strides=2)
        blk.initialize()
        assert blk(mx.nd.zeros((4, 3, 6, 6))).shape == (4, 6, 3, 3)
    finally:
        npx.set_np()


@pytest.mark.parametrize('width', [0.25, 0.5, 2.0])
def test_width_scales_every_layer_like_the_model_zoos_channels(width):
    """``resnet(width=k)`` is the model zoo's ResNetV1 with every channel count times k (the zoo
    takes the stem's and the stages' widths as its ``channels`` list)."""
    ours = shaped(models.resnet(18, num_classes=1000, width=width))
    channels = [round(c * width) for c in (64, 64, 128, 256, 512)]
    zoo = shaped(vision.ResNetV1(vision.BasicBlockV1, [2, 2, 2, 2], channels))
    assert models.count_parameters(ours) == models.count_parameters(zoo)
    assert ours[0].weight.shape == (channels[0], 3, 7, 7)


def test_width_must_be_positive():
    with pytest.raises(ValueError, match=r'width must be'):
        models.resnet(18, width=0)
