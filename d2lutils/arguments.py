"""Checks of the arguments a reader passes to the library's public functions, and the one mechanism
that applies them.

A mistyped argument should fail at once, in words that name it, not three cells later as a strange
accuracy or a C++ trace from deep inside MXNet. Every public function (what the chapters, the
exercises, the grader and the benchmarks call) declares each parameter once, in its signature, as
``Annotated[type, Check(...)]``, and carries the decorator ``@checked``: pydantic's
``validate_call`` binds the call's arguments to the parameters and runs each parameter's check once,
on entry, before any work starts. A refusal is an ``ArgumentError`` whose first line names the
parameter, the value given, what is allowed and, where it is not obvious, what to do.

Each check below takes the parameter's name and the value and returns the value as a plain Python
number (or path, or the object itself) when it is allowed; it can also be called directly.

NumPy's integer and float scalars are accepted wherever Python's are (``numbers.Integral`` and
``numbers.Real`` include them). ``True`` and ``False`` are refused as numbers: Python counts them as
the integers 1 and 0, but a batch size of ``True`` is a typo, not a choice.

Written here because neither MXNet nor d2l checks these arguments where the reader passes them: a
batch size of 0 or a resize of -1 reached Gluon's DataLoader and MXNet's C++ unchecked. pydantic
does the binding and the declaring; its own messages ("Input should be greater than or equal to 1")
name neither the function's words nor what to do, so every check here writes its own.

This module must not import MXNet (``import d2lutils`` loads it before MXNet is configured): a check
that needs an MXNet class names it as a string and imports it when it runs.
"""
import functools
import importlib
import inspect
import math
import numbers
import os
import pathlib
import typing

import numpy as onp
import pydantic
from pydantic_core import PydanticCustomError, core_schema


class ArgumentError(TypeError, ValueError):
    """An argument a public function cannot use; the first line names it, its value, what is
    allowed. Both a TypeError and a ValueError, so code that catches either still catches it."""


def error_line(error):
    """The line of an exception's message that says what failed, e.g. 'Shape inconsistent,
    Provided = [3,4], inferred shape=(3,5)': MXNet's messages can carry a traceback and C++ file
    names before it, so the last line naming an error or a failed check is taken, without MXNet's
    'MXNetError: ' prefix. The one place the package shortens an error it passes on."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in reversed(lines):
        if 'Check failed' in line or 'Error' in line:
            return line.removeprefix('MXNetError: ')
    return lines[-1] if lines else type(error).__name__


def _shown(value):
    """The value as the reader typed it, with its type when that is not obvious from the repr."""
    if isinstance(value, bool):
        return f'{value!r} (a bool)'
    if isinstance(value, (int, float, str)) or value is None:
        return repr(value)
    if isinstance(value, type):
        return f'the class {value.__module__}.{value.__qualname__}'
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        return f'the function {value.__qualname__}'
    text = ' '.join(repr(value).split())
    if len(text) > 120:
        text = text[:117] + '...'
    return f'{text} (a {type(value).__module__}.{type(value).__qualname__})'


def _refuse(name, allowed, value, hint=''):
    """The one message shape: the argument, the value given, what is allowed, what to do."""
    return ArgumentError(f'{name} must be {allowed}; got {_shown(value)}{hint}.')


# --- the mechanism: declare once (Annotated[..., Check(...)]), check at the call (@checked) -------

class Check:
    """The check of one parameter, declared in its annotation: ``Annotated[int, Check(positive_int)]``.

    pydantic calls ``check(name, value, **options)`` with the parameter's name; what it returns is
    what the function receives. A check raises ``ArgumentError`` (or TypeError/ValueError) to refuse.
    """

    def __init__(self, check, **options):
        self.check, self.options = check, options

    def __repr__(self):
        return f'Check({self.check.__name__})'

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.with_info_plain_validator_function(self._validate)

    def _validate(self, value, info):
        try:
            return self.check(info.field_name, value, **self.options)
        except (TypeError, ValueError) as error:
            raise PydanticCustomError('argument', '{message}', {'message': str(error)}) from None


# Every function checked by this mechanism, by qualified name; tests/test_generated_arguments.py
# calls each with generated bad arguments.
PUBLIC = {}

_CONFIG = pydantic.ConfigDict(arbitrary_types_allowed=True)


def _metadata(hint):
    """Annotated's metadata of a parameter's hint. Python 3.10's get_type_hints wraps the hint of a
    parameter whose default is None in Optional[...], Annotated inside; 3.11 and later do not."""
    if typing.get_origin(hint) is typing.Union:
        annotated = [arg for arg in typing.get_args(hint) if hasattr(arg, '__metadata__')]
        hint = annotated[0] if len(annotated) == 1 else hint
    return getattr(hint, '__metadata__', ())


def _declared(function):
    """Refuse (when the module is imported) a public function with a parameter it does not declare."""
    hints = typing.get_type_hints(function, include_extras=True)
    for param in inspect.signature(function).parameters.values():
        if param.name in ('self', 'cls') and param.annotation is inspect.Parameter.empty:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if not any(isinstance(m, Check) for m in _metadata(hints.get(param.name))):
            raise TypeError(f'{function.__qualname__}: parameter {param.name} has no '
                            f'Annotated[..., Check(...)]; every parameter of a public function '
                            f'declares what it allows')


def checked(function):
    """Check every argument of ``function`` once per call, as its annotations declare.

    Each parameter must be ``Annotated[type, Check(...)]``. A refused argument raises
    ``ArgumentError`` from the call (pydantic's ValidationError is not shown: its message is
    ours, and its traceback says nothing the reader needs).
    """
    _declared(function)
    validated = pydantic.validate_call(config=_CONFIG)(function)
    name = f'{function.__module__}.{function.__qualname__}'

    @functools.wraps(function)
    def call(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841  (IPython and pytest leave this frame out)
        try:
            return validated(*args, **kwargs)
        except pydantic.ValidationError as error:
            raise _argument_error(function, error) from None

    PUBLIC[name] = call
    return call


def _argument_error(function, error):
    """The first refusal of a ValidationError, as the library says it."""
    first = error.errors()[0]
    if first['type'] == 'argument':
        return ArgumentError(first['ctx']['message'])
    where = '.'.join(str(part) for part in first['loc'])
    call = f'{function.__qualname__.replace(".__init__", "")}()'
    params = ', '.join(p for p in inspect.signature(function).parameters if p != 'self')
    if first['type'] in ('missing_argument', 'missing_positional_only_argument'):
        return ArgumentError(f'{call} needs the argument {where}; its parameters: {params}.')
    if first['type'] == 'unexpected_keyword_argument':
        return ArgumentError(f'{call} has no parameter {where}; its parameters: {params}.')
    if first['type'] == 'unexpected_positional_argument':
        return ArgumentError(f'{call} takes fewer positional arguments than were given; its '
                             f'parameters: {params}.')
    return ArgumentError(f'{call}: argument {where}: {first["msg"]}.')


# --- the checks ---------------------------------------------------------------------------------

def _int_or_type_error(name, value, allowed):
    """``int(value)`` for an integer (not a bool); otherwise an ArgumentError saying what is allowed."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, onp.bool_)):
        return int(value)
    hint = ''
    if (isinstance(value, numbers.Real) and not isinstance(value, (bool, onp.bool_))
            and math.isfinite(value) and float(value).is_integer()):
        hint = f'; pass int({value!r})'
    raise _refuse(name, allowed, value, hint)


def anything(name, value):
    """No check: for a parameter whose every value is handled (and refused) by the function itself."""
    return value


def positive_int(name, value, *, none_means=None):
    """An integer of at least 1, e.g. a batch size or a number of epochs.

    With ``none_means`` (e.g. 'keep 28x28'), ``None`` is allowed too and means that.
    """
    allowed = 'a positive integer (1, 2, 3, ...)'
    if none_means is not None:
        if value is None:
            return None
        allowed = f'None ({none_means}) or {allowed}'
    number = _int_or_type_error(name, value, allowed)
    if number < 1:
        raise _refuse(name, allowed, value)
    return number


def non_negative_int(name, value):
    """An integer of at least 0, e.g. a count of optimizer states."""
    allowed = 'an integer of at least 0'
    number = _int_or_type_error(name, value, allowed)
    if number < 0:
        raise _refuse(name, allowed, value)
    return number


def int_between(name, value, low, high, what=''):
    """An integer from ``low`` to ``high``, e.g. a seed or a port."""
    allowed = f'an integer from {low:,} to {high:,}{what}'
    number = _int_or_type_error(name, value, allowed)
    if not low <= number <= high:
        raise _refuse(name, allowed, value)
    return number


def subset_size(name, value, total):
    """``None`` (all ``total`` examples) or a number of examples from 1 to ``total``.

    A size larger than the split is refused rather than read as "all": the reader asked for
    examples that do not exist.
    """
    allowed = f'None (all {total:,} examples) or an integer from 1 to {total:,}'
    if value is None:
        return None
    number = _int_or_type_error(name, value, allowed)
    if not 1 <= number <= total:
        raise _refuse(name, allowed, value)
    return number


def _real_or_type_error(name, value, allowed):
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, onp.bool_)):
        return float(value)
    raise _refuse(name, allowed, value)


def positive_finite(name, value, example='0.1'):
    """A number above 0 that is neither infinite nor NaN, e.g. a learning rate."""
    allowed = f'a positive finite number, e.g. {example}'
    number = _real_or_type_error(name, value, allowed)
    if not (math.isfinite(number) and number > 0):
        raise _refuse(name, allowed, value)
    return number


def non_negative_finite(name, value):
    """A finite number of at least 0, e.g. free memory in bytes."""
    allowed = 'a finite number of at least 0'
    number = _real_or_type_error(name, value, allowed)
    if not (math.isfinite(number) and number >= 0):
        raise _refuse(name, allowed, value)
    return number


def non_negative_finite_or_none(name, value):
    """None, or a finite number of at least 0."""
    return None if value is None else non_negative_finite(name, value)


def is_count(value):
    """True for a finite number of at least 0 (not a bool), e.g. what an estimate of bytes returns."""
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, onp.bool_))
            and math.isfinite(value) and value >= 0)


def fraction(name, value):
    """A number in (0, 1], e.g. the share of free memory a plan may use."""
    allowed = 'a fraction above 0 and at most 1, e.g. 0.8'
    number = _real_or_type_error(name, value, allowed)
    if not 0 < number <= 1:  # NaN fails both comparisons
        raise _refuse(name, allowed, value)
    return number


def momentum(name, value):
    """A number in [0, 1), e.g. a moving average's weight of the old value."""
    allowed = 'a number from 0 up to (not including) 1, e.g. 0.9'
    number = _real_or_type_error(name, value, allowed)
    if not 0 <= number < 1:
        raise _refuse(name, allowed, value)
    return number


def flag(name, value, *, none_means=None):
    """True or False (NumPy's bool too); a string such as 'no' would otherwise count as True."""
    if none_means is not None and value is None:
        return None
    if isinstance(value, (bool, onp.bool_)):
        return bool(value)
    allowed = 'True or False' if none_means is None else f'True, False or None ({none_means})'
    raise ArgumentError(f'{name} must be {allowed}; got {_shown(value)}.')


def one_of(name, value, choices, what=''):
    """One of ``choices`` (strings or integers), compared by type too: '18' is not 18, True not 1."""
    listed = ', '.join(repr(c) for c in choices)
    allowed = f'one of {listed}{what}'
    if all(isinstance(c, int) for c in choices):
        value = _int_or_type_error(name, value, allowed)
    elif not isinstance(value, str):
        raise _refuse(name, allowed, value)
    if value not in choices:
        raise _refuse(name, allowed, value)
    return value


def text(name, value, *, none_means=None):
    """A non-empty string (or None where that means something)."""
    if none_means is not None and value is None:
        return None
    allowed = 'a non-empty string' if none_means is None else f'None ({none_means}) or a string'
    if not isinstance(value, str) or not value:
        raise _refuse(name, allowed, value)
    return value


def shape(name, value, *, sizes=None):
    """A tuple (or list) of positive integers, e.g. one example's shape ``(1, 96, 96)``.

    With ``sizes`` (e.g. ``(3, 4)``), only shapes of that many dimensions are allowed.
    """
    allowed = 'a tuple of positive integers, e.g. (1, 96, 96)'
    if sizes:
        allowed = (f'a tuple of {" or ".join(str(s) for s in sizes)} positive integers, e.g. '
                   f'(1, 96, 96) for one image (C, H, W) or (1, 1, 96, 96) with the batch first')
    if not isinstance(value, (tuple, list)) or not value:
        raise _refuse(name, allowed, value)
    for size in value:
        if isinstance(size, (bool, onp.bool_)) or not isinstance(size, numbers.Integral) or size < 1:
            raise _refuse(name, allowed, value)
    if sizes and len(value) not in sizes:
        raise _refuse(name, allowed, value)
    return tuple(int(size) for size in value)


def image_shape(name, value):
    """An image's shape, (C, H, W), or a batch's, (N, C, H, W)."""
    return shape(name, value, sizes=(3, 4))


def positive_ints(name, value, example='(16, 32, 64)'):
    """A non-empty tuple (or list) of positive integers, e.g. widths or depths."""
    allowed = f'a non-empty tuple of positive integers, e.g. {example}'
    if not isinstance(value, (tuple, list)) or not value:
        raise _refuse(name, allowed, value)
    return tuple(_checked_member(name, allowed, value, item, 1) for item in value)


def non_negative_ints(name, value, example='(0, 1, 2)'):
    """A non-empty tuple (or list) of integers of at least 0, e.g. seeds."""
    allowed = f'a non-empty tuple of integers of at least 0, e.g. {example}'
    if not isinstance(value, (tuple, list)) or not value:
        raise _refuse(name, allowed, value)
    return tuple(_checked_member(name, allowed, value, item, 0) for item in value)


def _checked_member(name, allowed, whole, item, low):
    if (isinstance(item, (bool, onp.bool_)) or not isinstance(item, numbers.Integral)
            or item < low):
        raise _refuse(name, allowed, whole)
    return int(item)


def folder(name, value):
    """``None``, or a path (str or ``pathlib.Path``) that is a folder or does not exist yet.

    A path that names a file is refused here: searching "inside" a file finds nothing, and the
    reader would only learn later that the data was "missing".
    """
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or value == '':
        raise ArgumentError(f'{name} must be a folder path (str or pathlib.Path); got '
                            f'{_shown(value)}.')
    path = pathlib.Path(value)
    if path.exists() and not path.is_dir():
        raise ArgumentError(f'{name} must be a folder, but {str(path)!r} is a file. Name the folder '
                            f'that holds the four Fashion-MNIST files instead.')
    return path


def exercises_folder(name, value):
    """The exercises folder a teacher names (``--folder``): it must hold ``solutions/*.ipynb``.

    For the grader: a wrong folder is the teacher's mistake, to be said once before any submission
    runs, not blamed on every student ("was it made from the notebooks handed out?").
    """
    if not isinstance(value, (str, os.PathLike)) or value == '':
        raise ArgumentError(f'{name} must be the exercises folder (str or pathlib.Path), the one '
                            f'with solutions/ inside; got {_shown(value)}.')
    path = pathlib.Path(value)
    if not sorted((path / 'solutions').glob('*.ipynb')):
        raise ArgumentError(f'{name} must be the exercises folder, with the solution notebooks in '
                            f'its solutions/ folder; {str(path)!r} has none in '
                            f'{str(path / "solutions")!r}. Name the folder that holds solutions/, '
                            f'e.g. chapters/exercises.')
    return path


def results_file(name, value):
    """A file the grader may write its results to: its folder exists and is writable.

    Checked before the first submission runs, so that a typo in the folder is not found after an
    hour of grading.
    """
    if not isinstance(value, (str, os.PathLike)) or value == '':
        raise ArgumentError(f'{name} must be a file path (str or pathlib.Path), e.g. grades.csv; '
                            f'got {_shown(value)}.')
    path = pathlib.Path(value)
    parent = path.parent if str(path.parent) else pathlib.Path('.')
    if path.is_dir():
        raise ArgumentError(f'{name} must be a file, but {str(path)!r} is a folder; name a file '
                            f'in it, e.g. {str(path / "grades.csv")!r}.')
    if not parent.is_dir():
        raise ArgumentError(f'{name} must be a file in an existing folder, but the folder '
                            f'{str(parent)!r} does not exist; create it first (mkdir -p '
                            f'{parent}) or name another file.')
    if not os.access(parent, os.W_OK):
        raise ArgumentError(f'{name} must be a file in a folder you can write to; {str(parent)!r} '
                            f'is not writable. Name a file in a folder of your own.')
    return path


def instance_of(name, value, cls, allowed, *, none_means=None, advice=''):
    """An instance of ``cls`` (given as 'module.Class', imported when the check runs).

    A class where an instance is expected (``SoftmaxCrossEntropyLoss`` for
    ``SoftmaxCrossEntropyLoss()``) gets the advice to call it.
    """
    if none_means is not None:
        if value is None:
            return None
        allowed = f'None ({none_means}) or {allowed}'
    module, _, qualname = cls.rpartition('.')
    kind = getattr(importlib.import_module(module), qualname)
    if isinstance(value, kind):
        return value
    hint = advice
    if isinstance(value, type) and issubclass(value, kind):
        hint = f'; pass an instance, {value.__name__}(), not the class'
    raise _refuse(name, allowed, value, hint)


def initialized_net(name, value):
    """A Gluon network whose parameters are initialized (shapes may still be deferred)."""
    block = instance_of(name, value, 'mxnet.gluon.Block',
                        'an initialized Gluon network (a gluon.Block)')
    waiting = [p.name for p in block.collect_params().values()
               if p._data is None and not p._deferred_init]
    if waiting:
        raise ArgumentError(f'{name} must be initialized first: {len(waiting)} of its parameters '
                            f'(e.g. {waiting[0]}) have no values yet. Call {name}.initialize() '
                            f'(or train it) before this.')
    return block


def subclass_of(name, value, cls, allowed):
    """A class derived from ``cls`` ('module.Class'), e.g. a block class to build a stage of."""
    module, _, qualname = cls.rpartition('.')
    kind = getattr(importlib.import_module(module), qualname)
    if isinstance(value, type) and issubclass(value, kind):
        return value
    hint = ''
    if isinstance(value, kind):
        hint = f'; pass the class, {type(value).__name__}, not an instance of it'
    raise _refuse(name, allowed, value, hint)


def callable_not_class(name, value, allowed, *, none_means=None):
    """A function or an object with ``__call__`` (a Gluon loss), but not a class: a loss CLASS is
    callable too, and calling it with (scores, labels) builds a loss instead of computing one."""
    if none_means is not None:
        if value is None:
            return None
        allowed = f'None ({none_means}) or {allowed}'
    if isinstance(value, type):
        raise _refuse(name, allowed, value, f'; pass an instance, {value.__name__}(), not the class')
    if not callable(value):
        raise _refuse(name, allowed, value)
    return value


def mapping(name, value, allowed, *, none_means=None):
    """A dict (or None where that means something), e.g. optimizer settings."""
    if none_means is not None and value is None:
        return None
    if not isinstance(value, dict):
        if none_means is not None:
            allowed = f'None ({none_means}) or {allowed}'
        raise _refuse(name, allowed, value)
    return value


def loader(name, value):
    """Something that gives batches and knows how many: a Gluon DataLoader, or a list of batches."""
    if (isinstance(value, (str, bytes, dict)) or not hasattr(value, '__iter__')
            or not hasattr(value, '__len__')):
        raise ArgumentError(f'{name} must be a data loader with a length, e.g. a '
                            f'gluon.data.DataLoader from data.load_fashion_mnist; got '
                            f'{_shown(value)}.')
    if len(value) == 0:
        raise ArgumentError(f'{name} must give at least one batch; got an empty {_shown(value)}.')
    return value


def sequence(name, value, allowed, *, none_means=None):
    """A list, tuple or array with a length (not a string), e.g. images or truth values."""
    if none_means is not None and value is None:
        return None
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, '__len__') \
            or not hasattr(value, '__getitem__'):
        if none_means is not None:
            allowed = f'None ({none_means}) or {allowed}'
        raise _refuse(name, allowed, value)
    return value


def context(name, value, *, none_means=None, seen=True):
    """An MXNet context, ``mx.cpu()`` or ``mx.gpu(i)``; a GPU only if MXNet sees it (unless
    ``seen=False``: a context that is only named, e.g. in advice).

    A GPU context on a machine without that GPU would fail later in MXNet's C++, or (for memory
    planning) be read as the CPU.
    """
    import mxnet as mx
    allowed = 'a context such as mx.cpu() or mx.gpu(0)'
    if none_means is not None:
        if value is None:
            return None
        allowed = f'None ({none_means}) or {allowed}'
    if not isinstance(value, mx.Context):
        raise _refuse(name, allowed, value)
    if seen:
        _gpu_seen(name, value)
    return value


def _gpu_seen(name, device):
    import mxnet as mx
    if device.device_type == 'gpu' and device.device_id >= mx.context.num_gpus():
        raise ArgumentError(f'{name} names {device}, but MXNet sees {mx.context.num_gpus()} '
                            f'GPU(s). Use d2l.try_gpu(), which falls back to mx.cpu(), and the '
                            f"'cpu' profile (D2LUTILS_PROFILE=cpu) on a machine without a GPU.")


def contexts(name, value, *, none_means=None):
    """A context or a non-empty list of them, each a device MXNet sees."""
    import mxnet as mx
    allowed = 'a context such as mx.cpu() or mx.gpu(0), or a list of them'
    if none_means is not None:
        if value is None:
            return None
        allowed = f'None ({none_means}) or {allowed}'
    devices = list(value) if isinstance(value, (list, tuple)) else [value]
    if not devices:
        raise ArgumentError(f'{name} is an empty list; pass at least one context, e.g. mx.cpu().')
    for device in devices:
        if not isinstance(device, mx.Context):
            raise _refuse(name, allowed, value)
        _gpu_seen(name, device)
    return value


def array_or_number(name, value):
    """An MXNet array, or a finite number that broadcasts like one (e.g. a scale of 1)."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, onp.bool_)):
        return finite(name, value)
    return array(name, value)


def finite(name, value):
    """A finite number."""
    allowed = 'a finite number'
    number = _real_or_type_error(name, value, allowed)
    if not math.isfinite(number):
        raise _refuse(name, allowed, value)
    return number


def array(name, value, *, min_dims=1):
    """An MXNet array (NumPy mode or legacy NDArray) of at least ``min_dims`` dimensions."""
    import mxnet as mx
    allowed = f'an MXNet array of at least {min_dims} dimension(s), e.g. mx.np.array(...)'
    if not isinstance(value, (mx.np.ndarray, mx.nd.NDArray)) or value.ndim < min_dims:
        raise _refuse(name, allowed, value)
    return value
