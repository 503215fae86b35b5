"""Does a block compute what a reference block computes, and if not, which edit explains it?

The exercise checks (``d2lutils.exercises.checks``) use this module to judge a student's block by
what it computes, not only by its shapes and parameter counts:

1. ``set_controlled_weights`` gives every convolution and batch norm values that depend only on the
   parameter's shape and kind. A student's layer and the reference's layer of the same shape then
   hold the same values, whatever the student named them or in which order they were created, so the
   two blocks must return the same output, in training mode and in inference mode. The values make
   every non-linearity matter: batch norm's shift and running mean leave negative pre-activations on
   every path, so a missing, extra, replaced or moved ReLU changes the output; a missing or extra
   batch norm changes it too (in inference mode at the latest, where a batch norm is a fixed affine
   map rather than a renormalization).
2. When the outputs differ, ``diagnose`` names the edit. The reference is described as data (a
   ``Design``): the convolutions in data-flow order, the operations on each segment between them
   (e.g. ``('bn', 'relu')``), and what happens around the addition. The student's convolutions are
   observed with forward hooks (``d2lutils.walker.recording``); the first one whose input differs from the reference's localizes the
   mistake, and every single edit of that segment (``single_edits``: remove, duplicate, swap, move,
   replace an activation, insert a ReLU or BN) is evaluated in NumPy until one reproduces what the
   student's block computed.

We wrote this ourselves: neither MXNet nor d2l compares two blocks up to a renaming of their
parameters.
"""
import dataclasses
import itertools
import math
import zlib

import numpy as onp
from mxnet import np
from mxnet.gluon import nn

from d2lutils import walker

BN_EPSILON = 1e-5  # Gluon's nn.BatchNorm default
TOLERANCE = 1e-3   # outputs are of order 1; float32 convolutions agree to about 1e-6

# Activations a student might write instead of ReLU, as NumPy functions of the pre-activation.
ACTIVATIONS = {
    'relu': lambda p: onp.maximum(p, 0),
    'sigmoid': lambda p: 1 / (1 + onp.exp(-p)),
    'tanh': onp.tanh,
    'softrelu': lambda p: onp.logaddexp(0, p),
    'softsign': lambda p: p / (1 + onp.abs(p)),
    'elu': lambda p: onp.where(p > 0, p, onp.expm1(onp.minimum(p, 0))),
    'swish': lambda p: p / (1 + onp.exp(-p)),
    'gelu': lambda p: 0.5 * p * (1 + onp.vectorize(math.erf)(p / math.sqrt(2))),
}
for _slope in (0.01, 0.1, 0.2, 0.25, 0.3):
    ACTIVATIONS[f'leaky:{_slope}'] = lambda p, a=_slope: onp.where(p > 0, p, a * p)

OP_NAMES = {'bn': 'BN', 'relu': 'ReLU', 'sigmoid': 'sigmoid', 'tanh': 'tanh',
            'softrelu': 'softrelu (softplus)', 'softsign': 'softsign', 'elu': 'ELU',
            'swish': 'swish', 'gelu': 'GELU'}


def op_name(op):
    """How an operation is called in messages: 'BN', 'ReLU', 'LeakyReLU (slope 0.1)', ..."""
    if op.startswith('leaky:'):
        return f'LeakyReLU (slope {op.split(":")[1]})'
    return OP_NAMES.get(op, op)


def render(ops):
    """('bn', 'relu') -> 'BN -> ReLU'; () -> 'nothing'."""
    return ' -> '.join(op_name(op) for op in ops) or 'nothing'


# --------------------------------------------------------------------------- controlled weights
def controlled_values(shape, kind):
    """Values for a parameter of ``shape`` and ``kind``, fixed by the two alone.

    kinds: 'weight' (He-scaled normal, so activations stay of order 1), 'gamma' in [0.5, 1.5],
    'beta' and 'running_mean' in [-0.5, 0.5] (negative pre-activations in both modes), 'running_var'
    in [0.5, 2].
    """
    rng = onp.random.RandomState(zlib.crc32(f'{kind}{tuple(shape)}'.encode()))
    if kind == 'weight':
        fan_in = math.prod(shape[1:])
        return rng.normal(0, math.sqrt(2 / fan_in), size=shape)
    low, high = {'gamma': (0.5, 1.5), 'beta': (-0.5, 0.5), 'running_mean': (-0.5, 0.5),
                 'running_var': (0.5, 2.0)}[kind]
    return rng.uniform(low, high, size=shape)


def set_controlled_weights(block):
    """Give every Conv2D and BatchNorm under ``block`` its controlled values; convolution biases
    become zero (a bias is an accepted style, and zero makes it match the bias-free reference).
    Returns the parameters of other layers, which this leaves as they are."""
    covered = set()
    for _, layer in walker.walk(block):
        if isinstance(layer, nn.Conv2D):
            layer.weight.set_data(np.array(controlled_values(layer.weight.shape, 'weight')))
            covered.add(layer.weight.name)
            if layer.bias is not None:
                layer.bias.set_data(np.zeros(layer.bias.shape))
                covered.add(layer.bias.name)
        elif isinstance(layer, nn.BatchNorm):
            for kind in ('gamma', 'beta', 'running_mean', 'running_var'):
                param = getattr(layer, kind)
                param.set_data(np.array(controlled_values(param.shape, kind)))
                covered.add(param.name)
    return [p for p in block.collect_params().values() if p.name not in covered]


# --------------------------------------------------------------------------- the NumPy interpreter
def apply_ops(ops, u, training):
    """Apply operations to a NumPy array of shape (N, C, H, W); BN uses the controlled values of a
    batch norm over C channels, with the batch's statistics in training mode."""
    for op in ops:
        if op == 'bn':
            channels = (u.shape[1],)
            gamma, beta = (controlled_values(channels, k).reshape(1, -1, 1, 1)
                           for k in ('gamma', 'beta'))
            if training:
                mean = u.mean(axis=(0, 2, 3), keepdims=True)
                var = u.var(axis=(0, 2, 3), keepdims=True)
            else:
                mean, var = (controlled_values(channels, k).reshape(1, -1, 1, 1)
                             for k in ('running_mean', 'running_var'))
            u = (u - mean) / onp.sqrt(var + BN_EPSILON) * gamma + beta
        else:
            u = ACTIVATIONS[op](u)
    return u


def close(a, b):
    return a.shape == b.shape and bool(onp.allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE))


# --------------------------------------------------------------------------- single edits
@dataclasses.dataclass(frozen=True)
class Edit:
    """One edit of a program (a dict: path name -> tuple of operations)."""
    kind: str          # 'remove', 'duplicate', 'swap', 'move', 'replace', 'insert'
    op: str
    path: str
    index: int
    other: object = None   # swap: the other op; replace: the new op; move/insert: (path, index)

    def describe(self, places):
        """A phrase naming the edit; ``places`` maps a path name to where it is, in words."""
        op, where = op_name(self.op), places[self.path]
        if self.kind == 'remove':
            return f'no {op} {where}'
        if self.kind == 'duplicate':
            return f'{op} applied twice {where}'
        if self.kind == 'swap':
            return f'{op} and {op_name(self.other)} in the wrong order {where}'
        if self.kind == 'replace':
            return f'{op_name(self.other)} instead of {op} {where}'
        if self.kind == 'insert':
            return f'an extra {op} {places[self.other[0]]}'
        target = places[self.other[0]]
        if target == where:
            return f'{op} in the wrong place {where}'
        return f'{op} {target} instead of {where}'


def single_edits(program, activations=('relu',), replacements=tuple(ACTIVATIONS),
                 insertable=('relu', 'bn')):
    """Every program one edit away from ``program``, as ``[(Edit, new program)]``, without
    duplicates and without ``program`` itself.

    The edits: remove, duplicate or move any operation (to any position of any path), swap two
    neighbours, replace an activation by another (``replacements``), insert an ``insertable``
    operation anywhere.
    """
    seen, edits = {_key(program)}, []

    def add(edit, paths):
        new = {**program, **paths}
        if _key(new) not in seen:
            seen.add(_key(new))
            edits.append((edit, new))

    for path, ops in program.items():
        for i, op in enumerate(ops):
            rest = ops[:i] + ops[i + 1:]
            add(Edit('remove', op, path, i), {path: rest})
            add(Edit('duplicate', op, path, i), {path: ops[:i + 1] + ops[i:]})
            if i + 1 < len(ops):
                add(Edit('swap', op, path, i, ops[i + 1]),
                    {path: ops[:i] + (ops[i + 1], op) + ops[i + 2:]})
            if op in activations:
                for new_op in replacements:
                    if new_op != op:
                        add(Edit('replace', op, path, i, new_op),
                            {path: ops[:i] + (new_op,) + ops[i + 1:]})
            for target, target_ops in program.items():
                base = rest if target == path else target_ops
                for j in range(len(base) + 1):
                    moved = base[:j] + (op,) + base[j:]
                    paths = {path: rest, target: moved} if target != path else {path: moved}
                    add(Edit('move', op, path, i, (target, j)), paths)
    for target, ops in program.items():
        for j, op in itertools.product(range(len(ops) + 1), insertable):
            add(Edit('insert', op, target, j, (target, j)), {target: ops[:j] + (op,) + ops[j:]})
    return edits


def _key(program):
    return tuple(sorted(program.items()))


# --------------------------------------------------------------------------- designs
@dataclasses.dataclass(frozen=True)
class Design:
    """A reference block as data, for one setting (identity or projection shortcut).

    ``convs``: the reference's convolutions in data-flow order, as (path in the block, as
    ``walker.walk`` gives it, e.g. 'body.0' or 'downsample.0'; description);
    ``labels``: short names of the branch's and the shortcut's starting values in formulas.
    ``segments``: for each convolution, (where its input comes from: 'x' or another convolution,
    the operations in between). ``tail``: the operations after the last convolution of the branch
    ('branch'), on the shortcut after its convolution or on x ('shortcut'), and after the addition
    ('after'); ``tail_sources`` says what the branch and the shortcut start from.
    """
    convs: tuple
    segments: dict
    tail: dict
    tail_sources: dict
    labels: dict

    def description(self, conv):
        return dict(self.convs)[conv]

    def segment_place(self, conv):
        source = self.segments[conv][0]
        if source == 'x':
            return f'between the input x and {self.description(conv)}'
        return f'between {self.description(source)} and {self.description(conv)}'

    def tail_places(self):
        branch_end = self.description(self.tail_sources['branch'])
        return {'branch': f'after {branch_end}, before the addition',
                'shortcut': 'on the shortcut',
                'after': 'after the addition'}


def bottleneck_design(projection):
    convs = (('body.0', 'the first 1x1 convolution'), ('body.3', 'the 3x3 convolution'),
             ('body.6', 'the last 1x1 convolution'))
    segments = {'body.0': ('x', ()), 'body.3': ('body.0', ('bn', 'relu')),
                'body.6': ('body.3', ('bn', 'relu'))}
    if projection:
        convs += (('downsample.0', "the shortcut's 1x1 convolution (the projection)"),)
        segments['downsample.0'] = ('x', ())
    return Design(convs, segments, {'branch': ('bn',), 'shortcut': ('bn',) if projection else (),
                                    'after': ('relu',)},
                  {'branch': 'body.6', 'shortcut': 'downsample.0' if projection else 'x'},
                  {'branch': 'conv1x1(...)', 'shortcut': 'conv1x1(x)' if projection else 'x'})


def preact_design(projection):
    convs = (('body.0', 'the first 3x3 convolution'), ('body.3', 'the second 3x3 convolution'))
    segments = {'body.0': ('x', ('bn', 'relu')), 'body.3': ('body.0', ('bn', 'relu'))}
    if projection:
        convs += (('downsample', "the shortcut's 1x1 convolution (the projection)"),)
        segments['downsample'] = ('x', ('bn', 'relu'))
    return Design(convs, segments, {'branch': (), 'shortcut': (), 'after': ()},
                  {'branch': 'body.3', 'shortcut': 'downsample' if projection else 'x'},
                  {'branch': 'conv3x3(...)', 'shortcut': 'conv1x1(...)' if projection else 'x'})


# --------------------------------------------------------------------------- diagnosis
@dataclasses.dataclass
class Diagnosis:
    """What differs: a headline (the edit, when found), what the reference computes there, what the
    student's block computes, and a hint."""
    headline: str
    expected: str
    got: str
    hint: str


def match_convs(student_calls, reference_block, design):
    """Map each of the design's convolutions to the student's call of the convolution with the same
    weight shape (same-shaped convolutions, which hold the same controlled values, in call order).
    ``student_calls``: the convolutions' calls in the order they ran, as data (``weight_shape``,
    ``input`` and ``output`` as NumPy arrays: ``checks.Call``). Returns {conv name: (input,
    output)}; a convolution with no match is left out."""
    unused = list(student_calls)
    matched = {}
    layers = dict(walker.walk(reference_block))
    for name, _ in design.convs:
        shape = layers[name].weight.shape
        for call in unused:
            if tuple(call.weight_shape) == tuple(shape):
                matched[name] = (call.input, call.output)
                unused.remove(call)
                break
    return matched


def diagnose(design, x, reference_io, student_io, student_y, training):
    """Name what the student's block does differently, from the recorded convolution inputs and
    outputs (``{name: (input, output)}``, NumPy) of both blocks, the input ``x`` and the student's
    output ``student_y`` (NumPy). Returns a Diagnosis."""
    mode = '' if training else (' (it shows in inference mode, where batch norm uses its running '
                                'statistics)')
    values = {'x': x, **{name: out for name, (_, out) in reference_io.items()}}
    for name, description in design.convs:
        if name not in student_io:
            return Diagnosis(f'{description} of the reference has no counterpart in your block',
                             f'a convolution with the weight shape of {description}',
                             'no convolution of that weight shape ran',
                             'compare the widths and kernel sizes of your convolutions with the '
                             "reference's.")
        got_in, got_out = student_io[name]
        ref_in, ref_out = reference_io[name]
        if not close(got_in, ref_in):
            source, ops = design.segments[name]
            return _diagnose_segment(design.segment_place(name), ops, values[source], got_in,
                                     training, mode)
        if not close(got_out, ref_out):
            return Diagnosis(f'{description} computes something else from the right input',
                             f'an output of shape {ref_out.shape}',
                             f'an output of shape {got_out.shape}' if got_out.shape != ref_out.shape
                             else _difference(got_out, ref_out),
                             f'check its kernel_size, strides and padding{mode}.')
    branch = values[design.tail_sources['branch']]
    shortcut = values[design.tail_sources['shortcut']]
    tail, labels = design.tail, design.labels
    for edit, program in single_edits(tail) + [(None, tail)]:
        if edit is None:  # no shortcut at all
            value = apply_ops(tail['after'], apply_ops(tail['branch'], branch, training), training)
            headline, formula = 'no shortcut: the input is not added back', \
                _formula({**tail, 'shortcut': None}, labels)
        else:
            value = _tail_value(program, branch, shortcut, training)
            headline, formula = edit.describe(design.tail_places()), _formula(program, labels)
        if close(student_y, value):
            return Diagnosis(headline, _formula(tail, labels), formula,
                             'every convolution of your block already gets the input it gets in '
                             f'the reference: change only this place{mode}.')
    return Diagnosis('the output differs around the addition', _formula(tail, labels),
                     _difference(student_y, _tail_value(tail, branch, shortcut, training)),
                     'every convolution gets the right input, so the difference is around the '
                     'addition: check what you apply to the branch, to the shortcut and after '
                     f'adding them{mode}.')


def _diagnose_segment(place, ops, start, got, training, mode):
    expected = render(ops)
    candidates = single_edits({'segment': ops}) + [(None, {'segment': ()})]
    for edit, program in candidates:
        if close(got, apply_ops(program['segment'], start, training)):
            headline = (f'no {expected} {place}' if edit is None
                        else edit.describe({'segment': place}))
            return Diagnosis(headline, expected, render(program['segment']),
                             'everything before this place already computes what the reference '
                             f'computes: change only this place{mode}.')
    return Diagnosis(f'something else {place}', expected,
                     'something no single edit explains: ' +
                     _difference(got, apply_ops(ops, start, training)),
                     f'everything before this place is right; write exactly {expected} here{mode}.')


def _tail_value(program, branch, shortcut, training):
    total = apply_ops(program['branch'], branch, training) + \
        apply_ops(program['shortcut'], shortcut, training)
    return apply_ops(program['after'], total, training)


def _formula(program, labels):
    """E.g. 'ReLU(BN(conv1x1(...)) + x)'; a shortcut of None means no shortcut."""
    total = _nest(program['branch'], labels['branch'])
    if program['shortcut'] is not None:
        total += ' + ' + _nest(program['shortcut'], labels['shortcut'])
    return _nest(program['after'], total)


def _nest(ops, inner):
    for op in ops:
        inner = f'{op_name(op)}({inner})'
    return inner


def _difference(got, expected):
    """Where two arrays differ first, e.g. 'at [0, 3, 1, 2]: 0.000 instead of 0.412'."""
    if got.shape != expected.shape:
        return f'shape {got.shape} instead of {expected.shape}'
    far = ~onp.isclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)
    index = onp.unravel_index(int(onp.argmax(far)), got.shape)
    return (f'at [{", ".join(map(str, index))}]: {got[index]:.3f} instead of '
            f'{expected[index]:.3f}')
