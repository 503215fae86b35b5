"""d2lutils.exercises.behaviour: its NumPy interpreter agrees with MXNet, and its edits are the single edits."""
import numpy as onp
import pytest

import d2lutils  # noqa: F401  (sets MXNet's thread count first)
from mxnet import autograd, np, npx
from mxnet.gluon import nn

from d2lutils.exercises import behaviour

npx.set_np()

GLUON_ACTIVATIONS = {'relu': lambda: nn.Activation('relu'),
                     'sigmoid': lambda: nn.Activation('sigmoid'),
                     'tanh': lambda: nn.Activation('tanh'),
                     'softrelu': lambda: nn.Activation('softrelu'),
                     'softsign': lambda: nn.Activation('softsign'), 'elu': nn.ELU, 'gelu': nn.GELU,
                     'swish': nn.Swish, 'leaky:0.2': lambda: nn.LeakyReLU(0.2)}


@pytest.mark.parametrize('training', [True, False], ids=['training', 'inference'])
def test_batch_norm_as_mxnet_computes_it(training):
    """The interpreter's BN, with the controlled values, is Gluon's BatchNorm with them."""
    x = onp.random.RandomState(0).normal(1.0, 2.0, size=(4, 6, 5, 5))
    bn = nn.BatchNorm()
    bn.initialize()
    bn(np.array(x, dtype='float32'))
    assert behaviour.set_controlled_weights(bn) == []
    with autograd.train_mode() if training else autograd.predict_mode():
        expected = bn(np.array(x, dtype='float32')).asnumpy()
    assert onp.allclose(behaviour.apply_ops(('bn',), x, training), expected, atol=1e-5)


@pytest.mark.parametrize('op', list(GLUON_ACTIVATIONS))
def test_activations_as_gluon_computes_them(op):
    x = onp.linspace(-4, 4, 81).reshape(1, 1, 9, 9)
    layer = GLUON_ACTIVATIONS[op]()
    layer.initialize()
    assert onp.allclose(behaviour.ACTIVATIONS[op](x), layer(np.array(x, dtype='float32')).asnumpy(), atol=1e-5)


def test_controlled_weights_depend_on_shape_and_kind_only():
    a, b = nn.Conv2D(4, 3), nn.Conv2D(4, 3, use_bias=False)
    for conv in (a, b):
        conv.initialize()
        conv(np.zeros((1, 2, 5, 5)))
        behaviour.set_controlled_weights(conv)
    assert onp.array_equal(a.weight.data().asnumpy(), b.weight.data().asnumpy())
    assert not a.bias.data().asnumpy().any()
    gamma, beta = (behaviour.controlled_values((8,), k) for k in ('gamma', 'beta'))
    assert not onp.array_equal(gamma, beta) and (beta < 0).any() and (beta > 0).any()


def test_single_edits_of_a_small_program():
    """('bn', 'relu') on one path and nothing on another: every program one edit away, once."""
    program = {'a': ('bn', 'relu'), 'b': ()}
    edits = behaviour.single_edits(program, replacements=('relu', 'tanh'))
    results = [new for _, new in edits]
    assert program not in results
    assert len({tuple(sorted(r.items())) for r in results}) == len(results)
    expected = [
        {'a': ('relu',), 'b': ()}, {'a': ('bn',), 'b': ()},                  # remove
        {'a': ('bn', 'bn', 'relu'), 'b': ()}, {'a': ('bn', 'relu', 'relu'), 'b': ()},  # duplicate
        {'a': ('relu', 'bn'), 'b': ()},                                       # swap
        {'a': ('bn', 'tanh'), 'b': ()},                                       # replace
        {'a': ('relu',), 'b': ('bn',)}, {'a': ('bn',), 'b': ('relu',)},       # move to b
        {'a': ('relu', 'bn', 'relu'), 'b': ()}, {'a': ('bn', 'relu', 'bn'), 'b': ()},  # insert
        {'a': ('bn', 'relu'), 'b': ('relu',)}, {'a': ('bn', 'relu'), 'b': ('bn',)},
    ]
    assert sorted(map(str, results)) == sorted(map(str, expected))


def test_an_edit_says_what_and_where():
    places = {'a': 'before the addition', 'b': 'after the addition'}
    edits = dict((str(new), edit) for edit, new in
                 behaviour.single_edits({'a': ('relu',), 'b': ()}, replacements=('tanh',)))
    assert edits[str({'a': (), 'b': ('relu',)})].describe(places) == \
        'ReLU after the addition instead of before the addition'
    assert edits[str({'a': ('tanh',), 'b': ()})].describe(places) == \
        'tanh instead of ReLU before the addition'
