"""Checks for the exercise notebooks: a student's block against the library's reference block.

``check_bottleneck(cls)`` and ``check_preact(cls)`` take the student's CLASS (not an instance). Each
builds it for several (num_channels, use_1x1conv, strides) settings, runs it on a small random batch
and compares it with ``d2lutils.models.Bottleneck`` or ``d2lutils.models.PreActResidual``:

- the output shape;
- the number of trainable parameters, convolution biases not counted (a bias before batch norm is
  harmless, so both ``use_bias=True`` and ``use_bias=False`` pass);
- that every parameter took part in the forward pass, and that gradients reach the input;
- bottleneck only: multiply-adds, which tell where the stride is. The reference puts it on the first
  1x1 convolution (the CVPR paper's models); on the 3x3 convolution ("ResNet v1.5") is accepted
  too; on the last 1x1 convolution (the 3x3 then runs at full resolution and three quarters of its
  outputs are thrown away) is not;
- pre-activation only: every convolution, the projection included, reads the output of a ReLU
  (non-negative values), i.e. the pre-activated input;
- what the block computes (``d2lutils.exercises.behaviour``): every convolution and batch norm of
  both blocks gets values fixed by its shape alone, so the student's block must return the
  reference's output, in training and in inference mode. Any missing, extra, replaced or moved
  ReLU, batch norm or convolution, on the branch or on the shortcut, changes it, and the message
  names the edit;
- that the shortcut really carries the input: every convolution's weights are set to zero and every
  batch norm's shift (beta) to -0.5, so the residual branch becomes a known constant. The reference
  bottleneck then returns exactly ``relu(x - 0.5)`` (its branch ends with a batch norm), the
  pre-activation block exactly ``x`` (its branch ends with a convolution).

Any correct style passes: biases on the convolutions, ``HybridSequential`` bodies, ``nn.Activation``
or ``npx.relu``, a block that hybridizes itself, a projection built as a sub-block
(``tests/test_check_styles.py`` lists them). A check turns NumPy mode back on if a student's block
turned it off, and leaves it as it found it.

Passing prints what was checked. Failing raises ``CheckFailed``, an ``AssertionError`` (nbgrader
counts on that) that IPython shows as a short report (what failed, the setting, what was expected,
what came back, one hint) rather than a traceback through this file. A stub that still raises
``NotImplementedError`` is reported as "not written yet", with its cell. Passing something that is
not a class raises ``TypeError``. Importing this module in IPython also makes a cell that runs into
a stub's ``NotImplementedError`` directly (e.g. a network built from an unwritten function) show the
same short note.

``check_resnet(net, depth)`` compares a whole network with ``models.resnet(depth, 1000)``: output
shape, parameter count, and its function with every layer given controlled values.

Each check is two halves: the questions put to the student's block (``Asked``: build it, run it,
count its parameters, its gradient, its outputs with controlled weights ...) and the judgement of
the answers against the reference (``judge_bottleneck``, ``judge_preact``, ``judge_resnet``). In a
notebook both run in the kernel. When the grader runs a submission, the questions are asked in the
sandbox (``record_block``, on inputs from the grader's seed) and written as data; the grader judges
them in its own process with the same judgement (``judge``, through ``Recorded``), so a message is
the same wherever the check ran, and nothing in the student's process can change a verdict.

The checks see the layers through ``d2lutils.walker``: its ``recording`` gives every convolution's
input, output and multiply-adds in one forward pass.
"""
import collections
import dataclasses
import functools
import inspect
import math
import os
import re
import sys
import textwrap
from typing import Annotated

import numpy as onp
from mxnet import autograd, gluon, init, np, npx
from mxnet.gluon import nn

import d2lutils
from d2lutils import arguments, models, walker
from d2lutils.arguments import Check, checked
from d2lutils.exercises import answers, behaviour

BATCH, SIZE = 4, 8
BRANCH_SHIFT = -0.5
SIGNATURE = '(num_channels, use_1x1conv=False, strides=1)'
WIDTH = 80  # nbgrader's feedback cuts lines at about 87 characters


@dataclasses.dataclass(frozen=True)
class BlockSetting:
    """One way of building a block, and the input it is run on."""
    num_channels: int
    use_1x1conv: bool
    strides: int
    in_channels: int

    def call(self, name):
        """How the block is built: 'Bottleneck(16, use_1x1conv=False, strides=1)'."""
        return f'{name}({self.num_channels}, use_1x1conv={self.use_1x1conv}, strides={self.strides})'

    def describe(self, name):
        return f'{self.call(name)} on an input of shape {self.input_shape}'

    @property
    def input_shape(self):
        return (BATCH, self.in_channels, SIZE, SIZE)

    @property
    def identity(self):
        return not self.use_1x1conv


SETTINGS = (
    BlockSetting(16, False, 1, in_channels=16),  # identity shortcut: shape kept
    BlockSetting(16, True, 1, in_channels=8),    # channels change (as ResNet-50's first block)
    BlockSetting(32, True, 2, in_channels=16),   # channels and resolution (a stage's first block)
    BlockSetting(16, True, 2, in_channels=16),   # only the resolution changes
)


# --------------------------------------------------------------------------- what a student sees
class CheckFailed(AssertionError):
    """A check that did not pass: what failed, in which setting, expected, got, one hint.

    ``str()`` gives the report wrapped at 80 columns (never inside a number or a parenthesis), for
    nbgrader's feedback and plain Python; IPython calls ``_render_traceback_`` and shows the same
    report instead of a traceback.
    """

    def __init__(self, headline, where=None, expected=None, got=None, hint=None):
        super().__init__(headline)
        self.check, self.headline, self.where = None, headline, where
        self.expected, self.got, self.hint = expected, got, hint

    def __str__(self):
        return '\n'.join(self._head() + self._body())

    def _render_traceback_(self):
        return [f'\x1b[1;31m{line}\x1b[0m' for line in self._head()] + self._body()

    def _head(self):
        return _wrap(f'{self.check} failed: {self.headline}' if self.check else self.headline)

    def _body(self):
        lines = []
        for label, value in (('setting', self.where), ('expected', self.expected),
                             ('got', self.got), ('hint', self.hint)):
            if value:
                lines += _wrap(value, f'  {label + ":":10}')
        return lines


def _wrap(text, label=''):
    """Lines of at most WIDTH characters, broken at spaces only (so never inside a number); a
    short group in (), [] or `` stays on one line, e.g. ``Bottleneck(16, use_1x1conv=True,
    strides=2)`` or a shape ``(4, 16, 8, 8)``."""
    keep = list(text)
    for group in re.finditer(r'`[^`]*`|\([^()]*(?:\([^()]*\)[^()]*)*\)|\[[^\[\]]*\]', text):
        if len(group.group()) <= 48:
            for i in range(group.start(), group.end()):
                keep[i] = '\0' if keep[i] == ' ' else keep[i]
    room = WIDTH - len(label)
    words = (word if len(word) <= room else word.replace('\0', ' ')  # too long to keep whole
             for word in re.split('( |\n)', ''.join(keep)))
    lines = []
    for i, paragraph in enumerate(''.join(words).split('\n')):
        first = label if i == 0 else ' ' * len(label)
        lines += textwrap.wrap(paragraph, WIDTH, initial_indent=first,
                               subsequent_indent=' ' * len(label), break_long_words=False,
                               break_on_hyphens=False) or [first.rstrip()]
    return [line.replace('\0', ' ') for line in lines]


def _print(text, label=''):
    """Print ``text`` in lines of at most WIDTH characters (``_wrap``): JupyterLab wraps a longer
    output line at any character, even inside a number ('44 / 8 parameters')."""
    print('\n'.join(_wrap(text, label)))


def _fail(headline, where=None, expected=None, got=None, hint=None):
    raise CheckFailed(headline, where, expected, got, hint) from None


def _checked(check_name):
    """Run a check in NumPy mode, restore the mode the caller had, and name the check in failures."""
    def decorate(check):
        @functools.wraps(check)
        def run(target, *args, **kwargs):
            before = npx.is_np_shape(), npx.is_np_array()
            npx.set_np()
            try:
                return check(target, *args, **kwargs)
            except CheckFailed as failure:
                name = getattr(target, '__name__', None)
                failure.check = f'{check_name}({name})' if name else check_name
                raise
            finally:
                npx.set_np(shape=before[0], array=before[1])
        return run
    return decorate


def _stub_note(error):
    """'not written yet: ...' for a NotImplementedError raised by a stub, naming its cell; None when
    it came from Gluon itself (a block without a forward method)."""
    frame = _raising_frame(error.__traceback__)
    if frame is None:
        return None
    code = frame.f_code
    if '/mxnet/' in code.co_filename.replace('\\', '/'):
        return None
    name = _qualified_name(frame)
    cell = _cell_number(code.co_filename)
    if name == '<module>':  # raised by the cell's own code, not inside a function
        where = f'cell In[{cell}]' if cell else 'this cell'
    else:
        where = f'cell In[{cell}] ({name})' if cell else f'the cell that defines {name}'
    return f'not written yet: replace the `raise NotImplementedError()` in {where}'


def _qualified_name(frame):
    """The raising function's qualified name (Class.method). Python 3.11 keeps it on the code object;
    on 3.10 a method's class is found from its ``self``: the class whose own method has this code."""
    code = frame.f_code
    if hasattr(code, 'co_qualname'):
        return code.co_qualname
    owner = frame.f_locals.get('self')
    for cls in type(owner).__mro__ if owner is not None else ():
        if getattr(cls.__dict__.get(code.co_name), '__code__', None) is code:
            return f'{cls.__qualname__}.{code.co_name}'
    return code.co_name


def _raising_frame(tb):
    frame = None
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
    return frame


def _cell_number(filename):
    """The execution count IPython shows for the cell compiled to ``filename`` (None outside it)."""
    shell = _ipython()
    return getattr(getattr(shell, 'compile', None), '_filename_map', {}).get(filename)


def _ipython():
    ipython = sys.modules.get('IPython')  # only if IPython runs us: importing it costs a second
    return ipython.get_ipython() if ipython is not None else None


def _show_stub_note(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for a NotImplementedError a cell runs into: the stub note for a stub in a
    cell, the usual traceback for anything else."""
    frame = _raising_frame(tb)
    note = _stub_note(value) if frame is not None and _cell_number(frame.f_code.co_filename) \
        else None
    if note is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    else:
        shell._showtraceback(etype, value, [f'\x1b[1;31m{line}\x1b[0m' for line in _wrap(note)])


def _install_stub_note():
    shell = _ipython()
    if shell is not None and hasattr(shell, 'set_custom_exc'):
        shell.set_custom_exc((NotImplementedError,), _show_stub_note)


_install_stub_note()


# --------------------------------------------------------------------------- small helpers
def _count(block):
    """Trainable parameters of ``block``, and of those, how many are convolution biases.

    A layer the student's forward pass never reached keeps a deferred shape; it is left out here
    (``models.count_parameters`` refuses such a network) and reported by ``_check_all_used``.
    """
    known = [p for p in block.collect_params().values()
             if p.grad_req != 'null' and p.shape is not None and all(d > 0 for d in p.shape)]
    total = sum(math.prod(p.shape) for p in known)
    biases = sum(math.prod(conv.bias.shape) for conv in walker.layers(block, nn.Conv2D)
                 if conv.bias is not None and all(d > 0 for d in conv.bias.shape))
    return total, biases


def _describe_layers(block):
    """One line per layer with parameters, e.g. 'Conv2D 1x1, 8->4, stride 2: 32 weights'."""
    lines = []
    for _, layer in walker.walk(block):
        if isinstance(layer, nn.Conv2D):
            out_c, in_c, kh, kw = layer.weight.shape
            stride = layer._kwargs['stride'][0]
            bias = ' + bias' if layer.bias is not None else ''
            lines.append(f'Conv2D {kh}x{kw}, {in_c}->{out_c}, stride {stride}: '
                         f'{math.prod(layer.weight.shape):,} weights{bias}')
        elif isinstance(layer, nn.BatchNorm):
            lines.append(f'BatchNorm over {layer.gamma.shape[0]} channels: '
                         f'{2 * layer.gamma.shape[0]:,} (gamma, beta)')
        elif isinstance(layer, nn.Dense):
            lines.append(f'Dense {layer.weight.shape[1]}->{layer.weight.shape[0]}')
    return lines


# --------------------------------------------------------------------------- the steps of a check
def _require_class(cls, check_name, expected):
    if not inspect.isclass(cls):
        if isinstance(cls, gluon.Block):
            got = f'an instance of {type(cls).__name__} (a block already built)'
        elif callable(cls):
            got = f'the function {getattr(cls, "__name__", cls)!r}'
        else:
            got = f'{type(cls).__name__} {cls!r}'
        raise arguments.ArgumentError(
            f'cls: {check_name} expects your class itself, e.g. {check_name}({expected}) with no '
            f'parentheses after {expected}; it got {got}.')
    if not issubclass(cls, gluon.Block):
        _fail(f'{cls.__name__} is a class but not a Gluon block',
              hint=f'write class {cls.__name__}(nn.HybridBlock) (or nn.Block).')
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # pragma: no cover - builtins only
        return
    try:
        signature.bind(16)
        signature.bind(16, use_1x1conv=True, strides=2)
        signature.bind(16, True, 2)
    except TypeError:
        _fail(f'{cls.__name__} must be built like chapter 3\'s Residual',
              expected=f'{cls.__name__}{SIGNATURE}', got=f'{cls.__name__}{signature}',
              hint='keep the constructor\'s arguments as the exercise gives them.')
    for name, default in (('use_1x1conv', False), ('strides', 1)):
        param = signature.parameters.get(name)
        if param is not None and param.default is not inspect.Parameter.empty \
                and param.default != default:
            _fail(f'{cls.__name__}: the default of {name} should be {default!r}',
                  expected=f'{name}={default!r}', got=f'{name}={param.default!r}',
                  hint=f'the signature is {SIGNATURE}.')


def _not_implemented(error, where, step):
    note = _stub_note(error)
    if note is None:
        _fail(f'{step} raised NotImplementedError from Gluon itself', where,
              hint='a HybridBlock needs a method hybrid_forward(self, F, x) (an nn.Block: '
                   'forward(self, x)); check its name and arguments.')
    _fail(note)  # no setting: the stub fails in every one


def _build(cls, setting, name):
    """Build and initialize the block, un-hybridized; a crash becomes a message naming the setting."""
    where = setting.describe(name)
    try:
        block = cls(setting.num_channels, use_1x1conv=setting.use_1x1conv, strides=setting.strides)
    except NotImplementedError as e:
        _not_implemented(e, where, '__init__')
    except Exception as e:
        _fail(f'building it raised {type(e).__name__}', where, got=arguments.error_line(e),
              hint='read the error: it names the layer or the argument that is wrong.')
    finally:
        npx.set_np()  # in case the block turned NumPy mode off
    try:
        block.initialize(init.Xavier(), force_reinit=True)
        if hasattr(block, 'hybridize'):
            block.hybridize(False)  # hooks see only layers that run in Python
    except Exception as e:
        _fail(f'initialize() raised {type(e).__name__}', where, got=arguments.error_line(e),
              hint='call super().__init__(**kwargs) first in __init__ and make your layers '
                   'attributes of the block.')
    return block


def _forward(block, x, training=True):
    """The block's output on ``x`` in training or inference mode, computed (MXNet runs
    asynchronously: waiting for the result surfaces its errors here, not in a later step)."""
    try:
        with autograd.train_mode() if training else autograd.predict_mode():
            y = block(x)
        if hasattr(y, 'wait_to_read'):
            y.wait_to_read()
    finally:
        npx.set_np()
    return y


def _run(block, x, where, hint, setting=None):
    """Forward in training mode, recording the convolutions; a crash becomes a message."""
    with walker.recording(block) as record:
        try:
            y = _forward(block, x)
        except NotImplementedError as e:
            _not_implemented(e, where, 'the forward pass')
        except Exception as e:
            headline = (f'the forward pass raised {type(e).__name__}' if 'broadcast' not in str(e)
                        else 'the branch and the shortcut have different shapes: they cannot '
                             'be added')
            _fail(headline, where, got=arguments.error_line(e),
                  hint=_shape_hint(e, setting) or hint)
    return y, _calls(record)


def _shape_hint(error, setting):
    """A specific hint when branch and shortcut could not be added (MXNet names both shapes)."""
    shapes = re.findall(r'\[(\d+(?:,\s*\d+)*)\]', str(error))
    if 'broadcast' not in str(error) or len(shapes) < 2 or setting is None:
        return ('the error comes from a layer or an operation inside your block: check the '
                'arguments of each layer (kernel_size, padding, strides, in_channels) and that '
                'hybrid_forward uses only F.* functions and your layers.')
    a, b = ([int(v) for v in s.split(',')] for s in shapes[-2:])
    if len(a) != 4 or len(b) != 4:
        return None
    text = f'The two arrays being added have shapes {tuple(a)} and {tuple(b)}. '
    if setting.num_channels * 4 in (a[1], b[1]):
        return text + (f'The num_channels ({setting.num_channels}) is the OUTPUT width: the last 1x1 '
                       'convolution expands to num_channels, and the inner width is '
                       'num_channels // 4.')
    if a[2:] != b[2:]:
        return text + (f'With strides={setting.strides} both the branch and the shortcut must halve '
                       'height and width: the stride goes once into the branch and into the '
                       '1x1 projection of the shortcut.')
    if a[1] != b[1]:
        return text + ('The input has a different number of channels from the output: with '
                       'use_1x1conv=True the shortcut must be a 1x1 convolution to num_channels.')
    return None


def _check_shape(answer, expected, setting, where):
    """``answer``: the 'run' answer, whose 'shape' is None when the block returned no array."""
    got = tuple(answer['shape'] or ())
    if answer['shape'] is not None and got == expected:
        return
    if answer['shape'] is None:
        _fail('the block does not return an array', where, f'an array of shape {expected}',
              answer['type'], 'return the sum of branch and shortcut.')
    hint = 'the output has num_channels channels and, with strides=2, half the height and width.'
    if len(got) == 4 and got[1] != expected[1]:
        hint = (f'num_channels ({setting.num_channels}) is the block\'s OUTPUT width; got {got[1]} '
                'channels.')
        if got[1] == 4 * setting.num_channels:
            hint += ' The inner width is num_channels // 4, not num_channels times 4.'
    elif len(got) == 4 and got[2:] != expected[2:]:
        hint = (f'height and width should be {expected[2:]} with strides={setting.strides}: apply '
                'the stride once in the branch and once in the projection, nowhere else.')
    _fail('wrong output shape', where, f'output shape {expected}', f'{got}', hint)

def _check_all_used(params, where):
    """``params``: [(name, shape, deferred)] of the student's block after its forward pass."""
    for pname, shape, deferred in params:
        if deferred or any(d <= 0 for d in shape):
            _fail(f'the parameter {pname} never took part in the forward pass', where,
                  got=f'its shape is still {tuple(shape)}',
                  hint='every layer created in __init__ must be used in the forward method, e.g. '
                       'the projection of the shortcut when use_1x1conv=True.')


def _check_params(mine, reference, where):
    """``mine``: the 'params' answer (total, biases, layers: one line per layer with parameters)."""
    total, biases = mine['total'], mine['biases']
    expected, ref_biases = _count(reference)
    expected -= ref_biases
    if total - biases == expected:
        return total, biases
    ref_lines = _describe_layers(reference)
    lines = '\n'.join(mine['layers']) or '(no Conv2D, BatchNorm or Dense layer found)'
    _fail(_layer_difference(mine['layers'], ref_lines) or
          f'{total - biases - expected:+,} trainable parameters compared with the reference', where,
          f'{expected:,} trainable parameters (convolution biases not counted):\n'
          + '\n'.join(ref_lines),
          f'{total - biases:,} trainable parameters:\n{lines}',
          'compare the two lists layer by layer (widths, kernel sizes, batch norms).')


def _layer_difference(mine, reference):
    """'an extra BatchNorm over 16 channels', 'no Conv2D 3x3, 4->4' ...: the layers one list of
    layer lines has and the other lacks (stride and bias aside), when that is what differs; else
    None."""
    mine, ref = (collections.Counter(_layer_kind(line) for line in lines)
                 for lines in (mine, reference))
    extra, missing = mine - ref, ref - mine
    parts = [f'an extra {kind}' for kind in extra.elements()] + \
        [f'no {kind}' for kind in missing.elements()]
    if not parts or len(parts) > 2:
        return None
    return ' and '.join(parts) + ' compared with the reference'


def _layer_kind(line):
    """'Conv2D 1x1, 8->4, stride 2: 32 weights' -> 'Conv2D 1x1, 8->4'."""
    return re.split(r', stride|:', line)[0]


def _gradient(block, x, where):
    """The gradient of the block's summed output with respect to ``x`` (NumPy)."""
    x = x.copy()
    x.attach_grad()
    try:
        with autograd.record():
            y = block(x)
        y.backward()
        return x.grad.asnumpy()
    except Exception as e:
        _fail(f'the backward pass raised {type(e).__name__}', where, got=arguments.error_line(e),
              hint='use only MXNet operations (no .asnumpy(), no NumPy) in the forward method.')
    finally:
        npx.set_np()


def _check_gradient(grad, where):
    if not onp.isfinite(grad).all() or not onp.abs(grad).sum() > 0:
        _fail('no gradient reaches the input', where, 'a non-zero, finite x.grad',
              'x.grad is zero or not finite',
              'do not detach, stop_gradient or convert to NumPy inside the block.')


def _controlled_run(block, x, training, where):
    """The block's output (NumPy) on ``x`` with every convolution and batch norm given its
    controlled values (``behaviour.set_controlled_weights``), and its convolutions' calls."""
    behaviour.set_controlled_weights(block)
    with walker.recording(block) as record:
        try:
            y = _forward(block, x, training)
        except Exception as e:
            _fail(f'the forward pass in {"training" if training else "inference"} mode '
                  f'raised {type(e).__name__}', where, got=arguments.error_line(e),
                  hint='the block must run in both modes (autograd.train_mode and '
                       'predict_mode).')
    return _numpy(y), _calls(record)


def _check_behaviour(answers, reference, design, x, where, reference_name):
    """The student's block and the reference, both with controlled weights, must return the same
    output in training and in inference mode; if not, name the edit (``exercises.behaviour``).
    ``answers``: {True: the student's (output, calls) in training mode, False: in inference}."""
    xs = x.asnumpy()
    for training in (True, False):
        student_y, student_calls = answers[training]
        behaviour.set_controlled_weights(reference)
        with walker.recording(reference) as record:
            ref_y = _forward(reference, x, training).asnumpy()
        if student_y is not None and behaviour.close(student_y, ref_y):
            continue
        if student_y is None:
            _fail('the block does not return an array', where, 'an array', 'something else',
                  'return the sum of branch and shortcut.')
        convs = dict(design.convs)
        reference_io = {call.path: (call.input.asnumpy(), call.output.asnumpy())
                        for call in record.of(nn.Conv2D, nn.Dense) if call.path in convs}
        student_io = behaviour.match_convs(student_calls, reference, design)
        found = behaviour.diagnose(design, xs, reference_io, student_io, student_y, training)
        _fail(found.headline, where, f'{found.expected} ({reference_name})', found.got,
              found.hint)


def _set_branch_constant(block):
    """Zero every convolution (weights and bias) and set every batch norm's beta to BRANCH_SHIFT."""
    for conv in walker.layers(block, nn.Conv2D):
        for param in (conv.weight, conv.bias):
            if param is not None:
                param.set_data(np.zeros(param.shape))
    for bn in walker.layers(block, nn.BatchNorm):
        bn.gamma.set_data(np.ones(bn.gamma.shape))
        bn.beta.set_data(np.full(bn.beta.shape, BRANCH_SHIFT))


def _check_identity(y, expected, diagnoses, where, what):
    """With the branch made constant, the output ``y`` must be ``expected`` (NumPy arrays) exactly.
    ``diagnoses``: (output, headline, hint) for outputs that tell what is wrong."""
    if y is not None and y.shape == expected.shape and onp.allclose(y, expected, atol=1e-5):
        return
    if y is None or y.shape != expected.shape:
        _fail('the output is not the input plus the constant branch', where,
              f'an array of shape {expected.shape}', 'something else',
              'return the sum of branch and shortcut.')
    headline, hint = next(((h, t) for candidate, h, t in diagnoses
                           if onp.allclose(y, candidate, atol=1e-5)),
                          ('the output is not the input plus the constant branch',
                           'something between the addition and the output changes it, e.g. a '
                           'batch norm after the addition.'))
    _fail(headline, where, f'{what} with every convolution set to zero and every batch norm\'s '
          f'beta to {BRANCH_SHIFT}, first values {_first(expected)}', f'first values {_first(y)}',
          hint)


def _first(values, n=4):
    return '[' + ', '.join(f'{v:.3f}' for v in values.ravel()[:n]) + ', ...]'


def _inputs(setting):
    d2lutils.seed_everything(0)
    return np.random.normal(0, 1, size=setting.input_shape)


def _report(check_name, name, reference, lines, checked):
    """The pass report: ``lines`` are (setting, its figures), each setting on a line of its own
    and its figures indented on the next, so that no line is longer than WIDTH."""
    if not lines:
        _fail('no setting was checked, so nothing was shown to be right',
              hint='the list of settings (checks.SETTINGS) is empty; restore it.')
    _print(f'{check_name}({name}): passed, {len(lines)} settings, compared with '
           f'd2lutils.models.{reference}')
    for setting, figures in lines:
        _print(f'{setting.call(name)} on an input {setting.input_shape}:', '  ')
        _print(figures, '    ')
    _print('; '.join(checked) + '.', 'Checked: ')


# --------------------------------------------------------------------------- asking a student's block
# A check asks the student's block questions and judges the answers against the reference. The
# questions (``Asked``) run where the student's code runs; the judgement needs only the answers,
# which are data. In a notebook both happen in the kernel. When a submission is graded, the
# questions are asked in the grading sandbox (``answer_for_grader``), the answers written with
# ``exercises.answers``, and the grader judges them in its own process (``judge``), which never
# runs student code: ``Recorded`` gives back what the sandbox wrote, so the judgement is the same
# code as in the notebook, and a failure raised in the sandbox comes back as the same message.

@dataclasses.dataclass
class Call:
    """One call of a convolution or dense layer, as data: what the checks read of a LayerCall."""
    kind: str           # 'Conv2D' or 'Dense'
    weight_shape: tuple
    stride: int
    input: onp.ndarray
    output: onp.ndarray

    @property
    def output_shape(self):
        return tuple(self.output.shape)

    @property
    def macs(self):
        kernel = self.weight_shape[2:] if self.kind == 'Conv2D' else ()
        return walker.layer_macs('Convolution' if self.kind == 'Conv2D' else 'FullyConnected',
                                 tuple(self.input.shape), self.output_shape, kernel)


def _calls(record):
    """The calls of nn.Conv2D and nn.Dense layers in a ``walker.Recording``, as ``Call`` rows
    (hooks see only blocks that run in Python, so the checks run blocks un-hybridized)."""
    return [Call('Conv2D' if isinstance(c.layer, nn.Conv2D) else 'Dense',
                 tuple(c.layer.weight.shape), int(c.layer._kwargs.get('stride', (1,))[0]),
                 _numpy(c.input), _numpy(c.output))
            for c in record.of(nn.Conv2D, nn.Dense)]


def _numpy(y):
    """``y`` as a float32 NumPy array, or None when it is not an MXNet or NumPy array of numbers."""
    if isinstance(y, np.ndarray) or type(y).__name__ == 'NDArray':
        return y.asnumpy().astype(onp.float32)
    if type(y) is onp.ndarray and y.dtype.kind in 'fiu':  # exactly NumPy's: no subclass
        return y.astype(onp.float32)
    return None


def _provenance(cls):
    """Where the class and its methods were written: [(class module, [method code files])] for
    each class of its MRO below Gluon's."""
    rows = []
    for klass in cls.__mro__:
        module = getattr(klass, '__module__', '') or ''
        if module.startswith(('mxnet', 'builtins')):
            break
        files = sorted({f.__code__.co_filename for f in vars(klass).values()
                        if hasattr(f, '__code__')})
        rows.append([f'{module}.{klass.__qualname__}', files])
    return rows


def _library_block(provenance):
    """'d2lutils.models.Bottleneck' when the class is, derives from, or runs methods of the
    library's own code (a class of d2lutils, or a subclass adding nothing), else None."""
    package = str(models.__file__).rsplit('/', 1)[0].rsplit('\\', 1)[0]
    for name, files in provenance:
        if name.startswith('d2lutils.') or any(f.startswith(package) for f in files):
            return name
    return None


class Asked:
    """A student's block class, asked the checks' questions here, one block per setting."""

    def __init__(self, cls, inputs, run_hint):
        self.cls, self.name, self.inputs, self.run_hint = cls, cls.__name__, inputs, run_hint
        self.blocks = {}

    def provenance(self):
        return _provenance(self.cls)

    def answer(self, i, question):
        setting, x = SETTINGS[i], self.inputs[i]
        where = setting.describe(self.name)
        if i not in self.blocks:
            self.blocks[i] = None
            self.blocks[i] = _build(self.cls, setting, self.name)
        block = self.blocks[i]
        if block is None:
            _fail('the block could not be built', where)
        if question == 'run':
            y, calls = _run(block, x, where, self.run_hint, setting)
            array = _numpy(y)
            return {'shape': None if array is None else list(array.shape),
                    'type': type(y).__name__, 'calls': calls}
        if question == 'params':
            total, biases = _count(block)
            return {'total': total, 'biases': biases, 'layers': _describe_layers(block),
                    'params': [[n, list(p.shape), bool(p._deferred_init)]
                               for n, p in block.collect_params().items()]}
        if question == 'gradient':
            return _gradient(block, x, where)
        if question in ('train', 'predict'):
            return _controlled_run(block, x, question == 'train', where)
        if question == 'identity':
            _set_branch_constant(block)
            return _numpy(_forward(block, x))
        raise ValueError(f'no question {question!r}')


QUESTIONS = ('run', 'params', 'gradient', 'train', 'predict', 'identity')


class Recorded:
    """The answers a block gave in the grading sandbox, given back to the same judgement."""

    def __init__(self, data, inputs):
        if not isinstance(data, dict) or not isinstance(data.get('name'), str):
            raise ValueError('answers without the name of the class')
        self.name, self.data, self.inputs = data['name'], data, inputs

    def provenance(self):
        return self.data.get('provenance', [])

    def answer(self, i, question):
        entry = self.data.get('settings', [{}] * len(SETTINGS))[i].get(question)
        if entry is None:
            _fail(f'the grader got no answer to "{question}" from the block',
                  SETTINGS[i].describe(self.name),
                  hint='the notebook stopped, or something in it changed the check, before '
                       'the block answered.')
        if isinstance(entry, dict) and 'failed' in entry:
            raise CheckFailed(*(entry['failed'].get(k) for k in
                                ('headline', 'where', 'expected', 'got', 'hint')))
        value = entry['value']
        if question == 'run':
            return {**value, 'calls': _recorded_calls(value['calls'])}
        if question in ('train', 'predict'):
            y, calls = value
            return (None if y is None else onp.asarray(y, dtype=onp.float32),
                    _recorded_calls(calls))
        if question in ('gradient', 'identity'):
            return None if value is None else onp.asarray(value, dtype=onp.float32)
        return value


def _recorded_calls(rows):
    return [Call(str(kind), tuple(int(d) for d in shape), int(stride),
                 onp.asarray(inp, dtype=onp.float32), onp.asarray(out, dtype=onp.float32))
            for kind, shape, stride, inp, out in rows]


def _as_data(value):
    """An answer in the form ``answers.save`` writes (Call rows become lists)."""
    if isinstance(value, Call):
        return [value.kind, list(value.weight_shape), value.stride, value.input, value.output]
    if isinstance(value, (list, tuple)):
        return [_as_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_data(v) for k, v in value.items()}
    return value


def _failure_data(failure):
    return {'failed': {k: None if getattr(failure, k) is None else str(getattr(failure, k))
                       for k in ('headline', 'where', 'expected', 'got', 'hint')}}


def record_block(cls, check_name, inputs):
    """Every answer of the student's class ``cls`` to the block check ``check_name``, as data
    (what the grading sandbox writes): a failure is recorded where it happened."""
    data = {'check': check_name, 'name': getattr(cls, '__name__', type(cls).__name__)}
    try:
        _require_class(cls, check_name, BLOCK_CHECKS[check_name][1])
    except TypeError as error:
        return {**data, 'type_error': str(error)}
    except CheckFailed as failure:
        return {**data, 'class_failed': _failure_data(failure)['failed']}
    data['provenance'] = _provenance(cls)
    asked = Asked(cls, inputs, BLOCK_CHECKS[check_name][2])
    data['settings'] = []
    for i in range(len(SETTINGS)):
        row = {}
        for question in QUESTIONS:
            if question == 'identity' and not SETTINGS[i].identity:
                continue
            try:
                row[question] = {'value': _as_data(asked.answer(i, question))}
            except CheckFailed as failure:
                row[question] = _failure_data(failure)
            finally:
                npx.set_np()
        data['settings'].append(row)
    return data


# --------------------------------------------------------------------------- the judgements
class BottleneckV15(models.Bottleneck):
    """``models.Bottleneck(..., stride_on='3x3')`` ("ResNet v1.5"), the reference a block with its
    stride on the 3x3 convolution is compared with: a class, so that ``models.resnet_stage`` (which
    takes a block class) builds the v1.5 twin of check_resnet's reference network."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, stride_on='3x3', **kwargs)


def _not_the_library(student, reference_name):
    library = _library_block(student.provenance())
    if library:
        _fail(f'{student.name} is the library\'s own block ({library}), not your work',
              expected=f'a class you write yourself, built from nn layers, with the name '
                       f'{reference_name}',
              got=f'{library}, or a class that takes its methods from it',
              hint='the check compares your block with d2lutils.models; comparing the library '
                   'with itself shows nothing. Write the block from nn.Conv2D, nn.BatchNorm and '
                   'ReLU.')


def _common_checks(student, i, reference_cls, x):
    """The checks both blocks share, for setting ``i``: shape, every layer used, parameter count
    against the reference, gradients reaching the input, and convolutions that really run.

    Returns what the block-specific checks need: (where, run answer, conv calls, the reference's
    conv calls, parameter total, bias count).
    """
    setting = SETTINGS[i]
    where = setting.describe(student.name)
    ran = student.answer(i, 'run')
    reference = _build(reference_cls, setting, 'reference')
    ref_y, ref_calls = _run(reference, x, 'reference', '')
    _check_shape(ran, tuple(ref_y.shape), setting, where)
    params = student.answer(i, 'params')
    _check_all_used(params['params'], where)
    total, biases = _check_params(params, reference, where)
    _check_gradient(student.answer(i, 'gradient'), where)
    if not ran['calls']:
        _fail('the check saw no nn.Conv2D layer run', where,
              hint='build the convolutions with nn.Conv2D, as attributes of the block.')
    return where, ran, ran['calls'], ref_calls, total, biases


def judge_bottleneck(student, inputs):
    """The bottleneck check's judgement of ``student`` (Asked or Recorded) on ``inputs``."""
    name, lines, v15 = student.name, [], False
    for i, setting in enumerate(SETTINGS):
        x = inputs[i]
        where, ran, calls, ref_calls, total, biases = _common_checks(
            student, i, models.Bottleneck, x)
        # Where the stride is shows in the multiply-adds: those of the reference (stride on the
        # first 1x1 convolution) and of its "ResNet v1.5" variant (stride on the 3x3), as run.
        v15_reference = _build(BottleneckV15, setting, 'reference')
        v15_calls = _run(v15_reference, x, 'reference', '')[1]
        macs, ref_macs, v15_macs = (walker.macs_per_example(c)
                                    for c in (calls, ref_calls, v15_calls))
        options = {ref_macs: 'conv1', v15_macs: 'conv3x3'}
        if macs not in options:
            wasted = ('; a stride on the last 1x1 convolution (or after it) makes the 3x3 run at '
                      'full resolution and throws away three quarters of its outputs'
                      if setting.strides > 1 else '')
            _fail('the convolutions cost the wrong number of multiply-adds', where,
                  f'{ref_macs:,} multiply-adds per example (stride on the first 1x1 '
                  f'convolution, the reference) or {v15_macs:,} (stride on the 3x3, '
                  '"ResNet v1.5")', f'{macs:,}',
                  f'inner width num_channels // 4 = {setting.num_channels // 4}; 1x1 reduce, 3x3, '
                  f'1x1 expand{wasted}.')
        stride_on_3x3 = setting.strides > 1 and options[macs] == 'conv3x3'
        v15 = v15 or stride_on_3x3
        reference = v15_reference if stride_on_3x3 else _build(models.Bottleneck, setting,
                                                               'reference')
        _run(reference, x, 'reference', '')
        _check_behaviour({True: student.answer(i, 'train'), False: student.answer(i, 'predict')},
                         reference, behaviour.bottleneck_design(setting.use_1x1conv), x,
                         where, 'the reference' + (', stride on the 3x3' if stride_on_3x3 else ''))
        if setting.identity:
            xs = x.asnumpy()
            _check_identity(student.answer(i, 'identity'), onp.maximum(xs + BRANCH_SHIFT, 0), [
                (onp.zeros_like(xs), 'no shortcut: the input is not added back',
                 'return relu(branch + x): the input is added back, then ReLU.'),
                (xs + BRANCH_SHIFT, 'no ReLU after the addition',
                 'in ResNet v1 the ReLU comes after the addition.'),
                (onp.maximum(xs, 0), 'a ReLU before the addition',
                 'the branch ends with a batch norm; the ReLU comes after the addition.'),
            ], where, 'relu(x - 0.5)')
        bias_note = f', {biases} of them convolution biases' if biases else ''
        lines.append((setting, f'output {tuple(ran["shape"])}, {total:,} parameters{bias_note}, '
                               f'{macs:,} multiply-adds per example'))
    checked = ['output shapes', 'parameter counts equal to the reference (convolution biases '
               'allowed)', 'every layer used', 'gradients reach the input',
               'the identity shortcut carries the input (output = relu(x + constant branch))',
               'multiply-adds (where the stride is)']
    _report('check_bottleneck', name, 'Bottleneck', lines, checked)
    if v15:
        _print('Note: your stride is on the 3x3 convolution ("ResNet v1.5", as in torchvision); the '
              'reference puts it on the first 1x1 convolution, as in the paper. Both are accepted.')


def judge_preact(student, inputs):
    """The pre-activation check's judgement of ``student`` (Asked or Recorded) on ``inputs``."""
    name, lines = student.name, []
    for i, setting in enumerate(SETTINGS):
        x = inputs[i]
        where, ran, calls, _, total, biases = _common_checks(student, i, models.PreActResidual, x)
        reference = _build(models.PreActResidual, setting, 'reference')
        _run(reference, x, 'reference', '')
        _check_behaviour({True: student.answer(i, 'train'), False: student.answer(i, 'predict')},
                         reference, behaviour.preact_design(setting.use_1x1conv), x, where,
                         'the reference')
        for call in calls:
            if call.kind == 'Conv2D' and float(call.input.min()) < 0:
                k = call.weight_shape[2]
                what = ('the projection reads the raw input x; in ResNet v2 it reads the '
                        'pre-activated input relu(bn1(x)), like the first 3x3 convolution'
                        if k == 1 else 'a convolution must come after BN and ReLU, not before')
                _fail(f'a {k}x{k} convolution reads an input with negative values', where,
                      'the output of a ReLU (BN -> ReLU -> conv)', 'negative values', what + '.')
        if setting.identity:
            xs = x.asnumpy()
            _check_identity(student.answer(i, 'identity'), xs, [
                (onp.zeros_like(xs), 'no shortcut: the input is not added back',
                 'return branch + x.'),
                (onp.maximum(xs, 0), 'a ReLU after the addition',
                 'in ResNet v2 nothing follows the addition.'),
                (xs + BRANCH_SHIFT, 'the branch ends with a batch norm',
                 'in ResNet v2 it ends with the second convolution.'),
                (onp.maximum(xs + BRANCH_SHIFT, 0), 'this is the ResNet v1 order',
                 'conv-BN-ReLU with a ReLU after the addition is v1; v2 is BN-ReLU-conv.'),
            ], where, 'x itself')
        bias_note = f', {biases} of them convolution biases' if biases else ''
        lines.append((setting, f'output {tuple(ran["shape"])}, {total:,} parameters{bias_note}'))
    checked = ['output shapes', 'parameter counts equal to the reference (convolution biases '
               'allowed)', 'every layer used', 'gradients reach the input',
               'every convolution, the projection included, reads a ReLU output',
               'the identity shortcut carries the input unchanged (output = x when the branch is '
               'zero)']
    _report('check_preact', name, 'PreActResidual', lines, checked)


@_checked('check_bottleneck')
@checked
def check_bottleneck(cls: Annotated[type, Check(arguments.anything)]):  # _require_class checks it
    """Check a student's bottleneck block class against ``d2lutils.models.Bottleneck``. Used in the
    bottleneck exercise.

    Parameters
    ----------
    cls : type
        The student's block class itself (not an instance), built as
        ``cls(num_channels, use_1x1conv=False, strides=1)``.

    Prints what was checked when the block passes; raises ``CheckFailed`` (an ``AssertionError``)
    naming the first difference otherwise. The module docstring lists the checks. In the grading
    sandbox it only records the block's answers, which the grader judges outside.
    """
    if _grading():
        return _answer_for_grader('check_bottleneck', cls)
    _require_class(cls, 'check_bottleneck', 'Bottleneck')
    inputs = [_inputs(s) for s in SETTINGS]
    judge_bottleneck(Asked(cls, inputs, BLOCK_CHECKS['check_bottleneck'][2]), inputs)


@_checked('check_preact')
@checked
def check_preact(cls: Annotated[type, Check(arguments.anything)]):  # _require_class checks it
    """Check a student's pre-activation block class against ``d2lutils.models.PreActResidual``. Used
    in the pre-activation exercise.

    Parameters
    ----------
    cls : type
        The student's block class itself (not an instance), as for ``check_bottleneck``; passing and
        failing work as there.
    """
    if _grading():
        return _answer_for_grader('check_preact', cls)
    _require_class(cls, 'check_preact', 'PreActResidual')
    inputs = [_inputs(s) for s in SETTINGS]
    judge_preact(Asked(cls, inputs, BLOCK_CHECKS['check_preact'][2]), inputs)


# check name: (judgement, the reference's name, hint for a forward pass that fails)
BLOCK_CHECKS = {
    'check_bottleneck': (judge_bottleneck, 'Bottleneck',
                         'the branch and the shortcut must have the same shape when they are '
                         'added: with use_1x1conv=True the shortcut is a 1x1 convolution to '
                         'num_channels with the same strides, followed by batch norm.'),
    'check_preact': (judge_preact, 'PreActResidual',
                     'the branch and the shortcut must have the same shape when they are added: '
                     'with use_1x1conv=True the shortcut is a 1x1 convolution to num_channels '
                     'with the same strides, applied to relu(bn1(x)).'),
}


# --------------------------------------------------------------------------- a whole network
FUNCTION_IMAGE = 64  # side of the image on which a network's function is compared


def _control_network(net):
    """Controlled values for every layer with parameters, the dense layers' included (weights as
    a convolution's of the same shape, biases zero), so two networks of one architecture compute
    the same function whatever their parameters are named."""
    behaviour.set_controlled_weights(net)
    for dense in walker.layers(net, nn.Dense):
        dense.weight.set_data(np.array(behaviour.controlled_values(dense.weight.shape, 'weight')))
        if dense.bias is not None:
            dense.bias.set_data(np.zeros(dense.bias.shape))


def _network_answers(net, image_size, image):
    """What check_resnet asks of a network: its output shape on one ``image_size`` image, its
    parameters, and its output on ``image`` with controlled weights, in inference mode."""
    where = 'your network'
    try:
        if any(p._data is None and not p._deferred_init for p in net.collect_params().values()):
            net.initialize(init.Xavier())
        y = _forward(net, np.zeros((1, 3, image_size, image_size)), training=False)
    except NotImplementedError as e:
        _not_implemented(e, where, 'the forward pass')
    except Exception as e:
        _fail(f'the forward pass raised {type(e).__name__}', where, got=arguments.error_line(e),
              hint='read the error: it names the layer whose input does not fit.')
    shape = None if _numpy(y) is None else list(_numpy(y).shape)
    total, biases = _count(net)
    params = [[n, list(p.shape), bool(p._deferred_init)] for n, p in net.collect_params().items()]
    _control_network(net)
    return {'shape': shape, 'type': type(y).__name__, 'total': total, 'biases': biases,
            'params': params, 'function': _numpy(_forward(net, image, training=False))}


def _reference_network(depth, num_classes, version, v15=False):
    """models.resnet(depth), initialized on ``FUNCTION_IMAGE`` images; with ``v15`` its "ResNet
    v1.5" twin (the stride on each first bottleneck's 3x3 convolution), which check_bottleneck
    accepts too."""
    net = models.resnet(depth, num_classes=num_classes, version=version)
    if v15:
        kind, blocks = models.RESNET_SPEC[depth]
        twin, stage = nn.HybridSequential(), 0
        for child in net:
            if isinstance(child, nn.HybridSequential):
                child = models.resnet_stage(BottleneckV15, models.STAGE_WIDTHS[kind][stage],
                                            blocks[stage], first_stage=stage == 0)
                stage += 1
            twin.add(child)
        net = twin
    net.initialize(init.Xavier())
    _forward(net, np.zeros((1, 3, FUNCTION_IMAGE, FUNCTION_IMAGE)), training=False)
    return net


def _same_function(mine, out):
    return mine is not None and mine.shape == out.shape and onp.allclose(
        mine, out, rtol=1e-3, atol=1e-3 * max(1.0, float(onp.abs(out).max())))


@functools.lru_cache(maxsize=8)
def _reference_answers(depth, num_classes, version, v15, image_bytes):
    """(trainable parameters less convolution biases, output on the image with controlled
    weights) of the reference network: the same for every submission a batch judges on one image."""
    net = _reference_network(depth, num_classes, version, v15)
    total, biases = _count(net)
    _control_network(net)
    image = np.array(onp.frombuffer(image_bytes, dtype=onp.float32).reshape(
        1, 3, FUNCTION_IMAGE, FUNCTION_IMAGE))
    return total - biases, _forward(net, image, training=False).asnumpy()


def judge_resnet(answer, depth, version=1, num_classes=1000, image_size=224, image=None):
    """check_resnet's judgement of a network's answers (``_network_answers``)."""
    where = f'your ResNet-{depth}'
    image_bytes = image.asnumpy().astype(onp.float32).tobytes()
    expected, out = _reference_answers(depth, num_classes, version, False, image_bytes)
    expected_shape = (1, num_classes)  # global average pooling: whatever the image size
    got = tuple(answer['shape'] or ())
    if answer['shape'] is None or got != expected_shape:
        _fail('wrong output shape', where,
              f'{expected_shape} for one {image_size}x{image_size} image',
              f'{got}' if answer['shape'] is not None else answer['type'],
              'the network ends with global average pooling and a Dense(num_classes) layer.')
    _check_all_used(answer['params'], where)
    total, biases = answer['total'], answer['biases']
    if total - biases != expected:
        _fail(f'{total - biases - expected:+,} trainable parameters compared with '
              f'models.resnet({depth})', where,
              f'{expected:,} trainable parameters (convolution biases not counted)',
              f'{total - biases:,}',
              f'Table 1: blocks per stage {models.RESNET_SPEC[depth][1]}; the first block of every '
              'stage projects, with stride 1 in the first stage (after the max-pooling) and 2 in '
              'the others.')
    mine = answer['function']
    same = _same_function(mine, out)
    if not same and version == 1 and models.RESNET_SPEC[depth][0] == 'bottleneck':
        same = _same_function(mine, _reference_answers(depth, num_classes, version, True,
                                                       image_bytes)[1])
    if not same:
        _fail(f'your ResNet-{depth} computes another function than models.resnet({depth})', where,
              f'with every layer given values fixed by its shape, the output of '
              f'models.resnet({depth}) on a {FUNCTION_IMAGE}x{FUNCTION_IMAGE} image, first values '
              f'{_first(out)}', 'other values' if mine is None or mine.shape != out.shape
              else f'first values {_first(mine)}',
              'if the block check fails, fix the block first (the network is built from '
              'it); else the layers are right in number but not in order: stem, the four '
              'stages in order, global average pooling, dense layer; each stage\'s first block '
              'projects.')
    _print(f'check_resnet: passed. Output {expected_shape}, {expected:,} trainable parameters '
           f'(convolution biases not counted), as d2lutils.models.resnet({depth}), and the same '
           'function (every layer given values fixed by its shape).')


def _function_image(seed=0):
    return np.array(onp.random.RandomState(seed).normal(
        0, 1, size=(1, 3, FUNCTION_IMAGE, FUNCTION_IMAGE)).astype(onp.float32))


@_checked('check_resnet')
@checked
def check_resnet(net: models.Net,
                 depth: Annotated[int, Check(arguments.one_of, choices=tuple(models.RESNET_SPEC))],
                 version: Annotated[int, Check(arguments.one_of, choices=(1, 2))] = 1,
                 num_classes: Annotated[int, Check(arguments.positive_int)] = 1000,
                 image_size: Annotated[int, Check(arguments.int_between, low=8, high=512)] = 224):
    """Check a whole network against ``models.resnet(depth, num_classes, version)``. Used in the
    bottleneck exercise.

    Compares the output shape on one 3-channel ``image_size`` image, the number of trainable
    parameters (convolution biases not counted), and the function: with every layer given values
    fixed by its shape (``behaviour.controlled_values``), the network must return what the
    reference returns on a random image, in inference mode (a network whose stride is on the
    bottleneck's 3x3 convolution is compared with that variant of the reference).

    Parameters
    ----------
    net : gluon.Block
        The student's network, initialized or initializable.
    depth : int
        A depth of ``models.RESNET_SPEC``: 18, 34, 50, 101, 152 or 200.
    version : int
        1 (the CVPR paper's blocks) or 2 (pre-activation).
    num_classes : int
        Outputs of the final dense layer.
    image_size : int
        Side of the square test image.
    """
    if _grading():
        return _answer_for_grader('check_resnet', net)
    d2lutils.seed_everything(0)
    image = _function_image()
    judge_resnet(_network_answers(net, image_size, image), depth, version, num_classes,
                 image_size, image)


# --------------------------------------------------------------------------- grading
# In the grading sandbox D2LUTILS_ANSWERS names the folder for the answers and the seed of the
# inputs, which the grader chose and the judgement uses again. A check cell starts with
# ``begin_cell(grade_id)``; each check the cell calls writes '<grade_id>-<n>.json/.npz'.
_cell = {'grade_id': None, 'calls': 0}


def _grading():
    return bool(os.environ.get('D2LUTILS_ANSWERS'))


def begin_cell(grade_id):
    """The grader's first line in a check cell in the sandbox: the answers that follow are its."""
    _cell.update(grade_id=str(grade_id), calls=0)


def grading_inputs(seed):
    """The inputs of the block checks when grading: chosen by the grader (``seed``), per setting."""
    rng = onp.random.RandomState(seed)
    return [np.array(rng.normal(0, 1, size=s.input_shape).astype(onp.float32)) for s in SETTINGS]


def _answer_for_grader(check_name, target):
    folder, seed = os.environ['D2LUTILS_ANSWERS'].rsplit(':', 1)
    seed = int(seed)
    if check_name == 'check_resnet':
        try:
            data = {'check': check_name, 'value': _network_answers(
                target, 224, _function_image(seed))}
        except CheckFailed as failure:
            data = {'check': check_name, **_failure_data(failure)}
    else:
        data = record_block(target, check_name, grading_inputs(seed))
    if _cell['grade_id'] is None:
        return None  # a check the student ran outside the check cells: nothing to grade
    answers.save(folder, f'{_cell["grade_id"]}-{_cell["calls"]}', _as_data(data))
    _cell['calls'] += 1
    _print(f'{check_name}: answers recorded for the grader, who checks them outside this notebook.')
    return None


def judge(check_name, data, seed, args=()):
    """Judge the answers ``data`` (``answers.load``) to ``check_name`` when grading, with the
    teacher's arguments ``args`` (after the first, e.g. the depth of check_resnet): returns the
    check's printed report, or raises CheckFailed (TypeError for a wrong argument)."""
    if not isinstance(data, dict) or data.get('check') != check_name:
        _fail(f'the grader got no answers from {check_name}',
              hint='the check cell did not run to the end, or something changed the check.')
    if check_name == 'check_resnet':
        if 'failed' in data:
            raise CheckFailed(*(data['failed'].get(k) for k in
                                ('headline', 'where', 'expected', 'got', 'hint')))
        value = dict(data['value'])
        for key in ('shape', 'function'):
            value[key] = None if value.get(key) is None else (
                tuple(int(d) for d in value[key]) if key == 'shape'
                else onp.asarray(value[key], dtype=onp.float32))
        judged = functools.partial(judge_resnet, value, *args, image=_function_image(seed))
        name = None
    else:
        if 'type_error' in data:
            raise TypeError(str(data['type_error']))
        if 'class_failed' in data:
            raise CheckFailed(*(data['class_failed'].get(k) for k in
                                ('headline', 'where', 'expected', 'got', 'hint')))
        inputs = grading_inputs(seed)
        student = Recorded(data, inputs)
        name = student.name

        def judged():
            _not_the_library(student, BLOCK_CHECKS[check_name][1])
            BLOCK_CHECKS[check_name][0](student, inputs)
    import contextlib
    import io
    printed = io.StringIO()
    before = npx.is_np_shape(), npx.is_np_array()
    npx.set_np()
    try:
        with contextlib.redirect_stdout(printed):
            judged()
    except CheckFailed as failure:
        failure.check = f'{check_name}({name})' if name else check_name
        raise
    finally:
        npx.set_np(shape=before[0], array=before[1])
    return printed.getvalue()
