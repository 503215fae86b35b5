"""d2lutils.inspection against a real forward pass, the paper's multiply-adds and hand counts."""

import pytest

import d2lutils  # noqa: F401
import mxnet as mx
from mxnet import np, npx

from d2lutils import inspection, models, walker

npx.set_np()

# He et al. 2016 (CVPR), Table 1, "FLOPs" (multiply-adds) at 224x224, in units of 10^9.
PAPER_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}


@pytest.mark.parametrize('depth', sorted(PAPER_GMACS))
def test_multiply_adds_within_5_percent_of_paper(depth):
    macs = inspection.count_macs(models.resnet(depth, num_classes=1000), (3, 224, 224))
    assert abs(macs / 1e9 / PAPER_GMACS[depth] - 1) < 0.05


def test_resnet18_multiply_adds_exact():
    # Our own count, fixed: convolutions 1,813,561,344 + classifier 512,000.
    assert inspection.count_macs(models.resnet(18, num_classes=1000), (1, 3, 224, 224)) \
        == 1_814_073_344


def test_residual_block_by_hand():
    blk = models.Residual(6, use_1x1conv=True, strides=2)
    rows = inspection.trace(blk, (4, 3, 6, 6))
    by_name = {row.name: row for row in rows}
    out = 4 * 6 * 3 * 3  # output elements
    assert by_name['body.0'].macs == out * 3 * 9
    assert by_name['body.3'].macs == out * 6 * 9
    assert by_name['downsample.0'].macs == out * 3 * 1
    assert by_name['body.0'].params == 6 * 3 * 9
    assert by_name['body.1'].params == 12 and by_name['body.1'].macs == 0
    assert by_name['add'].kind == 'add' and by_name['add'].output_shape == (4, 6, 3, 3)
    assert rows[0].name == 'input' and rows[0].output_bytes == 4 * 3 * 6 * 6 * 4
    assert rows[-1].kind == 'Activation' and rows[-1].output_shape == (4, 6, 3, 3)
    # input + 8 outputs of 4x6x3x3 (body: conv bn relu conv bn; downsample: conv bn; add) + relu
    assert inspection.activation_bytes(blk, (3, 6, 6)) == (3 * 6 * 6 + 9 * 6 * 3 * 3) * 4


def test_trace_agrees_with_a_real_forward_pass():
    """Shapes and multiply-adds from shape inference == those forward hooks on the leaf layers see
    in a real forward pass (``walker.recording``)."""
    net = models.resnet(18, num_classes=10)
    net.initialize()
    x = np.zeros((2, 1, 32, 32))
    with walker.recording(net) as record:
        net(x)
    traced = [(row.name, row.kind, row.output_shape, row.macs)
              for row in inspection.trace(net, x.shape) if row.kind not in ('input', 'add')]
    kinds = {'Conv2D': 'Convolution', 'BatchNorm': 'BatchNorm', 'Activation': 'Activation',
             'MaxPool2D': 'Pooling', 'GlobalAvgPool2D': 'Pooling', 'Dense': 'FullyConnected'}
    seen = [(c.path, kinds[type(c.layer).__name__], c.output_shape, c.macs) for c in record.calls]
    assert seen == traced
    assert sum(c.params for c in record.calls) == models.count_parameters(net)
    trainable, other = inspection.parameter_counts(net, (1, 32, 32))
    assert trainable == models.count_parameters(net)
    assert other == models.count_parameters(net, trainable_only=False) - trainable
    assert sum(row.params for row in inspection.trace(net, x.shape)) == trainable


def test_bad_shape():
    with pytest.raises(ValueError):
        inspection.count_macs(models.resnet(18), (224, 224))


def test_non_hybrid_block_is_traced_by_running_it():
    nn = mx.gluon.nn

    def layers():
        return [nn.Conv2D(8, 3, padding=1, use_bias=False), nn.BatchNorm(), nn.Activation('relu'),
                models.Residual(16, use_1x1conv=True, strides=2), nn.GlobalAvgPool2D(), nn.Dense(5)]
    plain, hybrid = nn.Sequential(), nn.HybridSequential()
    plain.add(*layers())
    hybrid.add(*layers())
    shape = (1, 3, 12, 12)
    strip = lambda rows: [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in rows
                          if r.kind != 'add']
    assert strip(inspection.trace(plain, shape)) == strip(inspection.trace(hybrid, shape))
    assert plain[0].weight.shape == (8, -1, 3, 3)  # traced on a copy: still uninitialized
    assert inspection.parameter_counts(plain, shape) == inspection.parameter_counts(hybrid, shape)


def small_net(width=4):
    nn = mx.gluon.nn
    net = nn.HybridSequential()
    net.add(nn.Conv2D(width, 3, padding=1, use_bias=False), nn.BatchNorm(), nn.Activation('relu'),
            nn.GlobalAvgPool2D(), nn.Dense(3))
    net.initialize()
    return net


def test_zero_gradients_on_a_1x1_input_leave_only_the_centre_tap():
    # On a 1x1 input the 3x3 kernel's eight outer taps multiply the zero padding: no gradient.
    d2lutils.seed_everything(0)
    net = small_net()
    X, y = np.random.normal(size=(8, 2, 1, 1)), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    counts = inspection.zero_gradients(net, X, y)
    conv = next(name for name in counts if name.endswith('weight') and name.startswith('0'))
    assert counts[conv] == (4 * 2 * 8, 4 * 2 * 9)
    grad = net[0].weight.grad()
    assert float(np.abs(grad[:, :, 1, 1]).min()) > 0  # the centre tap learns
    assert counts['4.weight'][0] == 0 and counts['1.gamma'][0] == 0


def test_zero_gradients_vanish_on_a_larger_input():
    d2lutils.seed_everything(0)
    net = small_net()
    X, y = np.random.normal(size=(8, 2, 5, 5)), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    assert all(zeros == 0 for zeros, _ in inspection.zero_gradients(net, X, y).values())


def test_zero_gradients_do_not_accumulate_with_grad_req_add():
    d2lutils.seed_everything(0)
    net = small_net()
    X, y = np.random.normal(size=(8, 2, 1, 1)), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    first = inspection.zero_gradients(net, X, y)
    net.collect_params().setattr('grad_req', 'add')
    assert inspection.zero_gradients(net, X, y) == first
    assert inspection.zero_gradients(net, X, y) == first


def test_resnet18_at_28x28_wastes_stage_4():
    # 28x28 reaches stage 4 at 1x1: block 0's strided first conv sees 4 of its 9 taps (its 2x2 input
    # lies in the lower right of the padded window), every later 3x3 conv only the centre.
    d2lutils.seed_everything(0)
    net = models.resnet(18, num_classes=10)
    net.initialize(mx.init.Xavier())
    X, y = np.random.normal(size=(4, 1, 28, 28)), np.array([0, 1, 2, 3])
    counts = inspection.zero_gradients(net, X, y)
    assert counts['7.0.body.0.weight'][0] >= 512 * 256 * 5
    for name in ('7.0.body.3.weight', '7.1.body.0.weight', '7.1.body.3.weight'):
        assert counts[name][0] >= 512 * 512 * 8
    # yet no parameter is left out entirely: even in stage 4 the centre taps get a gradient
    left_out = [name for name, (zeros, size) in counts.items() if zeros == size]
    assert left_out == [], left_out


def test_zero_gradients_need_two_images():
    net = small_net()
    with pytest.raises(ValueError, match='at least 2'):
        inspection.zero_gradients(net, np.zeros((1, 2, 3, 3)), np.array([0]))
