"""The exercise checks: the reference blocks pass, and wrong answers students really write fail.

Every wrong answer below is a small variation of the reference. Each must make its check raise an
AssertionError whose message names the setting and contains the expected words, so a student sees
what is wrong, not just that something is.
"""
import re

import pytest

import d2lutils  # noqa: F401  (sets MXNet's thread count first)
import mxnet as mx
from mxnet import npx
from mxnet.gluon import nn

from d2lutils import inspection, models, walker
from d2lutils.exercises import checks

npx.set_np()


# --------------------------------------------------------------------------- bottleneck answers
class BottleneckBase(nn.HybridBlock):
    """The reference bottleneck, written out with switches for the mistakes below."""
    stride_on = 'conv1'     # 'conv1', 'conv2', 'conv3', 'shortcut', 'both'
    expansion = 4           # num_channels // expansion is the inner width
    inner_from_output = True  # False: inner = num_channels, output = 4 * num_channels
    shortcut = True
    relu_after_add = True
    relu_before_add = False
    project = True          # False: ignore use_1x1conv (no projection)
    projection_bn = True
    bias = False

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        inner = num_channels // self.expansion if self.inner_from_output else num_channels
        out = num_channels if self.inner_from_output else 4 * num_channels
        s = {k: (strides if k == self.stride_on or (self.stride_on == 'both' and k in ('conv1', 'conv2'))
                 else 1) for k in ('conv1', 'conv2', 'conv3')}
        self.conv1 = nn.Conv2D(inner, 1, strides=s['conv1'], use_bias=self.bias)
        self.bn1 = nn.BatchNorm()
        self.conv2 = nn.Conv2D(inner, 3, strides=s['conv2'], padding=1, use_bias=self.bias)
        self.bn2 = nn.BatchNorm()
        self.conv3 = nn.Conv2D(out, 1, strides=s['conv3'], use_bias=self.bias)
        self.bn3 = nn.BatchNorm()
        self.conv4 = self.bn4 = None
        if use_1x1conv and self.project:
            self.conv4 = nn.Conv2D(out, 1, strides=strides, use_bias=self.bias)
            if self.projection_bn:
                self.bn4 = nn.BatchNorm()
        self.relu = nn.Activation('relu')

    def hybrid_forward(self, F, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if self.relu_before_add:
            y = self.relu(y)
        if self.conv4 is not None:
            x = self.conv4(x)
            if self.bn4 is not None:
                x = self.bn4(x)
        if self.shortcut:
            y = y + x
        return self.relu(y) if self.relu_after_add else y


class BottleneckBNAfterAdd(nn.HybridBlock):
    """The last batch norm moved from the branch's end to after the addition: relu(BN(conv3(.) + x))."""
    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        inner = num_channels // 4
        self.conv1 = nn.Conv2D(inner, 1, strides=strides, use_bias=False)
        self.bn1 = nn.BatchNorm()
        self.conv2 = nn.Conv2D(inner, 3, padding=1, use_bias=False)
        self.bn2 = nn.BatchNorm()
        self.conv3 = nn.Conv2D(num_channels, 1, use_bias=False)
        self.bn_add = nn.BatchNorm()
        self.conv4 = self.bn4 = None
        if use_1x1conv:
            self.conv4 = nn.Conv2D(num_channels, 1, strides=strides, use_bias=False)
            self.bn4 = nn.BatchNorm()
        self.relu = nn.Activation('relu')

    def hybrid_forward(self, F, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.conv3(y)
        if self.conv4 is not None:
            x = self.bn4(self.conv4(x))
        return self.relu(self.bn_add(y + x))


def variant(base, **attrs):
    return type(f'Bottleneck_{"_".join(attrs)}', (base,), attrs)


class BottleneckNoInit(nn.HybridBlock):
    """The students' version's stub."""
    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        raise NotImplementedError()


class BottleneckNoForward(BottleneckBase):
    def hybrid_forward(self, F, x):
        raise NotImplementedError()


class BottleneckNoUse1x1(nn.HybridBlock):
    """Wrong constructor: no use_1x1conv argument."""
    def __init__(self, num_channels, strides=1, **kwargs):
        super().__init__(**kwargs)


class BottleneckUnusedProjection(BottleneckBase):
    """Creates the projection but forgets to apply it (channels equal, so shapes still agree)."""
    def hybrid_forward(self, F, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + x)


class BottleneckCrashes(BottleneckBase):
    """A layer whose declared input width does not match: MXNet fails inside the forward pass."""
    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(num_channels, use_1x1conv, strides, **kwargs)
        self.conv2 = nn.Conv2D(num_channels // 4, kernel_size=3, padding=1, in_channels=3)


def bottleneck_function(num_channels, use_1x1conv=False, strides=1):
    return models.Bottleneck(num_channels, use_1x1conv, strides)


WRONG_BOTTLENECKS = {
    'no shortcut': (variant(BottleneckBase, shortcut=False), 'no shortcut'),
    'expansion not x4 (inner = num_channels // 2)': (variant(BottleneckBase, expansion=2),
                                                     'parameters'),
    'num_channels taken as the inner width, output x4': (variant(BottleneckBase, inner_from_output=False),
                                                         'OUTPUT width'),
    'stride on the last 1x1 convolution': (variant(BottleneckBase, stride_on='conv3'),
                                           'three quarters'),
    'stride only on the shortcut': (variant(BottleneckBase, stride_on='shortcut'), 'halve height'),
    'stride on both the first 1x1 and the 3x3': (variant(BottleneckBase, stride_on='both'),
                                                 'halve height'),
    'projection missing when channels change': (variant(BottleneckBase, project=False),
                                                'must be a 1x1 convolution'),
    'projection created but not used': (BottleneckUnusedProjection, 'use_1x1conv=True the shortcut'),
    'projection without batch norm': (variant(BottleneckBase, projection_bn=False), 'parameters'),
    'no ReLU after the addition': (variant(BottleneckBase, relu_after_add=False), 'no ReLU after'),
    'ReLU before the addition': (variant(BottleneckBase, relu_before_add=True), 'before the addition'),
    'BN after the addition': (BottleneckBNAfterAdd, 'BN after the addition instead of after the '
                                                    'last 1x1 convolution'),
    'stub: __init__ not written': (BottleneckNoInit, 'NotImplementedError'),
    'stub: forward not written': (BottleneckNoForward, 'NotImplementedError'),
    'constructor without use_1x1conv': (BottleneckNoUse1x1, 'num_channels, use_1x1conv=False'),
    'a crash inside MXNet': (BottleneckCrashes, 'raised'),
}


# --------------------------------------------------------------------------- pre-activation answers
class PreActBase(nn.HybridBlock):
    """The reference pre-activation block, with switches for the mistakes below."""
    shortcut = True
    relu_after_add = False
    post_activation = False     # conv-BN-ReLU order inside (v1 order without the last ReLU)
    projection_from_raw = False
    relu_only = False           # ReLU-only pre-activation: no BN before the first conv
    bias = False

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.bn1 = nn.BatchNorm()
        self.conv1 = nn.Conv2D(num_channels, 3, strides=strides, padding=1, use_bias=self.bias)
        self.bn2 = nn.BatchNorm()
        self.conv2 = nn.Conv2D(num_channels, 3, padding=1, use_bias=self.bias)
        self.conv3 = (nn.Conv2D(num_channels, 1, strides=strides, use_bias=self.bias)
                      if use_1x1conv else None)
        self.relu = nn.Activation('relu')

    def hybrid_forward(self, F, x):
        if self.post_activation:
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            shortcut = self.conv3(x) if self.conv3 is not None else x
        else:
            pre = self.relu(x) if self.relu_only else self.relu(self.bn1(x))
            y = self.conv2(self.relu(self.bn2(self.conv1(pre))))
            source = x if self.projection_from_raw else pre
            shortcut = self.conv3(source) if self.conv3 is not None else x
        if self.shortcut:
            y = y + shortcut
        return self.relu(y) if self.relu_after_add else y


class PreActBNAfterAdd(PreActBase):
    """BN after the addition: bn2 moved from before conv2 to after the sum."""
    def hybrid_forward(self, F, x):
        pre = self.relu(self.bn1(x))
        y = self.conv2(self.relu(self.conv1(pre)))
        shortcut = self.conv3(pre) if self.conv3 is not None else x
        return self.bn2(y + shortcut)


class PreActVersionOne(PreActBase):
    """The classic v1 basic block passed to the v2 check (conv-BN-ReLU, ReLU after addition)."""
    def hybrid_forward(self, F, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = self.conv3(x) if self.conv3 is not None else x
        return self.relu(y + shortcut)


class PreActReLUOnlyWithExtraBN(PreActBase):
    """ReLU-only pre-activation: relu-conv-BN-relu-conv-BN (same parameter count as the reference
    when the input width equals the output width)."""
    def hybrid_forward(self, F, x):
        pre = self.relu(x)
        y = self.bn1(self.conv1(pre))
        y = self.bn2(self.conv2(self.relu(y)))
        shortcut = self.conv3(pre) if self.conv3 is not None else x
        return y + shortcut


FIRST_CONV_RAW = 'no BN -> ReLU between the input x and the first 3x3 convolution'
WRONG_PREACTS = {
    'no shortcut': (variant(PreActBase, shortcut=False), 'no shortcut'),
    'ReLU after the addition': (variant(PreActBase, relu_after_add=True),
                                'an extra ReLU after the addition'),
    'BN after the addition': (PreActBNAfterAdd, ''),
    'post-activation order inside the branch': (variant(PreActBase, post_activation=True),
                                                FIRST_CONV_RAW),
    'v1 block passed to the v2 check': (PreActVersionOne, FIRST_CONV_RAW),
    'projection from the raw input': (variant(PreActBase, projection_from_raw=True),
                                      "no BN -> ReLU between the input x and the shortcut's 1x1"),
    'ReLU-only pre-activation': (PreActReLUOnlyWithExtraBN, ''),
    'ReLU-only pre-activation, no first BN': (variant(PreActBase, relu_only=True), 'parameter'),
    'stub: __init__ not written': (BottleneckNoInit, 'NotImplementedError'),
    'constructor without use_1x1conv': (BottleneckNoUse1x1, 'num_channels, use_1x1conv=False'),
}


# --------------------------------------------------------------------------- tests
def report_lines(out):
    """The pass report's lines, after checking that none is longer than checks.WIDTH: JupyterLab
    wraps a longer output line at any character, even inside a number."""
    lines = out.splitlines()
    assert max(map(len, lines)) <= checks.WIDTH, out
    return lines


def test_reference_bottleneck_passes(capsys):
    checks.check_bottleneck(models.Bottleneck)
    lines = report_lines(capsys.readouterr().out)
    assert lines[0].startswith('check_bottleneck(Bottleneck): passed, 4 settings')
    # each setting on a line, its figures (whole) indented on the next. By hand: 16*4 + 4*4*9 +
    # 4*16 + 16*16 weights and 2*(4 + 4 + 16 + 16) BN scalars = 608; multiply-adds 8,448
    # (bottleneck_macs, below)
    at = lines.index('  Bottleneck(16, use_1x1conv=True, strides=2) on an input (4, 16, 8, 8):')
    assert lines[at + 1] == '    output (4, 16, 4, 4), 608 parameters, 8,448 multiply-adds per example'
    assert sum(line.startswith('  Bottleneck(') for line in lines) == len(checks.SETTINGS)
    assert any(line.startswith('Checked: output shapes;') for line in lines)


def test_reference_preact_passes(capsys):
    checks.check_preact(models.PreActResidual)
    lines = report_lines(capsys.readouterr().out)
    assert lines[0].startswith('check_preact(PreActResidual): passed, 4 settings')
    at = lines.index('  PreActResidual(16, use_1x1conv=False, strides=1) on an input (4, 16, 8, 8):')
    # by hand: two 3x3 convolutions 16->16 (2 * 2,304 weights) and two BNs (2 * 32) = 4,672
    assert lines[at + 1] == '    output (4, 16, 8, 8), 4,672 parameters'
    assert sum(line.startswith('  PreActResidual(') for line in lines) == len(checks.SETTINGS)
    assert any(line.startswith('Checked: output shapes;') for line in lines)


@pytest.mark.parametrize('check, base, biases', [
    # the first setting (16 channels, identity shortcut): the convolutions' output channels
    (checks.check_bottleneck, BottleneckBase, 4 + 4 + 16),
    (checks.check_preact, PreActBase, 16 + 16)])
def test_a_block_with_convolution_biases_passes_and_is_told_how_many(check, base, biases, capsys):
    check(variant(base, bias=True))
    lines = report_lines(capsys.readouterr().out)
    noted = [line for line in lines if 'of them convolution biases' in line]
    assert len(noted) == len(checks.SETTINGS) and f', {biases} of them convolution biases' in noted[0]


def test_bottleneck_v15_stride_on_3x3_is_accepted_with_a_note(capsys):
    checks.check_bottleneck(variant(BottleneckBase, stride_on='conv2'))
    assert 'ResNet v1.5' in capsys.readouterr().out


def bottleneck_macs(in_channels, num_channels, size, strides, stride_on):
    """Multiply-adds per example of a bottleneck block with the stride on 'conv1' or on 'conv3x3',
    counted by hand: 1x1 reduce, 3x3, 1x1 expand, and the 1x1 projection when there is one."""
    inner, out = num_channels // 4, -(-size // strides)
    first = out if stride_on == 'conv1' else size
    macs = first * first * inner * in_channels + out * out * (9 * inner * inner + num_channels * inner)
    if in_channels != num_channels or strides != 1:
        macs += out * out * num_channels * in_channels
    return macs


def test_the_check_knows_where_the_reference_puts_the_stride():
    """The references the check measures the stride against cost what a hand count says: the
    library's block (stride on the first 1x1) and the check's "ResNet v1.5" variant (on the 3x3)."""
    from mxnet import np
    for s in checks.SETTINGS:
        for cls, stride_on in ((models.Bottleneck, 'conv1'), (checks.BottleneckV15, 'conv3x3')):
            block = cls(s.num_channels, s.use_1x1conv, s.strides)
            block.initialize()
            x = np.zeros(s.input_shape)
            with walker.recording(block) as record:
                block(x)
            expected = bottleneck_macs(s.in_channels, s.num_channels, checks.SIZE, s.strides,
                                       stride_on)
            assert walker.macs_per_example(record.calls) == expected
            assert inspection.count_macs(block, s.input_shape) == expected


@pytest.mark.parametrize('mistake', list(WRONG_BOTTLENECKS))
def test_wrong_bottleneck_fails(mistake):
    cls, words = WRONG_BOTTLENECKS[mistake]
    with pytest.raises(AssertionError) as info:
        checks.check_bottleneck(cls)
    message = " ".join(str(info.value).split())
    assert words in message, message
    assert info.value.__cause__ is None and info.value.__suppress_context__ or \
        info.value.__context__ is None, 'the message should not chain a traceback'
    if 'constructor' not in mistake and 'stub' not in mistake:
        assert re.search(r'\w+\(\d+, use_1x1conv=(True|False), strides=\d\)', message), message


@pytest.mark.parametrize('mistake', list(WRONG_PREACTS))
def test_wrong_preact_fails(mistake):
    cls, words = WRONG_PREACTS[mistake]
    with pytest.raises(AssertionError) as info:
        checks.check_preact(cls)
    message = " ".join(str(info.value).split())
    assert words in message, message
    if 'constructor' not in mistake and 'stub' not in mistake:
        assert re.search(r'\w+\(\d+, use_1x1conv=(True|False), strides=\d\)', message), message


@pytest.mark.parametrize('not_a_class', [models.Bottleneck(16), bottleneck_function, 'Bottleneck'])
def test_non_class_gets_a_plain_type_error(not_a_class):
    with pytest.raises(TypeError, match='expects your class itself'):
        checks.check_bottleneck(not_a_class)
    with pytest.raises(TypeError, match='expects your class itself'):
        checks.check_preact(not_a_class)


def test_class_that_is_not_a_block():
    class Plain:
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            pass
    with pytest.raises(AssertionError, match='not a Gluon block'):
        checks.check_bottleneck(Plain)


def test_check_resnet_accepts_the_library_network(capsys):
    checks.check_resnet(models.resnet(50, num_classes=1000), 50, image_size=64)
    assert 'passed' in capsys.readouterr().out


def test_check_resnet_rejects_a_wrong_depth():
    with pytest.raises(AssertionError, match='parameters'):
        checks.check_resnet(models.resnet(18, num_classes=1000), 34, image_size=64)


# --------------------------------------------------------------------------- the check's machinery
class FailingOp(mx.operator.CustomOp):
    """An operator whose failure MXNet reports asynchronously, when the result is waited for."""

    def forward(self, is_train, req, in_data, out_data, aux):
        raise ValueError('this operator always fails')


@mx.operator.register('d2lutils_test_failing')
class FailingOpProp(mx.operator.CustomOpProp):
    def list_arguments(self):
        return ['data']

    def list_outputs(self):
        return ['output']

    def infer_shape(self, in_shape):
        return in_shape, in_shape, []

    def create_operator(self, ctx, shapes, dtypes):
        return FailingOp()


class BottleneckAsyncFailure(models.Bottleneck):
    def hybrid_forward(self, F, x):
        y = super().hybrid_forward(F, x)
        return mx.nd.Custom(y.as_nd_ndarray(), op_type='d2lutils_test_failing').as_np_ndarray()


def test_an_asynchronous_error_is_blamed_on_the_forward_pass():
    """MXNet reports some errors only when the result is read: the check waits for the forward
    pass's result inside its try, so the message says forward, not backward."""
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_bottleneck(BottleneckAsyncFailure)
    assert info.value.headline == 'the forward pass raised MXNetError', str(info.value)
    assert 'backward' not in str(info.value)


def test_a_check_with_no_settings_fails(monkeypatch):
    monkeypatch.setattr(checks, 'SETTINGS', ())
    for check, block in ((checks.check_bottleneck, models.Bottleneck),
                         (checks.check_preact, models.PreActResidual)):
        with pytest.raises(checks.CheckFailed, match='no setting was checked'):
            check(block)


class BottleneckTurnsNumpyOff(models.Bottleneck):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        npx.reset_np()


def test_a_block_that_turns_numpy_mode_off_does_not_leave_it_off():
    try:
        checks.check_bottleneck(BottleneckTurnsNumpyOff)
    finally:
        numpy_mode = npx.is_np_array(), npx.is_np_shape()
        npx.set_np()
    assert numpy_mode == (True, True)


def test_the_check_leaves_legacy_mode_as_it_found_it(capsys):
    npx.reset_np()
    try:
        checks.check_preact(models.PreActResidual)
        legacy = not npx.is_np_array() and not npx.is_np_shape()
    finally:
        npx.set_np()
    assert legacy and 'passed' in capsys.readouterr().out


STUB_NOTE = 'not written yet: replace the `raise NotImplementedError()` in the cell that defines'


@pytest.mark.parametrize('check', [checks.check_bottleneck, checks.check_preact])
@pytest.mark.parametrize('stub, method', [
    (BottleneckNoInit, 'BottleneckNoInit.__init__'),
    (BottleneckNoForward, 'BottleneckNoForward.hybrid_forward')])
def test_a_stub_is_not_written_yet(check, stub, method):
    with pytest.raises(checks.CheckFailed) as info:
        check(stub)
    assert info.value.headline == f'{STUB_NOTE} {method}'


class BottleneckMisspelledForward(models.Bottleneck):
    hybrid_forward = nn.HybridBlock.hybrid_forward  # as if the student's method had another name


def test_a_block_without_forward_method_is_told_so():
    with pytest.raises(checks.CheckFailed, match='NotImplementedError from Gluon itself') as info:
        checks.check_bottleneck(BottleneckMisspelledForward)
    assert 'hybrid_forward(self, F, x)' in str(info.value)


def test_check_resnet_names_a_stub():
    class StubStage(nn.HybridBlock):
        def hybrid_forward(self, F, x):
            raise NotImplementedError()
    net = nn.HybridSequential()
    net.add(StubStage())
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_resnet(net, 50, image_size=32)
    assert info.value.headline == (f'{STUB_NOTE} test_check_resnet_names_a_stub.<locals>.'
                                   'StubStage.hybrid_forward')


class ABottleneckWithAVeryLongClassNameIndeed(variant(BottleneckBase, relu_after_add=False)):
    pass


def _failure(check, cls):
    with pytest.raises(checks.CheckFailed) as info:
        check(cls)
    return info.value


REPORTS = [(checks.check_bottleneck, ABottleneckWithAVeryLongClassNameIndeed),
           (checks.check_bottleneck, variant(BottleneckBase, expansion=2)),
           (checks.check_bottleneck, variant(BottleneckBase, stride_on='conv3')),
           (checks.check_preact, PreActVersionOne)]


@pytest.mark.parametrize('check, cls', REPORTS, ids=lambda v: getattr(v, '__name__', ''))
def test_a_failure_reads_well_in_80_columns(check, cls):
    failure = _failure(check, cls)
    text = str(failure)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), text
    assert lines[0].startswith(f'{check.__name__}({cls.__name__}) failed: '), text
    labels = [line.split(':')[0].strip() for line in lines if line.startswith('  ') and
              not line.startswith('   ')]
    assert labels[0] == 'setting' and labels[-1] == 'hint', text
    if len(cls.__name__) < 20:
        setting = re.search(r'\w+\(\d+, use_1x1conv=(True|False), strides=\d\)', text)
        assert setting, 'a short setting must not be broken across lines:\n' + text
    flat = ' '.join(text.split())
    numbers = re.findall(r'\d[\d,.]*\d|\d', flat)
    assert re.findall(r'\d[\d,.]*\d|\d', text.replace('\n', ' ')) == numbers, \
        'a number was cut at a line end'


def test_ipython_shows_the_report_not_a_traceback():
    failure = _failure(checks.check_bottleneck, ABottleneckWithAVeryLongClassNameIndeed)
    rendered = failure._render_traceback_()
    assert all(isinstance(line, str) for line in rendered)
    assert [ANSI.sub('', line) for line in rendered] == str(failure).splitlines()
    assert ANSI.sub('', rendered[1]) == 'the addition'  # the whole headline in red
    assert not any('Traceback' in line or 'checks.py' in line for line in rendered)


def test_the_headline_matches_the_diagnosis():
    failure = _failure(checks.check_bottleneck, variant(BottleneckBase, relu_after_add=False))
    assert failure.headline == 'no ReLU after the addition'
    assert 'shortcut does not carry' not in str(failure)


ANSI = re.compile(r'\x1b\[[0-9;]*m')
IPYTHON_SESSION = '''
import d2lutils
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
for cell in ["from mxnet import npx\\nnpx.set_np()\\n"
             "from d2lutils import models\\nfrom d2lutils.exercises import checks",
             "class Stub(models.Bottleneck):\\n    def __init__(self, *a, **k):\\n"
             "        raise NotImplementedError()",
             "checks.check_bottleneck(Stub)",
             "def resnet_from_spec(block):\\n    raise NotImplementedError()",
             "net = resnet_from_spec(Stub)",
             "raise NotImplementedError('from the cell itself')"]:
    print('--- cell', shell.execution_count)
    shell.run_cell(cell, store_history=True)
'''


def test_in_ipython_a_stub_is_named_by_its_cell():
    """A real IPython shell (in its own process): a check failure shows the short report, a stub's
    NotImplementedError names the cell that defines it, in a check and in a plain cell alike."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, '-c', IPYTHON_SESSION], capture_output=True, text=True,
                         timeout=300).stdout
    cells = {number: ' '.join(ANSI.sub('', text).split())
             for number, text in (part.split('\n', 1) for part in out.split('--- cell ')[1:])}
    note = 'not written yet: replace the `raise NotImplementedError()` in cell'
    assert f'check_bottleneck(Stub) failed: {note} In[2] (Stub.__init__)' in cells['3'], cells['3']
    assert 'Traceback' not in cells['3'] and 'checks.py' not in cells['3'], cells['3']
    assert f'{note} In[4] (resnet_from_spec)' in cells['5'], cells['5']
    assert cells['6'] == f'{note} In[6]' and 'Traceback' not in cells['5'], cells['6']
