"""Mutation testing of the exercise checks: every single-edit mutant of a reference block is refused.

Each reference block is written down as data: the operations on each path (``PROGRAMS``) and the
attributes of its convolutions (``CONVS``). ``mutants`` derives every block one edit away, by
machine: ``behaviour.single_edits`` removes, duplicates, swaps and moves each operation (to any
position of any path, the shortcut included), replaces each ReLU by another activation and inserts a
ReLU or a batch norm anywhere; ``conv_edits`` moves, adds or removes a stride, changes a padding, a
kernel size or a width, and gives a convolution a bias. ``build_block`` turns each program into a
real Gluon block, which the check gets like a student's class.

A mutant that computes the same function as the reference (or one the exercise accepts) is not a
wrong block; ``equivalence`` identifies it by rule and states why, and the test asserts that the check
ACCEPTS it. Every other mutant must be refused, and the refusal must name the operation that was
edited. The counts are in the test ids and printed (run with ``-s``).
"""
import collections
import dataclasses

import pytest

import d2lutils  # noqa: F401  (sets MXNet's thread count first)
from mxnet import npx
from mxnet.gluon import nn

from d2lutils.exercises import behaviour, checks

npx.set_np()


@dataclasses.dataclass(frozen=True)
class Conv:
    width: str          # 'inner' (num_channels // 4), 'out' (num_channels) or 'half'
    kernel: int
    strided: bool
    padding: int
    bias: bool = False


PROGRAMS = {
    # relu(bn(conv1x1(relu(bn(conv3x3(relu(bn(conv1x1(x))))))) + shortcut), shortcut = bn(proj(x)) or x
    'bottleneck': {'branch': ('reduce', 'bn', 'relu', 'conv3x3', 'bn', 'relu', 'expand', 'bn'),
                   'projection': ('project', 'bn'), 'identity': (), 'after': ('relu',)},
    # pre = relu(bn(x)); conv3x3(relu(bn(conv3x3(pre)))) + shortcut, shortcut = proj(pre) or x
    'preact': {'pre': ('bn', 'relu'), 'branch': ('conv3x3a', 'bn', 'relu', 'conv3x3b'),
               'projection': ('project',), 'identity': (), 'after': ()},
}
CONVS = {
    'bottleneck': {'reduce': Conv('inner', 1, True, 0), 'conv3x3': Conv('inner', 3, False, 1),
                   'expand': Conv('out', 1, False, 0), 'project': Conv('out', 1, True, 0)},
    'preact': {'conv3x3a': Conv('out', 3, True, 1), 'conv3x3b': Conv('out', 3, False, 1),
               'project': Conv('out', 1, True, 0)},
}
CHECKS = {'bottleneck': checks.check_bottleneck, 'preact': checks.check_preact}
REPLACEMENTS = ('sigmoid', 'tanh', 'softrelu', 'leaky:0.1', 'elu', 'gelu', 'swish')
ACTIVATION_LAYERS = {**{name: (lambda name=name: nn.Activation(name))
                        for name in ('relu', 'sigmoid', 'tanh', 'softrelu')},
                     'leaky:0.1': lambda: nn.LeakyReLU(0.1), 'elu': nn.ELU, 'gelu': nn.GELU,
                     'swish': nn.Swish}


# --------------------------------------------------------------------------- building blocks from data
def build_block(kind, program, convs):
    """A Gluon block class computing ``program`` with ``convs``, built like a student's block."""
    def layer(op, num_channels, strides):
        if op == 'bn':
            return nn.BatchNorm()
        if op in ACTIVATION_LAYERS:
            return ACTIVATION_LAYERS[op]()
        c = convs[op]
        width = {'inner': num_channels // 4, 'out': num_channels, 'half': num_channels // 2}[c.width]
        return nn.Conv2D(width, c.kernel, strides=strides if c.strided else 1, padding=c.padding,
                         use_bias=c.bias)

    class Mutant(nn.HybridBlock):
        def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
            super().__init__(**kwargs)
            self.project = use_1x1conv
            for path, ops in program.items():
                if path == ('identity' if use_1x1conv else 'projection'):
                    continue  # only one of the two shortcuts exists
                sequence = nn.HybridSequential()
                for op in ops:
                    sequence.add(layer(op, num_channels, strides))
                setattr(self, path, sequence)

        def hybrid_forward(self, F, x):
            source = self.pre(x) if kind == 'preact' else x
            shortcut = self.projection(source) if self.project else self.identity(x)
            return self.after(self.branch(source) + shortcut)

    return Mutant


# --------------------------------------------------------------------------- generating the mutants
@dataclasses.dataclass
class Mutant:
    name: str
    program: dict
    convs: dict
    edit: object = None  # the behaviour.Edit, for edits of operations


def conv_edits(convs):
    """Edits of the convolutions' attributes: (name, new convs)."""
    edits = []

    def change(name, conv, **attrs):
        edits.append((name, {**convs, conv: dataclasses.replace(convs[conv], **attrs)}))

    strided = [c for c in convs if convs[c].strided]
    for conv, c in convs.items():
        if c.strided:
            change(f'no stride on {conv}', conv, strided=False)
            for other in convs:
                if not convs[other].strided:
                    edits.append((f'stride moved from {conv} to {other}', {
                        **convs, conv: dataclasses.replace(c, strided=False),
                        other: dataclasses.replace(convs[other], strided=True)}))
        elif strided:
            change(f'an extra stride on {conv}', conv, strided=True)
        for padding in {0, 1, 2} - {c.padding}:
            change(f'padding {padding} on {conv}', conv, padding=padding)
        other_kernel = 1 if c.kernel == 3 else 3
        change(f'{other_kernel}x{other_kernel} kernel on {conv}', conv, kernel=other_kernel,
               padding=other_kernel // 2)
        for width in sorted({'inner', 'out', 'half'} - {c.width}):  # sorted: the guide's order
            change(f'width {width} on {conv}', conv, width=width)
        change(f'bias on {conv}', conv, bias=True)
    return edits


def mutants(kind):
    program, convs = PROGRAMS[kind], CONVS[kind]
    found = [Mutant(f'{edit.kind} {edit.op} ({edit.path}[{edit.index}]'
                    f'{"" if edit.other is None else f" -> {edit.other}"})', new, convs, edit)
             for edit, new in behaviour.single_edits(program, replacements=REPLACEMENTS)]
    found += [Mutant(name, program, new) for name, new in conv_edits(convs)]
    return found


# --------------------------------------------------------------------------- equivalent mutants
def equivalence(kind, mutant):
    """Why ``mutant`` is not a wrong block (it computes the reference's function, or the exercise
    accepts it), or None. Rules, not a run of the check: each states its reason."""
    reference_convs = CONVS[kind]
    changed = {c for c in reference_convs if mutant.convs[c] != reference_convs[c]}
    if kind == 'bottleneck' and mutant.name == 'stride moved from reduce to conv3x3':
        return 'accepted style: the stride on the 3x3 convolution is "ResNet v1.5"'
    if len(changed) == 1:
        (conv,) = changed
        if mutant.convs[conv] == dataclasses.replace(reference_convs[conv], bias=True):
            if kind == 'bottleneck' or conv == 'conv3x3a':
                return 'a bias before batch norm: BN subtracts the mean, which removes it'
            return ('accepted style: the checks allow convolution biases (issue 11); a ResNet v2 '
                    "block's output goes into the next unit's BN")
    if changed:
        return None
    return _same_program(kind, mutant.program)


def _same_program(kind, program):
    """Equivalent when it reduces to the reference by the rules relu(relu(v)) = relu(v) and
    relu(v) = v for v that is already a ReLU's output (e.g. the pre-activated input)."""
    def reduce(ops, input_is_relu_output=False):
        out = []
        for op in ops:
            already = out[-1] == 'relu' if out else input_is_relu_output
            if not (op == 'relu' and already):
                out.append(op)
        return tuple(out)

    pre_ends_in_relu = kind == 'preact' and reduce(program['pre'])[-1:] == ('relu',)
    reduced = {path: reduce(ops, path in ('branch', 'projection') and pre_ends_in_relu)
               for path, ops in program.items()}
    if reduced == {path: reduce(ops, path in ('branch', 'projection') and kind == 'preact')
                   for path, ops in PROGRAMS[kind].items()}:
        return ('a ReLU of a ReLU\'s output changes nothing (relu(relu(v)) = relu(v)); the '
                'pre-activated input is a ReLU output')
    return None


# --------------------------------------------------------------------------- the tests
OP_WORDS = {'bn': ('BN', 'BatchNorm', 'batch norm'), 'relu': ('ReLU',)}


CONV_WORDS = ('Conv2D', 'convolution', 'shape', 'multiply-adds', 'parameters')


def names_the_edit(message, mutant):
    """The headline names the edited operation (the one removed, duplicated, moved, inserted,
    either one of a swapped pair, or the activation put in ReLU's place); for a convolution's
    attributes, the convolution, or the shape, cost or parameter count it changed. A convolution
    moved past a batch norm changes that batch norm's width, which the headline may name instead."""
    edit = mutant.edit
    if edit is None:
        return any(word in message for word in CONV_WORDS)
    ops = {edit.other if edit.kind == 'replace' else edit.op}
    if edit.kind == 'swap':
        ops.add(edit.other)
    words = set()
    for op in ops:
        if op in OP_WORDS:
            words.update(OP_WORDS[op])
        elif op in behaviour.ACTIVATIONS:
            words.add(behaviour.op_name(op))
        else:  # a convolution
            words.update(CONV_WORDS + (OP_WORDS['bn'] if edit.kind == 'move' else ()))
    return any(word in message for word in words)


def refusal(check, block_cls):
    """The headline of the check's refusal, or None if it accepts the block."""
    try:
        check(block_cls)
    except checks.CheckFailed as failure:
        return failure.headline
    return None


def _run(kind, capsys):
    counts, unnamed, wrongly = collections.Counter(), [], []
    for mutant in mutants(kind):
        block_cls = build_block(kind, mutant.program, mutant.convs)
        block_cls.__name__ = 'Mutant'
        reason = equivalence(kind, mutant)
        message = refusal(CHECKS[kind], block_cls)
        capsys.readouterr()  # the passing report of accepted mutants
        if reason is not None:
            counts['equivalent or accepted'] += 1
            counts[f'  {reason}'] += 1
            if message is not None:
                wrongly.append(f'{mutant.name}: refused although {reason}: {message}')
            continue
        counts['wrong'] += 1
        if message is None:
            wrongly.append(f'{mutant.name}: ACCEPTED')
            continue
        counts['refused'] += 1
        if not names_the_edit(message, mutant):
            unnamed.append(f'{mutant.name}: {message[:200]}')
    return counts, unnamed, wrongly


def _count_id(kind):
    found = mutants(kind)
    accepted = sum(equivalence(kind, m) is not None for m in found)
    return (f'{kind}: {len(found)} mutants, {len(found) - accepted} wrong, {accepted} equivalent '
            'or accepted')


@pytest.mark.parametrize('kind', list(PROGRAMS), ids=_count_id)
def test_every_single_edit_mutant_is_refused(kind, capsys):
    counts, unnamed, wrongly = _run(kind, capsys)
    summary = (f'{kind}: {counts["wrong"] + counts["equivalent or accepted"]} mutants; '
               f'{counts["wrong"]} wrong, {counts["refused"]} refused; '
               f'{counts["equivalent or accepted"]} equivalent or accepted, all accepted:\n' +
               '\n'.join(f'  {n} x {reason.strip()}' for reason, n in counts.items()
                         if reason.startswith('  ')))
    with capsys.disabled():
        print('\n' + summary)
    assert not wrongly, '\n'.join(wrongly)
    assert counts['refused'] == counts['wrong'] > 0
    assert not unnamed, 'refused without naming the edited operation:\n' + '\n'.join(unnamed)
