"""Batch normalization (批量规范化) from scratch: the function and a Gluon block (chapter 2).

Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing Internal
Covariate Shift", ICML 2015 (arXiv 1502.03167).

``batch_norm`` normalizes with the statistics of the batch while training and with moving averages
(移动平均) of them when predicting; per feature for a dense layer's (batch, features) output, per
channel for a convolution's (batch, channels, height, width) output. ``BatchNorm`` holds the learnable
scale (gamma) and shift (beta) and the moving averages, with the same names, shapes, initial values and
defaults as Gluon's ``nn.BatchNorm`` (momentum 0.9, eps 1e-5), so the two can be compared value for
value (``tests/test_batchnorm.py``, and chapter 2).

One difference in *when*, not *what*: MXNet 1.9.1's ``nn.BatchNorm`` updates its moving averages in the
backward pass of a training step; ``BatchNorm`` here updates them in the forward pass of a recorded
training step. After a step (record, forward, backward) both hold the same values, and a forward pass
that is not recorded changes neither.
"""
from typing import Annotated

from mxnet import autograd, np
from mxnet.gluon import nn

from d2lutils import arguments
from d2lutils.arguments import Check, checked

Array = Annotated[object, Check(arguments.array)]
Statistic = Annotated[object, Check(arguments.array_or_number)]
Momentum = Annotated[float, Check(arguments.momentum)]
Eps = Annotated[float, Check(arguments.non_negative_finite)]


@checked
def batch_norm(X: Array, gamma: Statistic, beta: Statistic, moving_mean: Statistic,
               moving_var: Statistic,
               eps: Eps, momentum: Momentum, training: Annotated[bool, Check(arguments.flag)]):
    """Normalize ``X`` and return ``(Y, new_moving_mean, new_moving_var)``. Shown in chapter 2 (the
    chapter's copy is tested to agree: ``tests/test_ch12_agree.py``).

    Parameters
    ----------
    X : mxnet.np.ndarray
        (batch, features) or (batch, channels, height, width).
    gamma, beta : mxnet.np.ndarray
        Scale and shift, one value per feature or channel, shaped to broadcast against ``X`` (e.g.
        (1, C) or (1, C, 1, 1)).
    moving_mean, moving_var : mxnet.np.ndarray
        The moving statistics, shaped like ``gamma``.
    eps : float
        Added to the variance before its square root.
    momentum : float
        Weight of the old moving averages in the new ones.
    training : bool
        Use the batch's mean and (biased) variance and move the moving averages towards them by
        ``1 - momentum``; otherwise use the moving averages and return them unchanged.
    """
    if X.ndim not in (2, 4):
        raise arguments.ArgumentError(f'X must be 2-D or 4-D: (batch, features) or (batch, '
                                      f'channels, height, width); got shape {X.shape}.')
    features = X.shape[1]
    for name, value in (('gamma', gamma), ('beta', beta), ('moving_mean', moving_mean),
                        ('moving_var', moving_var)):
        if getattr(value, 'size', 1) not in (1, features):
            raise arguments.ArgumentError(
                f'{name} must hold one value per feature or channel of X ({features}); got shape '
                f'{tuple(value.shape)}, e.g. use shape {(1, features) if X.ndim == 2 else (1, features, 1, 1)}.')
    if not training:
        X_hat = (X - moving_mean) / np.sqrt(moving_var + eps)
        return gamma * X_hat + beta, moving_mean, moving_var
    axes = (0,) if X.ndim == 2 else (0, 2, 3)
    mean = X.mean(axis=axes, keepdims=True)
    var = ((X - mean) ** 2).mean(axis=axes, keepdims=True)
    X_hat = (X - mean) / np.sqrt(var + eps)
    moving_mean = momentum * moving_mean + (1 - momentum) * mean
    moving_var = momentum * moving_var + (1 - momentum) * var
    return gamma * X_hat + beta, moving_mean, moving_var


class BatchNorm(nn.Block):
    """Batch normalization over axis 1 (features or channels) of a 2-D or 4-D input.

    Parameters as in ``nn.BatchNorm``: ``gamma`` (ones) and ``beta`` (zeros) are learned;
    ``running_mean`` (zeros) and ``running_var`` (ones) are the moving averages, not learned. In a
    recorded training pass (``autograd.record()``) it normalizes with the batch's statistics and
    updates the moving averages; under ``autograd.train_mode()`` without recording it uses the batch's
    statistics and leaves the averages alone; otherwise (prediction) it uses the averages.

    Shown in chapter 2 (the chapter's copy is tested to agree: ``tests/test_ch12_agree.py``).

    Parameters
    ----------
    num_features : int
        Features (2-D input) or channels (4-D input).
    momentum : float
        Weight of the old moving averages in the new ones.
    epsilon : float
        Added to the variance before its square root.
    """

    @checked
    def __init__(self, num_features: Annotated[int, Check(arguments.positive_int)],
                 momentum: Momentum = 0.9, epsilon: Eps = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = momentum, epsilon
        shape = (num_features,)
        self.gamma = self.params.get('gamma', shape=shape, init='ones')
        self.beta = self.params.get('beta', shape=shape, init='zeros')
        self.running_mean = self.params.get('running_mean', shape=shape, init='zeros',
                                            grad_req='null', differentiable=False)
        self.running_var = self.params.get('running_var', shape=shape, init='ones',
                                           grad_req='null', differentiable=False)

    def forward(self, X):
        shape = (1, -1) if X.ndim == 2 else (1, -1, 1, 1)
        ctx = X.ctx
        mean, var = self.running_mean.data(ctx), self.running_var.data(ctx)
        Y, new_mean, new_var = batch_norm(
            X, self.gamma.data(ctx).reshape(shape), self.beta.data(ctx).reshape(shape),
            mean.reshape(shape), var.reshape(shape), self.epsilon, self.momentum,
            training=autograd.is_training())
        if autograd.is_training() and autograd.is_recording():
            with autograd.pause():
                self.running_mean.set_data(new_mean.reshape(-1))
                self.running_var.set_data(new_var.reshape(-1))
        return Y
