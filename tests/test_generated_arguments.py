"""Every public function, called with generated bad arguments: it works, or it refuses by name.

The public functions are what the package itself declares (``arguments.PUBLIC``: every function
decorated with ``@arguments.checked``), what its docstrings say a chapter or an exercise uses, and
what the chapters, the exercise solutions and the benchmarks call; a function in any of these
without a case below fails ``test_every_public_function_has_a_case``.

For each case, Hypothesis replaces one argument of a valid call with a generated value (wrong
types, classes where instances belong, NaN, infinities, zero and negative numbers, strings, lists,
dicts, a GPU that is not there) and the call must either

- raise the library's own ``ArgumentError`` whose message names that parameter,
- or, for a value of the kind the parameter takes (see ``plausible``), work, or raise that error;

never a raw MXNet, NumPy or Python error, never a hang (a call has ``CALL_LIMIT`` seconds), never a
result for a value of the wrong kind. The exercise checks may also give their verdict
(``CheckFailed``): for them a wrong class is the student's mistake, reported as such.

``D2LUTILS_GENERATED_LOG=path`` appends one line per generated call (function, parameter, value,
outcome) and turns the assertion off, so the same cases can be replayed against an older version
of the package to count what it got wrong.
"""
import ast
import contextlib
import dataclasses
import functools
import importlib
import inspect
import io
import json
import math
import numbers
import os
import pathlib
import pkgutil
import re
import signal
import warnings

import matplotlib
import mxnet as mx
import numpy as onp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from mxnet import gluon, np, npx
from mxnet.gluon import nn

import d2lutils
from d2lutils import arguments

npx.set_np()
matplotlib.use('Agg')

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEBIAN = '/usr/share/datasets/fashion-mnist'
CALL_LIMIT = 30  # seconds; the valid calls below take well under one
# Generated calls per public function: few, to keep the suite fast; more by hand, e.g.
# D2LUTILS_GENERATED_EXAMPLES=12 (672 calls, the count reported in issue 21).
EXAMPLES = int(os.environ.get('D2LUTILS_GENERATED_EXAMPLES', '5'))
LOG = os.environ.get('D2LUTILS_GENERATED_LOG')
ArgumentError = getattr(arguments, 'ArgumentError', (TypeError, ValueError))  # older versions: either


def modules():
    """Every module of the package (the command lines' __main__ modules aside)."""
    found = {}
    for info in pkgutil.walk_packages(d2lutils.__path__, 'd2lutils.'):
        if not info.name.endswith('__main__'):
            found[info.name] = importlib.import_module(info.name)
    return found


# --- which functions are public ------------------------------------------------------------------

def documented_as_used():
    """Module-level functions and classes whose docstring names a chapter or exercise that uses them."""
    names = set()
    for module_name, module in modules().items():
        for name, obj in vars(module).items():
            if name.startswith('_') or getattr(obj, '__module__', None) != module_name:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            doc = inspect.getdoc(obj) or ''
            if re.search(r'\b(Used|Shown) in (the [\w-]+ exercise|chapters? \d)', doc):
                names.add(f'{module_name}.{name}' + ('.__init__' if inspect.isclass(obj) else ''))
    return names


def _code_of(path):
    """The Python code of a notebook's code cells or of a script (IPython magics left out)."""
    if path.suffix == '.ipynb':
        cells = json.loads(path.read_text())['cells']
        sources = [''.join(c['source']) for c in cells if c['cell_type'] == 'code']
    else:
        sources = [path.read_text()]
    code = []
    for source in sources:
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(('%', '!'))]
        try:
            code.append(ast.parse('\n'.join(lines)))
        except SyntaxError:
            continue
    return code


def called_from_outside():
    """``module.function`` names the chapters, exercise solutions and benchmarks call."""
    known = modules()
    paths = (sorted((ROOT / 'chapters').glob('*.ipynb'))
             + sorted((ROOT / 'chapters' / 'exercises' / 'solutions').glob('*.ipynb'))
             + sorted((ROOT / 'benchmarks').glob('*.py')))
    names = set()
    for path in paths:
        for tree in _code_of(path):
            aliases = {'d2lutils': 'd2lutils'}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('d2lutils'):
                    for alias in node.names:
                        aliases[alias.asname or alias.name] = f'{node.module}.{alias.name}'
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.startswith('d2lutils'):
                            aliases[alias.asname or alias.name] = alias.name
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                parts, func = [], node.func
                while isinstance(func, ast.Attribute):
                    parts.insert(0, func.attr)
                    func = func.value
                if not isinstance(func, ast.Name) or func.id not in aliases:
                    continue
                dotted = '.'.join([aliases[func.id]] + parts)
                module_name, _, name = dotted.rpartition('.')
                module = known.get(module_name)
                obj = getattr(module, name, None) if module else None
                if module is None and dotted.count('.') >= 1:  # e.g. d2lutils.get_profile
                    obj = getattr(d2lutils, name, None) if module_name == 'd2lutils' else None
                if obj is None or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                    continue
                qualified = f'{obj.__module__}.{obj.__qualname__}'
                names.add(qualified + ('.__init__' if inspect.isclass(obj) else ''))
    return names


def public_names():
    return set(getattr(arguments, 'PUBLIC', {})) | documented_as_used() | called_from_outside()


# --- tiny valid calls ------------------------------------------------------------------------------

class Reached(Exception):
    """Raised by a stand-in for the slow part of a function: its arguments were accepted."""


def reached(*args, **kwargs):
    raise Reached


def tiny_net(outputs=10):
    net = nn.HybridSequential()
    net.add(nn.Conv2D(2, kernel_size=3, padding=1), nn.BatchNorm(), nn.GlobalAvgPool2D(),
            nn.Dense(outputs))
    return net


def ran_net():
    net = tiny_net()
    net.initialize(mx.init.Xavier())
    net(np.zeros((2, 1, 8, 8)))
    return net


def loader():
    X = np.array(onp.random.RandomState(0).uniform(size=(4, 1, 8, 8)).astype('float32'))
    return [(X, np.array([0, 1, 2, 3], dtype='int32'))]


def profile():
    return dataclasses.replace(d2lutils.get_profile('quick'), batch_size=4, train_subset=8,
                               test_subset=8)


def history():
    from d2lutils import training
    return training.History(devices=[mx.cpu()], train_loss=[1.0], train_acc=[0.5],
                            test_acc=[0.5], examples_per_sec=[1.0])


def run(net=None):
    from d2lutils import plain_vs_residual as pvr
    return pvr.Run(8, False, 0, history(), 1.0, net)


def trained_stacked_cnn():
    from d2lutils import plain_vs_residual as pvr
    net = pvr.stacked_cnn(8, widths=(2, 2, 2))
    net.initialize(mx.init.Xavier())
    net(np.zeros((2, 1, 8, 8)))
    return net


def mlp():
    from d2lutils import gradients
    net = gradients.deep_mlp(1, 4, 'relu')
    net.initialize()
    return net


def case(target, stubs=(), also=None, **kwargs):
    """A valid call: ``target(**kwargs)``; ``stubs``: (object, attribute) pairs replaced by
    ``reached``; ``also``: {parameter: kinds besides the valid value's that it takes}."""
    return target, kwargs, stubs, also or {}


def cases():
    """{public name: a function returning a valid call}; a new public function needs one here."""
    from d2lutils import (batchnorm, data, distributed, gpu, gradients, inspection, memory, models,
                          plain_vs_residual as pvr, plotting, profiles, schedules, seeding, stats,
                          training)
    import nbformat
    from d2lutils.exercises import checks, grading, students
    loss = gluon.loss.SoftmaxCrossEntropyLoss
    return {
        'd2lutils.batchnorm.BatchNorm.__init__': lambda: case(
            batchnorm.BatchNorm, num_features=3, momentum=0.0, epsilon=1e-5),
        'd2lutils.batchnorm.batch_norm': lambda: case(
            batchnorm.batch_norm, X=np.ones((2, 3)), gamma=np.ones((1, 3)), beta=np.zeros((1, 3)),
            moving_mean=np.zeros((1, 3)), moving_var=np.ones((1, 3)), eps=1e-5, momentum=0.0,
            training=True),
        'd2lutils.data.find_fashion_mnist': lambda: case(data.find_fashion_mnist, root=DEBIAN),
        'd2lutils.data.read_fashion_mnist': lambda: case(data.read_fashion_mnist, split='test',
                                                         root=DEBIAN),
        'd2lutils.data.text_labels': lambda: case(data.text_labels, also={'indices': {'other ndarray'}},
                                                  indices=[0, 9]),
        'd2lutils.data.load_fashion_mnist': lambda: case(
            data.load_fashion_mnist, stubs=[(data, 'read_fashion_mnist')], batch_size=4, resize=8, train_subset=8, test_subset=8,
            shuffle=False, root=DEBIAN),
        'd2lutils.data.load_with_profile': lambda: case(
            data.load_with_profile, stubs=[(data, 'read_fashion_mnist')], profile=profile(), shuffle=False, root=DEBIAN),
        'd2lutils.data.make_batchify': lambda: case(data.make_batchify, resize=8),
        'd2lutils.distributed.dmlc_environment': lambda: case(
            distributed.dmlc_environment, role='worker', port=9000, num_workers=1, num_servers=1),
        'd2lutils.distributed.run_local': lambda: case(
            distributed.run_local, stubs=[(distributed, 'free_port')], num_workers=1, steps=1,
            batch_size=1, lr=0.1, stem='small', width=1.0, examples=8, timeout=1.0),
        'd2lutils.exercises.students.nbgrader_meta': lambda: case(
            students.nbgrader_meta, cell={'cell_type': 'code', 'metadata': {}, 'source': ''}),
        'd2lutils.exercises.students.student_notebook': lambda: case(
            students.student_notebook, solution=nbformat.v4.new_notebook()),
        'd2lutils.exercises.grading.graded_cells': lambda: case(
            grading.graded_cells, nb=nbformat.v4.new_notebook()),
        'd2lutils.exercises.checks.check_bottleneck': lambda: case(
            checks.check_bottleneck, cls=models.Bottleneck),
        'd2lutils.exercises.checks.check_preact': lambda: case(
            checks.check_preact, cls=models.PreActResidual),
        'd2lutils.exercises.checks.check_resnet': lambda: case(
            checks.check_resnet, net=models.resnet(18), depth=18, version=1, num_classes=1000,
            image_size=32),
        'd2lutils.gpu.cuda_device': lambda: case(gpu.cuda_device, ordinal=0),
        'd2lutils.gpu.gpu_build_installed': lambda: case(gpu.gpu_build_installed),
        'd2lutils.gpu.unusable_gpu_message': lambda: case(
            gpu.unusable_gpu_message, gpus=[gpu.Gpu('GPU-0', 'a GPU', (9, 0))]),
        'd2lutils.gradients.deep_mlp': lambda: case(
            gradients.deep_mlp, num_hidden=0, width=4, activation='relu', num_outputs=10),
        'd2lutils.gradients.layer_grad_norms': lambda: case(
            gradients.layer_grad_norms, also={'loss': {'function'}}, net=mlp(),
            X=np.ones((2, 8)), y=np.array([0, 1]), loss=loss()),
        'd2lutils.inspection.activation_bytes': lambda: case(
            inspection.activation_bytes, net=tiny_net(), input_shape=(1, 8, 8)),
        'd2lutils.inspection.count_macs': lambda: case(
            inspection.count_macs, net=tiny_net(), input_shape=(1, 8, 8)),
        'd2lutils.inspection.parameter_counts': lambda: case(
            inspection.parameter_counts, net=tiny_net(), input_shape=(1, 8, 8)),
        'd2lutils.inspection.trace': lambda: case(
            inspection.trace, net=tiny_net(), input_shape=(1, 1, 8, 8)),
        'd2lutils.inspection.trace_table': lambda: case(
            inspection.trace_table, net=tiny_net(), input_shape=(1, 1, 8, 8)),
        'd2lutils.inspection.zero_gradients': lambda: case(
            inspection.zero_gradients, net=ran_net(), X=np.ones((2, 1, 8, 8)), y=np.array([0, 1])),
        'd2lutils.memory.estimate_training_memory': lambda: case(
            memory.estimate_training_memory, net=tiny_net(), input_shape=(1, 8, 8), batch_size=2,
            optimizer_states=0),
        'd2lutils.memory.training_memory_breakdown': lambda: case(
            memory.training_memory_breakdown, net=tiny_net(), input_shape=(1, 8, 8), batch_size=2,
            optimizer_states=0),
        'd2lutils.memory.format_bytes': lambda: case(memory.format_bytes, n=0),
        'd2lutils.memory.measure_training_step_memory': lambda: case(
            memory.measure_training_step_memory, net=ran_net(), input_shape=(1, 8, 8),
            batch_size=2, num_steps=1, device=mx.cpu()),
        'd2lutils.memory.out_of_memory_advice': lambda: case(
            memory.out_of_memory_advice, batch_size=32, device=mx.cpu()),
        'd2lutils.memory.plan_batch': lambda: case(
            memory.plan_batch, also={'net': {'none'}}, net=tiny_net(), input_shape=(1, 8, 8), batch_size=16, lr=0.1,
            device=mx.cpu(), optimizer_states=0, headroom=0.8, min_batch_size=8, free=0.0,
            estimate=lambda net, shape, size: 1024 * size),
        'd2lutils.models.Residual.__init__': lambda: case(
            models.Residual, num_channels=4, use_1x1conv=False, strides=1),
        'd2lutils.models.Bottleneck.__init__': lambda: case(
            models.Bottleneck, num_channels=8, use_1x1conv=False, strides=1, stride_on='1x1'),
        'd2lutils.models.PreActResidual.__init__': lambda: case(
            models.PreActResidual, num_channels=4, use_1x1conv=False, strides=1),
        'd2lutils.models.PreActBottleneck.__init__': lambda: case(
            models.PreActBottleneck, num_channels=8, use_1x1conv=False, strides=1),
        'd2lutils.models.resnet_stage': lambda: case(
            models.resnet_stage, block_cls=models.Residual, num_channels=8, num_blocks=1,
            first_stage=True, in_channels=8),
        'd2lutils.models.resnet': lambda: case(
            models.resnet, depth=18, num_classes=10, version=1, stem='small', width=1.0),
        'd2lutils.models.widen': lambda: case(models.widen, channels=64, width=0.25),
        'd2lutils.models.count_parameters': lambda: case(
            models.count_parameters, net=ran_net(), trainable_only=True),
        'd2lutils.models.named_parameters': lambda: case(
            models.named_parameters, net=ran_net(), trainable_only=True),
        'd2lutils.plain_vs_residual.TwoConvBlock.__init__': lambda: case(
            pvr.TwoConvBlock, in_channels=2, channels=2, strides=1, residual=False),
        'd2lutils.plain_vs_residual.ZeroPadShortcut.__init__': lambda: case(
            pvr.ZeroPadShortcut, extra_channels=0, strides=1),
        'd2lutils.plain_vs_residual.accuracy_without_each_block': lambda: case(
            pvr.accuracy_without_each_block, stubs=[(training, 'evaluate_accuracy')],
            run=run(trained_stacked_cnn()), test_iter=loader()),
        'd2lutils.plain_vs_residual.branch_removed': lambda: case(
            pvr.branch_removed, block=pvr.TwoConvBlock(2, 2)),
        'd2lutils.plain_vs_residual.error_bands': lambda: case(
            pvr.error_bands, runs=[run()], curve='test'),
        'd2lutils.plain_vs_residual.setting_for': lambda: case(pvr.setting_for, profile='quick'),
        'd2lutils.plain_vs_residual.stacked_cnn': lambda: case(
            pvr.stacked_cnn, num_layers=8, residual=False, widths=(2, 2, 2), num_classes=10),
        'd2lutils.plain_vs_residual.train_side_by_side': lambda: case(
            pvr.train_side_by_side, stubs=[(training, 'train')],
            also={'optimizer_params': {'function'}}, depths=(8,), seeds=(0,),
            train_iter=loader(), test_iter=loader(), num_epochs=1, lr=0.1, device=mx.cpu(),
            optimizer_params={'momentum': 0.0}),
        'd2lutils.plain_vs_residual.two_conv_blocks': lambda: case(
            pvr.two_conv_blocks, net=pvr.stacked_cnn(8)),
        'd2lutils.plotting.show_images': lambda: case(
            plotting.show_images, imgs=[onp.zeros((4, 4))], num_rows=1, num_cols=1, titles=['a'],
            scale=1.0),
        'd2lutils.plotting.use_stable_svg': lambda: case(plotting.use_stable_svg),
        'd2lutils.profiles.Profile.lr_scheduler': lambda: case(
            profiles.PROFILES['cpu'].lr_scheduler, batches_per_epoch=4),
        'd2lutils.profiles.Profile.optimizer_params': lambda: case(
            profiles.PROFILES['cpu'].optimizer_params, batches_per_epoch=4),
        'd2lutils.profiles.get_profile': lambda: case(profiles.get_profile, name='quick'),
        'd2lutils.schedules.make_lr_scheduler': lambda: case(
            schedules.make_lr_scheduler, schedule='cosine', lr=0.1, total_steps=10,
            warmup_steps=0),
        'd2lutils.seeding.seed_everything': lambda: case(seeding.seed_everything, seed=0),
        'd2lutils.stats.mcnemar': lambda: case(
            stats.mcnemar, correct_a=[True, False], correct_b=[False, False]),
        'd2lutils.training.evaluate_accuracy': lambda: case(
            training.evaluate_accuracy, net=ran_net(), data_iter=loader(), devices=mx.cpu()),
        'd2lutils.training.model_devices': lambda: case(training.model_devices, net=ran_net()),
        'd2lutils.training.train': lambda: case(
            training.train, net=tiny_net(), train_iter=loader(), test_iter=loader(), num_epochs=1,
            lr=0.1, devices=mx.cpu(), optimizer_params={'momentum': 0.0}, hybridize=False,
            live_plot=False),
    }


CASES = cases()


def test_every_public_function_has_a_case():
    public = public_names()
    missing = sorted(public - set(CASES))
    assert not missing, f'public functions without a case in {__file__}: {missing}'
    if hasattr(arguments, 'PUBLIC'):
        undeclared = sorted(public - set(arguments.PUBLIC))
        assert not undeclared, f'public functions without @arguments.checked: {undeclared}'
        stale = sorted(set(CASES) - public)
        assert not stale, f'cases for functions that are not public (renamed?): {stale}'


def test_the_list_of_public_functions_can_fail(monkeypatch):
    """A function the package adds to its public ones without a case is noticed."""
    monkeypatch.setitem(arguments.PUBLIC, 'd2lutils.models.new_function', lambda: None)
    with pytest.raises(AssertionError, match='new_function'):
        test_every_public_function_has_a_case()


# --- the generated values and what counts as right -------------------------------------------------

def bad_values():
    """Wrong types and out-of-range values, fresh for each call (a block is changed by use)."""
    return st.one_of(
        st.none(), st.booleans(),
        st.integers(-1000, 0),
        st.floats(allow_nan=True, allow_infinity=True).filter(
            lambda x: not (math.isfinite(x) and x > 0 and x.is_integer())),
        st.sampled_from(['18', '', 'gpu', 'train', 'two', 'relu ']),
        st.text(max_size=4),
        st.lists(st.integers(-2, 3), max_size=3),
        st.tuples(st.integers(-2, 3)),
        st.dictionaries(st.sampled_from(['a', 'momentum', 'learning_rate']), st.integers(-1, 1),
                        max_size=2),
        st.sampled_from([gluon.loss.SoftmaxCrossEntropyLoss, mx.init.Xavier, nn.Dense, int, dict]),
        st.sampled_from([onp.int64(-1), onp.float32('nan'), onp.float64(2.5), onp.bool_(True)]),
        st.builds(lambda: onp.array([1, 2])),
        st.builds(lambda: np.array([1.0])),
        st.builds(lambda: nn.Dense(2)),
        st.builds(lambda: mx.gpu(7)),
        st.builds(object),
        st.just(lambda *args, **kwargs: None),
    )


def kind(value):
    if value is None:
        return 'none'
    if isinstance(value, (bool, onp.bool_)):
        return 'bool'
    if isinstance(value, numbers.Integral):
        return 'int'
    if isinstance(value, numbers.Real):
        return 'real'
    if isinstance(value, str):
        return 'str'
    if isinstance(value, (list, tuple)):
        return 'sequence'
    if isinstance(value, type):
        return 'class'
    if isinstance(value, gluon.Block):
        return 'block'
    if inspect.isfunction(value):
        return 'function'
    return f'other {type(value).__name__}'


def plausible(bad, valid, default, also=()):
    """Whether ``bad`` is of the kind the parameter takes, judged from a valid value: then the call
    may work. Numbers must also be on the valid value's side of 0 (or 0 where it is 0)."""
    got, want = kind(bad), kind(valid)
    if got == 'none':
        return default is None or valid is None or 'none' in also
    if got in also:
        return True
    if got == 'int' and want in ('int', 'real') or got == 'real' and want == 'real':
        if not math.isfinite(bad):
            return False
        return (bad > 0) == (valid > 0) and (bad < 0) == (valid < 0)
    return got == want


@contextlib.contextmanager
def time_limit(seconds):
    def stop(signum, frame):
        raise TimeoutError(f'the call ran past {seconds} s')
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def attempt(name, param, bad):
    """Call the case of ``name`` with ``param`` replaced by ``bad``; return the outcome."""
    import matplotlib.pyplot as plt
    target, kwargs, stubs, also = CASES[name]()
    default = inspect.signature(target).parameters[param].default
    plausible_value = plausible(bad, kwargs[param], default, also.get(param, ()))
    kwargs[param] = bad
    verdict = None
    try:
        from d2lutils.exercises.checks import CheckFailed
        verdict = CheckFailed
    except ImportError:
        pass
    with contextlib.ExitStack() as stack:
        for owner, attribute in stubs:
            original = getattr(owner, attribute)
            setattr(owner, attribute, reached)
            stack.callback(setattr, owner, attribute, original)
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter('ignore')
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        positional = [p.name for p in inspect.signature(target).parameters.values()
                      if p.kind == p.POSITIONAL_OR_KEYWORD and p.name in kwargs]
        args = [kwargs.pop(p) for p in positional]  # as readers call them (and _checked needs)
        try:
            with time_limit(CALL_LIMIT):
                result = target(*args, **kwargs)
                if hasattr(result, '__enter__'):  # a context manager: entering it runs the rest
                    with result:
                        pass
        except Reached:
            outcome = 'works' if plausible_value else 'silent'
        except TimeoutError:
            outcome = 'hang'
        except ArgumentError as error:
            outcome = 'refused' if param in str(error) else f'unnamed: {str(error)[:150]}'
        except Exception as error:  # noqa: BLE001  (the outcome says which)
            if verdict is not None and isinstance(error, verdict) and name.startswith(
                    'd2lutils.exercises.checks.'):
                outcome = 'verdict'
            else:
                outcome = f'raw {type(error).__name__}: {str(error)[:150]}'
        else:
            outcome = 'works' if plausible_value else 'silent'
        finally:
            plt.close('all')
            npx.set_np()
    return outcome


@functools.cache
def parameters(name):
    target = CASES[name]()[0]
    return [p for p in inspect.signature(target).parameters
            if p not in ('self', 'kwargs', 'args')]


@pytest.mark.parametrize('name', sorted(n for n in CASES if parameters(n)))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_bad_arguments_are_refused_by_name(name, data):
    param = data.draw(st.sampled_from(parameters(name)), label='parameter')
    bad = data.draw(bad_values(), label='value')
    outcome = attempt(name, param, bad)
    if LOG:
        with open(LOG, 'a') as log:
            log.write(json.dumps({'function': name, 'parameter': param, 'value': repr(bad)[:80],
                                  'outcome': outcome}) + '\n')
        return
    assert outcome in ('refused', 'works', 'verdict'), (
        f'{name}({param}={bad!r}): {outcome}')


def test_the_valid_calls_work():
    """Each case's own call works (or reaches its stand-in), so a refusal above is the bad value's."""
    for name in CASES:
        target, kwargs, stubs, _ = CASES[name]()
        if stubs or not parameters(name):
            continue
        param = parameters(name)[0]
        assert attempt(name, param, kwargs[param]) in ('works', 'verdict'), name


def test_a_silent_acceptance_is_caught(monkeypatch):
    """The property can fail: a check that lets a negative batch size through is reported."""
    from d2lutils import memory
    monkeypatch.setitem(CASES, 'd2lutils.memory.format_bytes',
                        lambda: case(lambda n: memory.format_bytes.__wrapped__(n), n=0))
    assert attempt('d2lutils.memory.format_bytes', 'n', -32) == 'silent'
