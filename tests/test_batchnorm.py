"""Batch norm from scratch (d2lutils.batchnorm) against Gluon's nn.BatchNorm, which no one here wrote."""
import mxnet as mx
import pytest
from mxnet import autograd, np, npx
from mxnet.gluon import nn

from d2lutils import seed_everything
from d2lutils.batchnorm import BatchNorm, batch_norm

npx.set_np()

SHAPES = [(32, 6), (8, 4, 5, 5)]  # dense (batch, features) and convolutional (batch, C, H, W)


def relative_difference(a, b):
    return float(abs(a - b).max() / max(float(abs(b).max()), 1e-12))


def training_step(net, X, weights):
    """A recorded forward pass, a loss weighting every output differently, and the backward pass."""
    X = X.copy()
    X.attach_grad()
    with autograd.record():
        Y = net(X)
        loss = (weights * Y).sum()
    loss.backward()
    return {'output': Y, 'grad of input': X.grad, 'grad of gamma': net.gamma.grad(),
            'grad of beta': net.beta.grad()}


def run_both(shape, ours, steps=3):
    """Feed the same random batches to ``ours`` and to nn.BatchNorm; return both blocks and the
    largest relative difference of every quantity over the training steps."""
    seed_everything(0)
    gluon_bn = nn.BatchNorm()
    ours.initialize()
    gluon_bn.initialize()
    worst = {}
    for _ in range(steps):
        X, weights = np.random.normal(2, 3, shape), np.random.uniform(size=shape)
        a, b = training_step(ours, X, weights), training_step(gluon_bn, X, weights)
        for name in a:
            worst[name] = max(worst.get(name, 0.0), relative_difference(a[name], b[name]))
    return ours, gluon_bn, worst


@pytest.mark.parametrize('shape', SHAPES)
def test_training_steps_match_gluon(shape):
    ours, gluon_bn, worst = run_both(shape, BatchNorm(shape[1]))
    assert set(worst) == {'output', 'grad of input', 'grad of gamma', 'grad of beta'}
    for name, diff in worst.items():
        assert diff < 1e-5, f'{name}: relative difference {diff:.1e}'
    assert relative_difference(ours.running_mean.data(), gluon_bn.running_mean.data()) < 1e-5
    assert relative_difference(ours.running_var.data(), gluon_bn.running_var.data()) < 1e-5
    # the moving averages really moved (a block that never updates them would otherwise pass)
    assert float(abs(ours.running_mean.data()).min()) > 0.1


@pytest.mark.parametrize('shape', SHAPES)
def test_prediction_and_unrecorded_train_mode_match_gluon(shape):
    ours, gluon_bn, _ = run_both(shape, BatchNorm(shape[1]))
    X = np.random.normal(2, 3, shape)
    assert relative_difference(ours(X), gluon_bn(X)) < 1e-5
    mean_before = ours.running_mean.data().copy()
    with autograd.train_mode():  # batch statistics, and no update of the averages
        Y_ours, Y_gluon = ours(X), gluon_bn(X)
    assert relative_difference(Y_ours, Y_gluon) < 1e-5
    assert relative_difference(ours.running_mean.data(), mean_before) == 0
    assert relative_difference(ours(X), gluon_bn(X)) < 1e-5


def test_a_wrong_momentum_is_caught():
    """The comparison can fail: momentum 0.1 (PyTorch's convention for the other weight) differs."""
    ours, gluon_bn, _ = run_both((32, 6), BatchNorm(6, momentum=0.1))
    assert relative_difference(ours.running_mean.data(), gluon_bn.running_mean.data()) > 0.1


def test_batch_norm_normalizes_per_feature_and_per_channel():
    seed_everything(0)
    for shape, axes in [((64, 4), (0,)), ((8, 3, 5, 5), (0, 2, 3))]:
        param_shape = (1, shape[1]) + (1,) * (len(shape) - 2)
        X = np.random.normal(5, 3, shape) * np.arange(1, shape[1] + 1).reshape(param_shape)
        ones, zeros = np.ones(param_shape), np.zeros(param_shape)
        Y, mean, var = batch_norm(X, ones, zeros, zeros, ones, 1e-5, 0.9, training=True)
        assert float(abs(Y.mean(axis=axes)).max()) < 1e-4
        assert float(abs(Y.var(axis=axes) - 1).max()) < 1e-3
        assert mean.shape == param_shape
        assert float(abs(mean - 0.1 * X.mean(axis=axes, keepdims=True)).max()) < 1e-4
        assert float(abs(var - (0.9 + 0.1 * X.var(axis=axes, keepdims=True))).max()) < 1e-3


def test_prediction_uses_moving_averages_unchanged():
    X = np.array([[1.0, 2.0], [3.0, 6.0]])
    gamma, beta = np.array([[2.0, 1.0]]), np.array([[0.5, -1.0]])
    mean, var = np.array([[1.0, 2.0]]), np.array([[4.0, 16.0]])
    Y, new_mean, new_var = batch_norm(X, gamma, beta, mean, var, 0.0, 0.9, training=False)
    expected = np.array([[0.5, -1.0], [2.5, 0.0]])
    assert float(abs(Y - expected).max()) < 1e-6
    assert new_mean is mean and new_var is var


def test_other_input_ranks_are_refused():
    with pytest.raises(ValueError, match='2-D or 4-D'):
        batch_norm(np.ones((2, 3, 4)), 1, 0, 0, 1, 1e-5, 0.9, training=True)


def test_block_on_another_device():
    bn = BatchNorm(3)
    bn.initialize(ctx=mx.cpu(1))
    X = np.random.normal(0, 1, (4, 3), ctx=mx.cpu(1))
    with autograd.record():
        Y = bn(X)
    assert Y.ctx == mx.cpu(1)
    assert bn.running_mean.data(mx.cpu(1)).ctx == mx.cpu(1)
