"""Checks for the exercise notebooks: a student's block against the library's reference block.

``check_bottleneck(cls)`` and ``check_preact(cls)`` take the student's CLASS (not an instance). Each
builds it for several (num_channels, use_1x1conv, strides) settings, runs it on a small random batch
and compares it with ``d2lutils.models.Bottleneck`` or ``d2lutils.models.PreActResidual``:

- the output shape;
- the number of trainable parameters, convolution biases not counted (a bias before batch norm is
  harmless, so both ``use_bias=True`` and ``use_bias=False`` pass);
- that every parameter took part in the forward pass, and that gradients reach the input;
- that the shortcut really carries the input: every convolution's weights are set to zero and every
  batch norm's shift (beta) to -0.5, so the residual branch becomes a known constant. The reference
  bottleneck then returns exactly ``relu(x - 0.5)`` (its branch ends with a batch norm), the
  pre-activation block exactly ``x`` (its branch ends with a convolution). A missing shortcut, a
  batch norm or a ReLU in the wrong place changes that output, and the message says which;
- bottleneck only: multiply-adds, which tell where the stride is. The reference puts it on the first
  1x1 convolution (the CVPR paper's models); on the 3x3 convolution ("ResNet v1.5") is accepted
  too; on the last 1x1 convolution (the 3x3 then runs at full resolution and three quarters of its
  outputs are thrown away) is not;
- pre-activation only: every convolution, the projection included, reads the output of a ReLU
  (non-negative values), i.e. the pre-activated input.

Passing prints what was checked. Failing raises ``AssertionError`` naming the setting, what was
expected, what came back and a hint. Passing something that is not a class raises ``TypeError``.

``check_resnet(net, depth)`` compares a whole network with ``models.resnet(depth, 1000)``;
``multiply_adds(net, x)`` counts the multiply-adds of a network's convolutions and dense layers.
"""
import dataclasses
import inspect
import math
import re

BATCH, SIZE = 4, 8
BRANCH_SHIFT = -0.5
SIGNATURE = '(num_channels, use_1x1conv=False, strides=1)'


@dataclasses.dataclass(frozen=True)
class Setting:
    """One way of building a block, and the input it is run on."""
    num_channels: int
    use_1x1conv: bool
    strides: int
    in_channels: int

    def describe(self, name):
        return (f'{name}({self.num_channels}, use_1x1conv={self.use_1x1conv}, '
                f'strides={self.strides}) on an input of shape {self.input_shape}')

    @property
    def input_shape(self):
        return (BATCH, self.in_channels, SIZE, SIZE)

    @property
    def identity(self):
        return not self.use_1x1conv


SETTINGS = (
    Setting(16, False, 1, in_channels=16),   # identity shortcut: shape kept
    Setting(16, True, 1, in_channels=8),     # channels change (like ResNet-50's first block, 64->256)
    Setting(32, True, 2, in_channels=16),    # channels and resolution change (first block of a stage)
    Setting(16, True, 2, in_channels=16),    # only the resolution changes
)


# --------------------------------------------------------------------------- small helpers
def _children(block):
    """A block's direct child blocks (Gluon 1.x keeps them in ``_children``)."""
    kids = []
    for child in block._children.values():
        child = child() if callable(child) and not hasattr(child, 'collect_params') else child
        kids.append(child)
    return kids


def _walk(block):
    """The block and all blocks under it, depth first."""
    yield block
    for child in _children(block):
        yield from _walk(child)


def _layers(block, kind):
    return [b for b in _walk(block) if isinstance(b, kind)]


def _size(shape):
    return math.prod(shape)


def _short(error):
    """The informative line of an exception's message (MXNet's carry a C++ traceback)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in reversed(lines):
        if 'Check failed' in line or 'Error' in line:
            return line.replace('MXNetError: ', '')
    return lines[-1] if lines else type(error).__name__


def _count(block):
    """Trainable parameters of ``block``, and of those, how many are convolution biases."""
    from mxnet.gluon import nn
    from d2lutils.models import count_parameters
    total = count_parameters(block)
    biases = sum(_size(conv.bias.shape) for conv in _layers(block, nn.Conv2D) if conv.bias is not None)
    return total, biases


def _describe_layers(block):
    """One line per layer with parameters, e.g. 'Conv2D 1x1, 8->4, stride 2: 32 weights'."""
    from mxnet.gluon import nn
    lines = []
    for layer in _walk(block):
        if isinstance(layer, nn.Conv2D):
            out_c, in_c, kh, kw = layer.weight.shape
            stride = layer._kwargs['stride'][0]
            bias = ' + bias' if layer.bias is not None else ''
            lines.append(f'Conv2D {kh}x{kw}, {in_c}->{out_c}, stride {stride}: '
                         f'{_size(layer.weight.shape):,} weights{bias}')
        elif isinstance(layer, nn.BatchNorm):
            lines.append(f'BatchNorm over {layer.gamma.shape[0]} channels: '
                         f'{2 * layer.gamma.shape[0]:,} (gamma, beta)')
        elif isinstance(layer, nn.Dense):
            lines.append(f'Dense {layer.weight.shape[1]}->{layer.weight.shape[0]}')
    return lines


class _ConvRecorder:
    """Records, for every nn.Conv2D and nn.Dense call under a block: the layer, its input and output."""

    def __init__(self, block):
        from mxnet.gluon import nn
        self.calls, self.handles = [], []
        for layer in _walk(block):
            if isinstance(layer, (nn.Conv2D, nn.Dense)):
                self.handles.append(layer.register_forward_hook(self._hook))

    def _hook(self, layer, inputs, output):
        self.calls.append((layer, inputs[0], output))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.detach()


def _macs(calls):
    """Multiply-adds of recorded convolution / dense calls, per example."""
    from mxnet.gluon import nn
    total = 0
    for layer, _, output in calls:
        if isinstance(layer, nn.Conv2D):
            out_c, in_per_group, kh, kw = layer.weight.shape
            total += _size(output.shape[1:]) * in_per_group * kh * kw
        else:
            total += _size(layer.weight.shape)
    return total


def multiply_adds(net, x):
    """Multiply-adds per example of ``net``'s convolutions and dense layers on input ``x``.

    Runs ``net`` once (not hybridized: hooks see only blocks that run in Python). Batch norm, ReLU,
    pooling and additions are left out, as in the paper's Table 1.
    """
    with _ConvRecorder(net) as rec:
        net(x)
    return _macs(rec.calls)


# --------------------------------------------------------------------------- the steps of a check
def _require_class(cls, check_name, expected):
    from mxnet import gluon
    if not inspect.isclass(cls):
        if isinstance(cls, gluon.Block):
            got = f'an instance of {type(cls).__name__} (a block already built)'
        elif callable(cls):
            got = f'the function {getattr(cls, "__name__", cls)!r}'
        else:
            got = f'{type(cls).__name__} {cls!r}'
        raise TypeError(f'{check_name} expects your class itself, e.g. {check_name}({expected}) '
                        f'with no parentheses after {expected}; it got {got}.')
    if not issubclass(cls, gluon.Block):
        raise AssertionError(f'{cls.__name__} is a class but not a Gluon block: write '
                             f'class {cls.__name__}(nn.HybridBlock) (or nn.Block).')
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # pragma: no cover - builtins only
        return
    try:
        signature.bind(16)
        signature.bind(16, use_1x1conv=True, strides=2)
        signature.bind(16, True, 2)
    except TypeError:
        raise AssertionError(
            f'{cls.__name__} must be built like chapter 3\'s Residual: {cls.__name__}{SIGNATURE}. '
            f'Its constructor is {cls.__name__}{signature}.') from None
    for name, default in (('use_1x1conv', False), ('strides', 1)):
        param = signature.parameters.get(name)
        if param is not None and param.default is not inspect.Parameter.empty \
                and param.default != default:
            raise AssertionError(f'{cls.__name__}: the default of {name} should be {default!r}, '
                                 f'got {param.default!r} (the signature is {SIGNATURE}).')


def _build(cls, setting, name):
    """Build and initialize the block; a crash becomes a message that names the setting."""
    from mxnet import init
    where = setting.describe(name)
    try:
        block = cls(setting.num_channels, use_1x1conv=setting.use_1x1conv, strides=setting.strides)
    except NotImplementedError:
        raise AssertionError(f'{where}: __init__ raised NotImplementedError. Replace '
                             f'"raise NotImplementedError()" with your code.') from None
    except Exception as e:
        raise AssertionError(f'{where}: building it raised {type(e).__name__}: {_short(e)}') from None
    try:
        block.initialize(init.Xavier(), force_reinit=True)
    except Exception as e:
        raise AssertionError(f'{where}: initialize() raised {type(e).__name__}: {_short(e)}. '
                             'Hint: call super().__init__(**kwargs) first in __init__ and make '
                             'your layers attributes of the block.') from None
    return block


def _run(block, x, where, hint, setting=None):
    """Forward in training mode, recording the convolutions; a crash becomes a message."""
    from mxnet import autograd
    with _ConvRecorder(block) as rec:
        try:
            with autograd.train_mode():
                y = block(x)
        except NotImplementedError:
            raise AssertionError(f'{where}: the forward pass raised NotImplementedError. Replace '
                                 f'"raise NotImplementedError()" with your code.') from None
            if hasattr(y, 'wait_to_read'):
                y.wait_to_read()  # MXNet runs asynchronously: surface its errors here
        except Exception as e:
            raise AssertionError(f'{where}: the forward pass raised {type(e).__name__}: '
                                 f'{_short(e)}\nHint: {_shape_hint(e, setting) or hint}') from None
    return y, rec.calls


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


def _check_shape(y, expected, setting, where):
    got = tuple(getattr(y, 'shape', ()))
    if got == expected:
        return
    if not hasattr(y, 'shape'):
        raise AssertionError(f'{where}: expected an array of shape {expected}, the block returned '
                             f'{type(y).__name__}. Hint: return the sum of branch and shortcut.')
    hint = 'the output has num_channels channels and, with strides=2, half the height and width.'
    if len(got) == 4 and got[1] != expected[1]:
        hint = (f'num_channels ({setting.num_channels}) is the block\'s OUTPUT width; got {got[1]} '
                'channels.')
        if got[1] == 4 * setting.num_channels:
            hint += ' The inner width is num_channels // 4, not num_channels times 4.'
    elif len(got) == 4 and got[2:] != expected[2:]:
        hint = (f'height and width should be {expected[2:]} with strides={setting.strides}: apply '
                'the stride once in the branch and once in the projection, nowhere else.')
    raise AssertionError(f'{where}: expected output shape {expected}, got {got}.\nHint: {hint}')


def _check_all_used(block, where):
    for pname, param in block.collect_params().items():
        if param._deferred_init or any(d <= 0 for d in param.shape):
            raise AssertionError(
                f'{where}: the parameter {pname} never took part in the forward pass (its shape is '
                f'still {param.shape}).\nHint: every layer created in __init__ must be used in the '
                'forward method, e.g. the projection of the shortcut when use_1x1conv=True.')


def _check_params(block, reference, where):
    total, biases = _count(block)
    expected, ref_biases = _count(reference)
    expected -= ref_biases
    if total - biases == expected:
        return total, biases
    mine = '\n    '.join(_describe_layers(block)) or '(no Conv2D, BatchNorm or Dense layer found)'
    ref = '\n    '.join(_describe_layers(reference))
    raise AssertionError(
        f'{where}: expected {expected:,} trainable parameters (the reference; convolution biases '
        f'not counted), got {total - biases:,} ({total - biases - expected:+,}).\n'
        f'  Your layers:\n    {mine}\n  The reference:\n    {ref}\n'
        'Hint: compare the two lists layer by layer (widths, kernel sizes, batch norms).')


def _check_gradient(block, x, where):
    from mxnet import autograd
    x = x.copy()
    x.attach_grad()
    try:
        with autograd.record():
            y = block(x)
        y.backward()
        grad = x.grad.asnumpy()
    except Exception as e:
        raise AssertionError(f'{where}: the backward pass raised {type(e).__name__}: {_short(e)}\n'
                             'Hint: use only MXNet operations (no .asnumpy(), no NumPy) in '
                             'the forward method.') from None
    import numpy as onp
    if not onp.isfinite(grad).all() or not onp.abs(grad).sum() > 0:
        raise AssertionError(f'{where}: no gradient reaches the input (x.grad is zero or not '
                             'finite).\nHint: do not detach, stop_gradient or convert to NumPy '
                             'inside the block.')


def _set_branch_constant(block):
    """Zero every convolution (weights and bias) and set every batch norm's beta to BRANCH_SHIFT."""
    from mxnet import np
    from mxnet.gluon import nn
    for conv in _layers(block, nn.Conv2D):
        for param in (conv.weight, conv.bias):
            if param is not None:
                param.set_data(np.zeros(param.shape))
    for bn in _layers(block, nn.BatchNorm):
        bn.gamma.set_data(np.ones(bn.gamma.shape))
        bn.beta.set_data(np.full(bn.beta.shape, BRANCH_SHIFT))


def _check_identity(block, x, expected, diagnoses, where, what):
    """With the branch made constant, the output must be ``expected`` (a NumPy array) exactly."""
    import numpy as onp
    from mxnet import autograd
    _set_branch_constant(block)
    with autograd.train_mode():
        y = block(x).asnumpy()
    if onp.allclose(y, expected, atol=1e-5):
        return
    diagnosis = next((text for candidate, text in diagnoses if onp.allclose(y, candidate, atol=1e-5)),
                     'something between the addition and the output changes it, e.g. a batch '
                     'norm after the addition.')
    raise AssertionError(
        f'{where}: the shortcut does not carry the input. With every convolution set to zero and '
        f'every batch norm\'s beta to {BRANCH_SHIFT}, the block should return {what}; it returned '
        f'something else (first values: expected {_first(expected)}, got {_first(y)}).\n'
        f'Hint: {diagnosis}')


def _first(values, n=4):
    return '[' + ', '.join(f'{v:.3f}' for v in values.ravel()[:n]) + ', ...]'


def _inputs(setting):
    from mxnet import np
    import d2lutils
    d2lutils.seed_everything(0)
    return np.random.normal(0, 1, size=setting.input_shape)


def _report(check_name, name, reference, lines, checked):
    print(f'{check_name}({name}): passed, {len(lines)} settings, compared with '
          f'd2lutils.models.{reference}')
    for line in lines:
        print('  ' + line)
    print('Checked: ' + '; '.join(checked) + '.')


# --------------------------------------------------------------------------- the two checks
def bottleneck_macs(in_channels, num_channels, size, strides, stride_on):
    """Multiply-adds per example of a bottleneck block with the stride on 'conv1' or on 'conv3x3'."""
    inner, out = num_channels // 4, -(-size // strides)
    first = out if stride_on == 'conv1' else size
    macs = first * first * inner * in_channels + out * out * (9 * inner * inner + num_channels * inner)
    if in_channels != num_channels or strides != 1:
        macs += out * out * num_channels * in_channels
    return macs


def _common_checks(cls, reference_cls, setting, name, projection_hint):
    """The checks both blocks share, for one setting: shape, every layer used, parameter count
    against the reference, gradients reaching the input, and convolutions that really run.

    Returns what the block-specific checks need: (where, x, block, y, conv calls, the reference's
    conv calls, parameter total, bias count).
    """
    where = setting.describe(name)
    x = _inputs(setting)
    block = _build(cls, setting, name)
    reference = _build(reference_cls, setting, 'reference')
    y, calls = _run(block, x, where, 'the branch and the shortcut must have the same shape when '
                    'they are added: with use_1x1conv=True the shortcut is a 1x1 convolution to '
                    'num_channels with the same strides, ' + projection_hint, setting)
    ref_y, ref_calls = _run(reference, x, 'reference', '')
    _check_shape(y, ref_y.shape, setting, where)
    _check_all_used(block, where)
    total, biases = _check_params(block, reference, where)
    _check_gradient(block, x, where)
    if not calls:
        raise AssertionError(f'{where}: the check saw no nn.Conv2D layer run. Build the '
                             'convolutions with nn.Conv2D as attributes of the block, and do '
                             'not hybridize inside __init__.')
    return where, x, block, y, calls, ref_calls, total, biases


def check_bottleneck(cls):
    """Check a student's bottleneck block class against ``d2lutils.models.Bottleneck``."""
    import numpy as onp
    from d2lutils import models
    _require_class(cls, 'check_bottleneck', 'Bottleneck')
    name, lines, v15 = cls.__name__, [], False
    for setting in SETTINGS:
        where, x, block, y, calls, ref_calls, total, biases = _common_checks(
            cls, models.Bottleneck, setting, name, 'followed by batch norm.')
        macs, options = _macs(calls), {}
        for stride_on in ('conv1', 'conv3x3'):
            options[bottleneck_macs(setting.in_channels, setting.num_channels, SIZE,
                                    setting.strides, stride_on)] = stride_on
        if macs not in options:
            wasted = ('; a stride on the last 1x1 convolution (or after it) makes the 3x3 run at '
                      'full resolution and throws away three quarters of its outputs'
                      if setting.strides > 1 else '')
            raise AssertionError(
                f'{where}: the convolutions cost {macs:,} multiply-adds per example; expected '
                f'{_macs(ref_calls):,} (stride on the first 1x1 convolution, the reference) or '
                f'{max(options):,} (stride on the 3x3, "ResNet v1.5").\nHint: inner width '
                f'num_channels // 4 = {setting.num_channels // 4}; 1x1 reduce, 3x3, 1x1 expand'
                f'{wasted}.')
        v15 = v15 or (setting.strides > 1 and options[macs] == 'conv3x3')
        if setting.identity:
            xs = x.asnumpy()
            expected = onp.maximum(xs + BRANCH_SHIFT, 0)
            _check_identity(block, x, expected, [
                (onp.zeros_like(xs), 'the output is all zeros: the input is not added back '
                                     '(no shortcut), or a ReLU comes after the addition only.'),
                (xs + BRANCH_SHIFT, 'the output is the branch plus the input, with no ReLU after '
                                    'the addition; in ResNet v1 the ReLU comes after it.'),
                (onp.maximum(xs, 0), 'the branch cannot go negative: is there a ReLU after the last '
                                     'batch norm, before the addition? It belongs after it.'),
            ], where, 'relu(x - 0.5)')
        bias_note = f', {biases} of them convolution biases' if biases else ''
        lines.append(f'{where}: output {tuple(y.shape)}, {total:,} parameters{bias_note}, '
                     f'{macs:,} multiply-adds per example')
    checked = ['output shapes', 'parameter counts equal to the reference (convolution biases '
               'allowed)', 'every layer used', 'gradients reach the input',
               'the identity shortcut carries the input (output = relu(x + constant branch))',
               'multiply-adds (where the stride is)']
    _report('check_bottleneck', name, 'Bottleneck', lines, checked)
    if v15:
        print('Note: your stride is on the 3x3 convolution ("ResNet v1.5", as in torchvision); the '
              'reference puts it on the first 1x1 convolution, as in the paper. Both are accepted.')


def check_preact(cls):
    """Check a student's pre-activation block class against ``d2lutils.models.PreActResidual``."""
    import numpy as onp
    from d2lutils import models
    _require_class(cls, 'check_preact', 'PreActResidual')
    name, lines = cls.__name__, []
    for setting in SETTINGS:
        where, x, block, y, calls, _, total, biases = _common_checks(
            cls, models.PreActResidual, setting, name, 'applied to relu(bn1(x)).')
        for layer, conv_input, _ in calls:
            if float(conv_input.min()) < 0:
                k = layer.weight.shape[2]
                what = ('the projection reads the raw input x; in ResNet v2 it reads the '
                        'pre-activated input relu(bn1(x)), like the first 3x3 convolution'
                        if k == 1 else 'a convolution must come after BN and ReLU, not before')
                raise AssertionError(
                    f'{where}: a {k}x{k} convolution reads an input with negative values, so no '
                    f'ReLU comes right before it.\nHint: {what} (BN -> ReLU -> conv).')
        if setting.identity:
            xs = x.asnumpy()
            _check_identity(block, x, xs, [
                (onp.zeros_like(xs), 'the output is all zeros: the input is not added back (no '
                                     'shortcut).'),
                (onp.maximum(xs, 0), 'the output is relu(x): a ReLU comes after the addition. In '
                                     'ResNet v2 nothing follows the addition.'),
                (xs + BRANCH_SHIFT, 'the output is x plus a constant: the branch ends with a batch '
                                    'norm. In ResNet v2 it ends with the second convolution.'),
                (onp.maximum(xs + BRANCH_SHIFT, 0), 'this is the ResNet v1 order (conv-BN-ReLU, '
                                                    'ReLU after the addition).'),
            ], where, 'x itself')
        bias_note = f', {biases} of them convolution biases' if biases else ''
        lines.append(f'{where}: output {tuple(y.shape)}, {total:,} parameters{bias_note}')
    checked = ['output shapes', 'parameter counts equal to the reference (convolution biases '
               'allowed)', 'every layer used', 'gradients reach the input',
               'every convolution, the projection included, reads a ReLU output',
               'the identity shortcut carries the input unchanged (output = x when the branch is '
               'zero)']
    _report('check_preact', name, 'PreActResidual', lines, checked)


def check_resnet(net, depth, version=1, num_classes=1000, image_size=224):
    """Check a whole network against ``models.resnet(depth, num_classes, version)``.

    Compares the output shape on one 3-channel ``image_size`` image and the number of trainable
    parameters (convolution biases not counted). ``net`` must be initialized or initializable.
    """
    from mxnet import np, init
    from mxnet.gluon import Block
    from d2lutils import models
    if not isinstance(net, Block):
        raise TypeError(f'check_resnet expects a network (a Gluon block), got {type(net).__name__}.')
    import d2lutils
    d2lutils.seed_everything(0)
    x = np.random.uniform(size=(1, 3, image_size, image_size))
    reference = models.resnet(depth, num_classes=num_classes, version=version)
    reference.initialize(init.Xavier())
    where = f'your ResNet-{depth}'
    try:
        if any(p._data is None and not p._deferred_init for p in net.collect_params().values()):
            net.initialize(init.Xavier())
        y = net(x)
    except NotImplementedError:
        raise AssertionError(f'{where}: raised NotImplementedError. Replace "raise '
                             'NotImplementedError()" with your code.') from None
    except Exception as e:
        raise AssertionError(f'{where}: the forward pass raised {type(e).__name__}: '
                             f'{_short(e)}') from None
    expected_shape = reference(x).shape
    if tuple(y.shape) != tuple(expected_shape):
        raise AssertionError(f'{where}: expected output shape {expected_shape} for one '
                             f'{image_size}x{image_size} image, got {tuple(y.shape)}.')
    _check_all_used(net, where)
    total, biases = _count(net)
    expected, ref_biases = _count(reference)
    expected -= ref_biases
    if total - biases != expected:
        raise AssertionError(
            f'{where}: expected {expected:,} trainable parameters (convolution biases not counted), '
            f'got {total - biases:,} ({total - biases - expected:+,}).\nHint: Table 1: blocks per '
            f'stage {models.RESNET_SPEC[depth][1]}; the first block of every stage projects, with '
            'stride 1 in the first stage (after the max-pooling) and 2 in the others.')
    print(f'check_resnet: passed. Output {tuple(y.shape)}, {expected:,} trainable parameters '
          f'(convolution biases not counted), as d2lutils.models.resnet({depth}).')
