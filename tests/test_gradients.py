"""d2lutils.gradients: the deep MLP and the per-layer gradient norms, checked against hand-made
backpropagation in plain NumPy."""
import numpy as onp
from mxnet import init, np, npx

from d2lutils import seed_everything
from d2lutils.gradients import deep_mlp, layer_grad_norms

npx.set_np()


def test_deep_mlp_layers():
    net = deep_mlp(5, 16, 'relu')
    net.initialize()
    assert net(np.zeros((2, 7))).shape == (2, 10)
    assert len(net) == 6
    assert [layer.weight.shape[0] for layer in net] == [16] * 5 + [10]


def numpy_grad_norms(weights, biases, X, y):
    """Backpropagation by hand for sigmoid hidden layers, a linear output and mean cross-entropy."""
    activations = [X]
    for W, b in zip(weights[:-1], biases[:-1]):
        activations.append(1 / (1 + onp.exp(-(activations[-1] @ W.T + b))))
    logits = activations[-1] @ weights[-1].T + biases[-1]
    p = onp.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = p.copy()
    delta[onp.arange(len(y)), y] -= 1
    delta /= len(y)
    norms = []
    for i in range(len(weights) - 1, -1, -1):
        norms.append(onp.linalg.norm(delta.T @ activations[i]))
        if i > 0:
            a = activations[i]
            delta = (delta @ weights[i]) * a * (1 - a)
    return norms[::-1]


def test_grad_norms_match_hand_backpropagation():
    seed_everything(0)
    net = deep_mlp(3, 8, 'sigmoid', num_outputs=4)
    net.initialize(init.Normal(0.5))
    X = np.random.normal(0, 1, (6, 5))
    y = np.array([0, 1, 2, 3, 1, 0], dtype='int32')
    got = layer_grad_norms(net, X, y)
    weights = [layer.weight.data().asnumpy().astype('float64') for layer in net]
    biases = [layer.bias.data().asnumpy().astype('float64') for layer in net]
    expected = numpy_grad_norms(weights, biases, X.asnumpy().astype('float64'), y.asnumpy())
    assert len(got) == 4
    onp.testing.assert_allclose(got, expected, rtol=1e-4)


def test_sigmoid_gradients_vanish_towards_the_input():
    seed_everything(0)
    net = deep_mlp(20, 32, 'sigmoid')
    net.initialize(init.Xavier())
    X = np.random.uniform(size=(16, 20))
    norms = layer_grad_norms(net, X, np.zeros(16, dtype='int32'))
    assert len(norms) == 21
    assert norms[0] < 1e-6 * norms[-1]
