"""Measuring gradients layer by layer (chapter 1): a deep plain MLP and each layer's gradient norm.

Used by chapter 1 to show vanishing (梯度消失) and exploding (梯度爆炸) gradients, and reusable by any
chapter that compares how far gradients travel through a deep network.
"""
from typing import Annotated

from mxnet import autograd, gluon, np
from mxnet.base import MXNetError
from mxnet.gluon import nn

from d2lutils import arguments
from d2lutils.arguments import Check, checked

Net = Annotated[nn.Block, Check(arguments.instance_of, cls='mxnet.gluon.Block',
                                allowed='a Gluon network (a gluon.Block, e.g. nn.Sequential)')]

Array = Annotated[object, Check(arguments.array)]
ACTIVATIONS = ('relu', 'sigmoid', 'tanh', 'softrelu', 'softsign')  # Gluon's nn.Activation names


@checked
def deep_mlp(num_hidden: Annotated[int, Check(arguments.non_negative_int)],
             width: Annotated[int, Check(arguments.positive_int)],
             activation: Annotated[str, Check(arguments.one_of, choices=ACTIVATIONS)],
             num_outputs: Annotated[int, Check(arguments.positive_int)] = 10):
    """A plain MLP: ``num_hidden`` Dense layers of ``width`` units with ``activation``, then a linear
    output layer. It has ``num_hidden + 1`` weight layers and no shortcuts and no normalization.
    Shown in chapter 1 (the chapter's copy is tested to agree: ``tests/test_ch12_agree.py``).

    Parameters
    ----------
    num_hidden : int
        Hidden layers.
    width : int
        Units per hidden layer.
    activation : str
        Gluon's name of the hidden layers' activation, e.g. 'sigmoid' or 'relu'.
    num_outputs : int
        Units of the output layer (classes).

    Returns
    -------
    nn.Sequential
    """
    net = nn.Sequential()
    for _ in range(num_hidden):
        net.add(nn.Dense(width, activation=activation))
    net.add(nn.Dense(num_outputs))
    return net


@checked
def layer_grad_norms(net: Annotated[nn.Block, Check(arguments.initialized_net)], X: Array, y: Array,
                     loss: Annotated[object, Check(
                         arguments.callable_not_class,
                         allowed='a Gluon loss such as gluon.loss.SoftmaxCrossEntropyLoss()',
                         none_means='softmax cross-entropy')] = None):
    """The L2 norm of the loss gradient of every Dense layer's weight matrix, input layer first.
    Shown in chapter 1 (tested to agree with the chapter's copy: ``tests/test_ch12_agree.py``).

    One forward and backward pass on the batch ``(X, y)``.

    Parameters
    ----------
    net : gluon.Block
        An initialized network of Dense layers.
    X, y : mxnet.np.ndarray
        A batch and its labels.
    loss : gluon.loss.Loss, optional
        Softmax cross-entropy (mean over the batch) unless given.

    Returns
    -------
    list of float
        One per Dense layer.
    """
    loss = loss or gluon.loss.SoftmaxCrossEntropyLoss()
    if y.shape[:1] != X.shape[:1]:
        raise arguments.ArgumentError(f'y must hold one label per example of X ({X.shape[0]}); '
                                      f'got shape {tuple(y.shape)}.')
    with autograd.record():
        try:
            l = loss(net(X), y)
        except MXNetError as error:
            raise arguments.ArgumentError(
                f'X (shape {tuple(X.shape)}) does not fit net: {arguments.error_line(error)}. '
                f'Give a batch of the examples it was built for, e.g. (batch, features).') from None
        if not isinstance(l, np.ndarray):
            raise arguments.ArgumentError(f'loss must return an array of losses, as '
                                          f'gluon.loss.SoftmaxCrossEntropyLoss() does; it '
                                          f'returned {arguments._shown(l)}.')
        l = l.mean()
    l.backward()
    return [float(np.linalg.norm(layer.weight.grad())) for layer in net
            if isinstance(layer, nn.Dense)]
