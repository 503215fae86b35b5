"""Look inside a network: every layer's output shape, parameters, multiply-adds and output bytes.

Gluon's ``net.summary(x)`` already prints each layer's output shape and parameter count. What it
does not show, and what this module adds:

- multiply-adds (乘加运算) per layer and in total, the unit of the ResNet paper's "FLOPs" column;
- bytes of every layer's output, which is what training keeps in memory for the backward pass
  (``d2lutils.memory`` turns them into the memory of a training step);
- which parameters one backward pass leaves with exactly zero gradient (``zero_gradients``): on a
  small input, the deep layers' 3x3 convolutions see mostly padding.

How the trace works. Calling a HybridBlock on a *symbol* instead of an array builds its computation
graph without computing anything, and MXNet's shape inference then gives the shape of every
intermediate result. So ``trace`` needs no initialized weights and no forward pass: ResNet-152 at
224x224 is traced in a fraction of a second. (``net.summary`` runs a real forward pass instead, with
forward hooks, and needs an initialized, non-hybridized network.) Each row of the trace is one
operation of the graph: a layer (convolution, batch norm, ReLU, pooling, dense) or an addition of a
residual block, named by its place in the network, e.g. ``4.1.body.3`` is layer 3 of the ``body`` of block 1 of
``net[4]`` (the paths of ``walker.walk``). A block that runs twice (the ReLU of a residual block)
has a row per call. A network that is not a HybridBlock is traced by running it once with forward
hooks instead (``walker.recording``).

What counts as a multiply-add (``walker.layer_macs``, the one rule the trace, the hooks and the
exercise checks share): a convolution's output elements times ``in_channels / groups`` times the
kernel area; a dense layer's inputs times outputs. Batch norm, ReLU, pooling and additions count 0
(they are a few operations per element, well under 1% of a ResNet's total), and so do biases.
Counted this way, the five ResNets come within 2% of the paper's Table 1.
"""
import ast
import copy
import dataclasses
import json
import math
from typing import Annotated

import mxnet as mx
from mxnet import autograd, gluon, np
from mxnet.util import is_np_array

from d2lutils import arguments, walker
from d2lutils.arguments import Check, checked
from d2lutils.models import Net, named_parameters

# One sample's shape (C, H, W), or a batch's (N, C, H, W) with N ignored.
ImageShape = Annotated[tuple, Check(arguments.image_shape)]
Array = Annotated[object, Check(arguments.array)]

BYTES_PER_FLOAT32 = 4


@dataclasses.dataclass
class LayerInfo:
    """One row of a trace: one operation of the network's graph."""
    name: str            # place in the network, e.g. '4.1.body.3', or 'input'
    kind: str            # Convolution, BatchNorm, Activation, Pooling, FullyConnected, add, ...
    output_shape: tuple  # including the batch dimension of the traced input
    params: int          # trainable parameters this operation uses (grad_req != 'null')
    macs: int            # multiply-adds for the traced input
    output_bytes: int    # bytes of the output, float32

    def as_dict(self):
        return dataclasses.asdict(self)


def one_sample_shape(input_shape):
    """(C, H, W) or (N, C, H, W) -> (1, C, H, W)."""
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) == 3:
        return (1,) + input_shape
    if len(input_shape) == 4:
        return (1,) + input_shape[1:]
    raise ValueError(f'expected an image shape (C, H, W) or (N, C, H, W), got {input_shape}')


def _layer_paths(net):
    """Map each block's name prefix (what MXNet names its graph nodes after) to its path in net."""
    paths = {}
    for path, block in walker.walk(net):
        paths.setdefault(block.prefix, path)
    return paths


def _node_name(node_name, paths):
    """'conv57_fwd' -> '4.1.body.3'; 'residual3_add0' -> '4.1.add'."""
    best = ''
    for prefix in paths:
        if prefix and node_name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    if not best:
        return node_name
    rest = node_name[len(best):]
    path = paths[best]
    if rest.startswith('fwd'):
        return path or '(net)'
    rest = rest.rstrip('0123456789')
    return f'{path}.{rest}' if path else rest  # e.g. the '+' of a residual block: '.add'


def _graph(net, input_shape):
    """The symbol graph of ``net`` for ``input_shape``: (nodes, output shape per node)."""
    data = mx.sym.var('data')
    if is_np_array():
        data = data.as_np_ndarray()
    out = net(data)
    if isinstance(out, (list, tuple)):
        raise TypeError('trace handles networks with a single output')
    if is_np_array():
        out = out.as_nd_ndarray()
    nodes = json.loads(out.tojson())['nodes']
    internals = out.get_internals()
    try:
        _, shapes, _ = internals.infer_shape(data=tuple(input_shape))
    except mx.base.MXNetError as error:
        raise arguments.ArgumentError(
            f'input_shape {tuple(input_shape)} does not fit net: MXNet cannot infer the shapes of '
            f'its layers from it ({arguments.error_line(error)}). Give the shape of the images it '
            f'was built for, with the batch first, e.g. (1, 1, 28, 28).') from None
    _check_known_shapes(net, nodes, shapes, input_shape)
    if len(shapes) != len(nodes):  # every operator here has exactly one visible output
        raise NotImplementedError('an operation with several outputs; trace does not handle it')
    return nodes, shapes


def _check_known_shapes(net, nodes, shapes, input_shape):
    """Refuse an input shape that gives a parameter another shape than the one it already has.

    A network that has run (or was built with in_channels) has fixed shapes; shape inference from a
    symbol ignores them and would report parameters and multiply-adds for a network it is not.
    """
    params = {p.name: p for p in net.collect_params().values()}
    for i, node in enumerate(nodes):
        param = params.get(node['name'])
        if node['op'] != 'null' or param is None or param.shape is None:
            continue
        if all(d > 0 for d in param.shape) and tuple(param.shape) != tuple(shapes[i]):
            raise arguments.ArgumentError(
                f'input_shape {tuple(input_shape)} does not fit net: its parameter {param.name} has '
                f'shape {tuple(param.shape)}, fixed when it first ran, but this input would need '
                f'{tuple(shapes[i])}. Give the shape of the images it was built for (e.g. the '
                f'number of channels its first layer takes), or trace a fresh network.')


def _macs(node, shapes, output_shape):
    """A graph node's multiply-adds (``walker.layer_macs``, the rule the hooks use too)."""
    if node['op'] not in ('Convolution', 'FullyConnected'):
        return 0
    attrs = node['attrs']
    kernel = ast.literal_eval(attrs['kernel']) if 'kernel' in attrs else ()  # e.g. "(3, 3)"
    return walker.layer_macs(node['op'], shapes[node['inputs'][0][0]], output_shape, kernel,
                             int(attrs.get('num_group', '1')))


@checked
def trace(net: Net, input_shape: Annotated[tuple, Check(arguments.shape)]):
    """Trace ``net`` on one input, operation by operation. Used in chapter 4.

    Parameters
    ----------
    net : gluon.Block
        The network. It need not be initialized (shapes come from shape inference, see the module
        docstring), and it is not changed. A network that is not a HybridBlock is traced by running
        it instead (see ``_trace_by_forward``).
    input_shape : tuple of int
        The input's shape (N, C, H, W); the rows' shapes, multiply-adds and bytes are for this
        batch.

    Returns
    -------
    list of LayerInfo
        One row per operation, in the order they run; the first row is the input itself.
    """
    if not isinstance(net, gluon.HybridBlock):
        return _trace_by_forward(net, input_shape)
    nodes, shapes = _graph(net, input_shape)
    params = {p.name: p for p in net.collect_params().values()}
    paths = _layer_paths(net)
    rows = []
    for i, node in enumerate(nodes):
        shape = tuple(shapes[i])
        if node['op'] == 'null':
            if node['name'] == 'data':
                rows.append(LayerInfo('input', 'input', shape, 0, 0,
                                      math.prod(shape) * BYTES_PER_FLOAT32))
            continue
        trainable = 0
        for src, _, _ in node['inputs']:
            param = params.get(nodes[src]['name'])
            if nodes[src]['op'] == 'null' and param is not None and param.grad_req != 'null':
                trainable += math.prod(shapes[src])
        kind = 'add' if node['op'] in ('_npi_add', 'elemwise_add', '_plus', 'broadcast_add') \
            else node['op']
        rows.append(LayerInfo(_node_name(node['name'], paths), kind, shape, trainable,
                              _macs(node, shapes, shape), math.prod(shape) * BYTES_PER_FLOAT32))
    return rows


def _trace_by_forward(net, input_shape):
    """Trace a (non-hybrid) ``Block`` with one forward pass, recording its leaf blocks' calls
    (``walker.recording``).

    Runs on a copy when ``net`` has uninitialized parameters, so ``net`` itself stays as it was.
    What happens outside child blocks (a ``+`` or an ``npx.relu`` in ``forward``) is invisible to
    hooks, so, unlike the symbolic trace, this one has no rows for it: its activation bytes are an
    underestimate for such networks.
    """
    if any(p._data is None for p in net.collect_params().values()):
        net = copy.deepcopy(net)
        net.initialize()
    zeros = np.zeros if is_np_array() else mx.nd.zeros
    with walker.recording(net) as record:
        try:
            net(zeros(tuple(input_shape)))
        except mx.base.MXNetError as error:
            raise arguments.ArgumentError(
                f'input_shape {tuple(input_shape)} does not fit net: running it on zeros of that '
                f'shape failed ({arguments.error_line(error)}). Give the shape of the inputs it '
                f'was built for, with the batch first.') from None
    rows = [LayerInfo('input', 'input', tuple(input_shape), 0, 0,
                      math.prod(input_shape) * BYTES_PER_FLOAT32)]
    for call in record.calls:
        rows.append(LayerInfo(call.path, call.kind, call.output_shape, call.params, call.macs,
                              math.prod(call.output_shape) * BYTES_PER_FLOAT32))
    return rows


@checked
def trace_table(net: Net, input_shape: Annotated[tuple, Check(arguments.shape)]):
    """``trace`` as a pandas DataFrame, one row per operation. Used in chapter 4.

    Parameters
    ----------
    net : gluon.Block
        The network, as for ``trace``.
    input_shape : tuple of int
        The input's shape (N, C, H, W).

    Returns
    -------
    pandas.DataFrame
        The columns of ``LayerInfo``: name, kind, output_shape, params, macs, output_bytes.
    """
    import pandas as pd  # only this function needs pandas (half a second to import here)
    return pd.DataFrame([row.as_dict() for row in trace(net, input_shape)])


@checked
def count_macs(net: Net, input_shape: ImageShape):
    """Multiply-adds of ``net``'s convolutions and dense layers for ONE sample. Used in chapters
    1, 4 and 5.

    The package's one multiply-add count: the rule is ``walker.layer_macs``; a HybridBlock is
    counted from its graph (no forward pass, no initialized weights), any other block by running
    it once with forward hooks (``walker.recording``).

    Parameters
    ----------
    net : gluon.Block
        The network; it may be uninitialized and is not changed.
    input_shape : tuple of int
        One sample's shape (C, H, W), or (N, C, H, W) with N ignored.

    Returns
    -------
    int
        Multiply-adds per sample, the unit of the ResNet paper's "FLOPs" (Table 1).
    """
    return sum(row.macs for row in trace(net, one_sample_shape(input_shape)))


@checked
def activation_bytes(net: Net, input_shape: ImageShape):
    """Bytes of every operation's output (and of the input) for ONE sample, float32.

    This is what a training step keeps for the backward pass, to a first approximation: each layer's
    gradient needs its input or its output. It over-counts where MXNet computes in place or frees
    early and under-counts what operators save besides their output (batch norm's batch mean and
    variance, pooling's indices) and their scratch space.
    """
    return sum(row.output_bytes for row in trace(net, one_sample_shape(input_shape)))


@checked
def parameter_counts(net: Net, input_shape: ImageShape):
    """Scalars in ``net``'s parameters, trainable and not. Used in chapter 4.

    Parameters
    ----------
    net : gluon.Block
        The network; it may be uninitialized (shapes come from shape inference) and is not changed.
    input_shape : tuple of int
        One sample's shape (C, H, W), or (N, C, H, W) with N ignored; it fixes the deferred shapes.

    Returns
    -------
    (int, int)
        ``(trainable, other)``: other is batch norm's running mean and variance, which no gradient
        updates.
    """
    if not isinstance(net, gluon.HybridBlock):
        rows = trace(net, one_sample_shape(input_shape))
        trainable = sum(row.params for row in rows)
        return trainable, _untrained_after_trace(net, rows)
    nodes, shapes = _graph(net, one_sample_shape(input_shape))
    params = {p.name: p for p in net.collect_params().values()}
    trainable = other = 0
    seen = set()
    for i, node in enumerate(nodes):
        param = params.get(node['name'])
        if node['op'] != 'null' or param is None or node['name'] in seen:
            continue
        seen.add(node['name'])
        if param.grad_req == 'null':
            other += math.prod(shapes[i])
        else:
            trainable += math.prod(shapes[i])
    return trainable, other


def _untrained_after_trace(net, rows):
    """Running statistics of a non-hybrid net: batch norm keeps two per channel of its output."""
    return sum(2 * row.output_shape[1] for row in rows if row.kind == 'BatchNorm')


@checked
def zero_gradients(net: Annotated[object, Check(arguments.initialized_net)], X: Array, y: Array):
    """How many scalars of each parameter get a gradient of exactly 0 from one backward pass.
    Used in chapters 4 and 5.

    Parameters
    ----------
    net : gluon.Block
        An initialized network.
    X : mxnet.np.ndarray
        A batch of at least two images: a batch norm over a 1x1 map of one image normalizes a single
        value to 0, so its scale would get no gradient for a reason that has nothing to do with the
        network.
    y : mxnet.np.ndarray
        Their labels.

    Returns
    -------
    dict
        ``{parameter path: (scalars whose gradient is exactly 0, scalars)}``, with the paths of
        ``models.named_parameters`` (e.g. ``'7.1.body.3.weight'``).

    Runs what one training step computes before the update: ``net(X)`` in training mode, the softmax
    cross-entropy against the labels ``y``, and its gradient with respect to every trainable
    parameter. A scalar whose gradient is exactly 0 would not move at that step. Some zeros are
    structural: a 3x3 convolution whose input is 1x1 multiplies eight of its nine taps by the zero
    padding only, whatever the data, so those eight never receive a gradient. Others are incidental
    (a ReLU that happens to be inactive everywhere in this batch); a second input size or batch
    shows which are which.

    Side effects: the parameters' gradient buffers are overwritten, and batch norm's running
    statistics take one step, as in any training-mode forward pass; the weights are not changed.
    """
    if X.shape[0] < 2:
        raise arguments.ArgumentError(
            f'X holds {X.shape[0]} image(s); batch norm needs at least 2 per batch for every '
            f'parameter to get a gradient: pass a larger batch')
    if y.shape[:1] != X.shape[:1]:
        raise arguments.ArgumentError(f'y must hold one label per image of X ({X.shape[0]}); got '
                                      f'{y.shape[0] if y.ndim else 0} (shape {tuple(y.shape)}).')
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    with autograd.record():
        loss = loss_fn(net(X), y).mean()  # the first pass also ends deferred initialization
    params = named_parameters(net)
    for _, param in params:
        if param.grad_req == 'add':  # would add this pass's gradient to older ones
            for grad in param.list_grad():
                grad[:] = 0
    loss.backward()
    counts = {}
    for name, param in params:
        grad = param.grad()
        counts[name] = (int((grad == 0).sum()), int(grad.size))
    return counts


__all__ = ['LayerInfo', 'trace', 'trace_table', 'count_macs', 'activation_bytes',
           'parameter_counts', 'zero_gradients']
