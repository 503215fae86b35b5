"""One walk over a network's layers: their paths, their parameters, and what each call computed.

Everything in the package that looks at a network layer by layer goes through here: the trace of
``d2lutils.inspection`` (chapter 4), the exercise checks (``d2lutils.exercises.checks``) and their
diagnosis (``d2lutils.exercises.behaviour``), and the tests.

- ``walk(net)``: every block under ``net`` with its path (``'4.1.body.3'`` is layer 3 of the ``body`` of block 1 of
  ``net[4]``), each once.
- ``recording(net)``: a context manager that puts one forward hook on every leaf block (a block with
  no child blocks) and, while it is open, appends a ``LayerCall`` per call: path, layer, input,
  output, trainable parameters and multiply-adds. Leaving it removes the hooks.
- ``layer_macs``: the one formula for multiply-adds, used by these rows and by the symbolic trace.

This follows Gluon's ``Block.summary`` (one hook per layer, a ``seen`` set so that a parameter
shared by two layers counts once, a row per call) and fastai's ``Hooks`` (hooks held by a context
manager, so they never outlive the measurement). We wrote it ourselves because ``summary`` prints
its table instead of returning it and has no multiply-adds. Hooks see only blocks that run in
Python: a hybridized network runs as one graph, so ``recording`` needs it un-hybridized (the trace
uses shape inference for HybridBlocks instead).
"""
import contextlib
import dataclasses
import math


# Gluon layer -> the name of the graph operator it runs (what the symbolic trace calls it).
OPERATOR = {'Conv2D': 'Convolution', 'Dense': 'FullyConnected', 'MaxPool2D': 'Pooling',
            'AvgPool2D': 'Pooling', 'GlobalAvgPool2D': 'Pooling', 'GlobalMaxPool2D': 'Pooling'}


def walk(net):
    """``(path, block)`` for ``net`` (path ``''``) and every block under it, depth first, in the
    order the blocks were registered; a block registered in two places is given once, at its first
    path."""
    seen = set()

    def visit(block, path):
        if id(block) in seen:
            return
        seen.add(id(block))
        yield path, block
        for name, child in block._children.items():
            yield from visit(child, f'{path}.{name}' if path else name)

    yield from visit(net, '')


def layer_macs(kind, input_shape, output_shape, kernel=(), groups=1):
    """Multiply-adds of one call of a layer, for the batch its shapes include.

    Parameters
    ----------
    kind : str
        The operator: ``'Convolution'`` or ``'FullyConnected'``; any other kind counts 0 (batch
        norm, ReLU, pooling and additions are a few operations per element, well under 1% of a
        ResNet's total, and the ResNet paper's Table 1 leaves them out too).
    input_shape, output_shape : tuple of int
        Shapes of the call's input and output, batch dimension first.
    kernel : tuple of int
        A convolution's kernel size, e.g. ``(3, 3)``.
    groups : int
        A convolution's number of groups.

    A convolution costs ``in_channels / groups`` times the kernel area per output element; a dense
    layer its inputs per output element. Biases are not counted.
    """
    if kind == 'Convolution':
        return math.prod(output_shape) * (input_shape[1] // groups) * math.prod(kernel)
    if kind == 'FullyConnected':
        return math.prod(output_shape) * math.prod(input_shape[1:])
    return 0


@dataclasses.dataclass
class LayerCall:
    """One call of a leaf block, as a forward hook saw it."""
    path: str        # place in the network, e.g. '4.1.body.3'
    layer: object    # the block itself
    input: object    # its first input (an array)
    output: object   # its output (an array)
    params: int      # trainable parameters this call used that no earlier call had used

    @property
    def kind(self):
        """The graph operator's name (``'Convolution'``, ...), else the block's class name."""
        return OPERATOR.get(type(self.layer).__name__, type(self.layer).__name__)

    @property
    def input_shape(self):
        return tuple(self.input.shape)

    @property
    def output_shape(self):
        return tuple(self.output.shape)

    @property
    def macs(self):
        """Multiply-adds of this call, for its whole batch (``layer_macs``)."""
        kwargs = getattr(self.layer, '_kwargs', {})
        return layer_macs(self.kind, self.input_shape, self.output_shape,
                          kwargs.get('kernel', ()), kwargs.get('num_group', 1))


class Recording:
    """The calls ``recording`` saw, in the order they ran."""

    def __init__(self):
        self.calls = []

    def of(self, *layer_types):
        """The calls of layers of these types, e.g. ``of(nn.Conv2D, nn.Dense)``."""
        return [call for call in self.calls if isinstance(call.layer, layer_types)]


def macs_per_example(calls):
    """Multiply-adds of these ``LayerCall`` rows, per example of the batch they ran on."""
    return sum(call.macs // call.output_shape[0] for call in calls)


@contextlib.contextmanager
def recording(net):
    """Record every call of every leaf block under ``net`` while the ``with`` block runs.

    Yields a ``Recording``; its ``calls`` fill as ``net`` runs. ``net`` must not be hybridized
    (hooks see only blocks that run in Python).
    """
    record, seen, handles = Recording(), set(), []
    paths = {id(block): path for path, block in walk(net)}

    def hook(layer, inputs, output):
        new = [p for p in layer.params.values() if p.grad_req != 'null' and p.name not in seen]
        seen.update(p.name for p in new)
        record.calls.append(LayerCall(paths[id(layer)], layer, inputs[0], output,
                                      sum(math.prod(p.shape) for p in new)))

    try:
        for _, block in walk(net):
            if not block._children:
                handles.append(block.register_forward_hook(hook))
        yield record
    finally:
        for handle in handles:
            handle.detach()


def layers(net, *layer_types):
    """Every block under ``net`` (``net`` included) of these types, e.g.
    ``layers(net, nn.Conv2D)``."""
    return [block for _, block in walk(net) if isinstance(block, layer_types)]
