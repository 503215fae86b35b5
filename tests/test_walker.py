"""d2lutils.walker: paths, one row per call, a shared parameter counted once, hooks that go away."""
import pytest

import d2lutils  # noqa: F401
from mxnet import np, npx
from mxnet.gluon import nn

from d2lutils import models, walker

npx.set_np()


def test_walk_gives_paths_in_registration_order_and_a_shared_block_once():
    shared = nn.Dense(4)
    net = nn.HybridSequential()
    net.add(models.Residual(4, use_1x1conv=True), shared, shared)
    paths = [path for path, _ in walker.walk(net)]
    assert paths == ['', '0', '0.body', '0.body.0', '0.body.1', '0.body.2', '0.body.3', '0.body.4',
                     '0.downsample', '0.downsample.0', '0.downsample.1', '0.relu', '1']


def test_recording_rows_and_a_shared_layer_counted_once():
    shared = nn.Dense(5, in_units=5)
    net = nn.Sequential()
    net.add(nn.Dense(5, in_units=3), shared, shared)
    net.initialize()
    with walker.recording(net) as record:
        net(np.ones((2, 3)))
    assert [(c.path, c.kind, c.input_shape, c.output_shape) for c in record.calls] == [
        ('0', 'FullyConnected', (2, 3), (2, 5)), ('1', 'FullyConnected', (2, 5), (2, 5)),
        ('1', 'FullyConnected', (2, 5), (2, 5))]
    assert [c.params for c in record.calls] == [3 * 5 + 5, 5 * 5 + 5, 0]  # the reuse is free
    assert [c.macs for c in record.calls] == [2 * 5 * 3, 2 * 5 * 5, 2 * 5 * 5]
    assert walker.macs_per_example(record.calls) == 15 + 25 + 25
    assert len(record.of(nn.Dense)) == 3 and record.of(nn.Conv2D) == []


def test_layer_macs_of_a_grouped_convolution_by_hand():
    # 8 input channels in 2 groups: each output element reads 4 channels x 3 x 3 taps.
    assert walker.layer_macs('Convolution', (1, 8, 5, 5), (1, 6, 5, 5), (3, 3), 2) \
        == 6 * 5 * 5 * 4 * 9
    assert walker.layer_macs('BatchNorm', (1, 8, 5, 5), (1, 8, 5, 5)) == 0


def test_hooks_are_removed_even_when_the_forward_pass_fails():
    net = nn.Sequential()
    net.add(nn.Dense(3, in_units=2))
    net.initialize()
    with pytest.raises(Exception):
        with walker.recording(net):
            net(np.ones((1, 7)))  # 7 inputs where 2 are expected
    with walker.recording(net) as record:
        net(np.ones((1, 2)))
    assert len(record.calls) == 1  # only the hook of this recording ran
    assert not net[0]._forward_hooks
