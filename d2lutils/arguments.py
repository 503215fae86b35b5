"""Checks of the arguments a reader passes to the library's public functions.

A mistyped argument should fail at once, in words that name it, not three cells later as a strange
accuracy or a C++ trace from deep inside MXNet. Each check returns the value as a plain Python
number (or path) when it is allowed, and otherwise raises ``TypeError`` (wrong kind of value) or
``ValueError`` (right kind, outside the range) whose first line names the argument, the value given
and what is allowed. The public functions call these once, on entry, before any work starts.

NumPy's integer and float scalars are accepted wherever Python's are (``numbers.Integral`` and
``numbers.Real`` include them). ``True`` and ``False`` are refused as numbers: Python counts them as
the integers 1 and 0, but a batch size of ``True`` is a typo, not a choice.

Written here because neither MXNet nor d2l checks these arguments where the reader passes them: a
batch size of 0 or a resize of -1 reached Gluon's DataLoader and MXNet's C++ unchecked.
"""
import math
import numbers
import os
import pathlib

import numpy as onp


def _shown(value):
    """The value as the reader typed it, with its type when that is not obvious from the repr."""
    if isinstance(value, bool):
        return f'{value!r} (a bool)'
    if isinstance(value, (int, float, str)) or value is None:
        return repr(value)
    return f'{value!r} (a {type(value).__module__}.{type(value).__qualname__})'


def _int_or_type_error(name, value, allowed):
    """``int(value)`` for an integer (not a bool); otherwise a TypeError saying what is allowed."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    hint = ''
    if (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and float(value).is_integer()):
        hint = f'; pass int({value!r})'
    raise TypeError(f'{name} must be {allowed}; got {_shown(value)}{hint}.')


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
        raise ValueError(f'{name} must be {allowed}; got {_shown(value)}.')
    return number


def non_negative_int(name, value):
    """An integer of at least 0, e.g. a count of optimizer states."""
    allowed = 'an integer of at least 0'
    number = _int_or_type_error(name, value, allowed)
    if number < 0:
        raise ValueError(f'{name} must be {allowed}; got {_shown(value)}.')
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
        raise ValueError(f'{name} must be {allowed}; got {_shown(value)}.')
    return number


def _real_or_type_error(name, value, allowed):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f'{name} must be {allowed}; got {_shown(value)}.')


def positive_finite(name, value, example='0.1'):
    """A number above 0 that is neither infinite nor NaN, e.g. a learning rate."""
    allowed = f'a positive finite number, e.g. {example}'
    number = _real_or_type_error(name, value, allowed)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f'{name} must be {allowed}; got {_shown(value)}.')
    return number


def non_negative_finite(name, value):
    """A finite number of at least 0, e.g. free memory in bytes."""
    allowed = 'a finite number of at least 0'
    number = _real_or_type_error(name, value, allowed)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f'{name} must be {allowed}; got {_shown(value)}.')
    return number


def fraction(name, value):
    """A number in (0, 1], e.g. the share of free memory a plan may use."""
    allowed = 'a fraction above 0 and at most 1, e.g. 0.8'
    number = _real_or_type_error(name, value, allowed)
    if not 0 < number <= 1:  # NaN fails both comparisons
        raise ValueError(f'{name} must be {allowed}; got {_shown(value)}.')
    return number


def flag(name, value):
    """True or False (NumPy's bool too); a string such as 'no' would otherwise count as True."""
    if isinstance(value, (bool, onp.bool_)):
        return bool(value)
    raise TypeError(f'{name} must be True or False; got {_shown(value)}.')


def shape(name, value):
    """A tuple (or list) of positive integers, e.g. one example's shape ``(1, 96, 96)``."""
    allowed = 'a tuple of positive integers, e.g. (1, 96, 96)'
    if not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f'{name} must be {allowed}; got {_shown(value)}.')
    for size in value:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f'{name} must be {allowed}; got {_shown(value)}.')
    return tuple(int(size) for size in value)


def folder(name, value):
    """``None``, or a path (str or ``pathlib.Path``) that is a folder or does not exist yet.

    A path that names a file is refused here: searching "inside" a file finds nothing, and the
    reader would only learn later that the data was "missing".
    """
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f'{name} must be a folder path (str or pathlib.Path); got {_shown(value)}.')
    path = pathlib.Path(value)
    if path.exists() and not path.is_dir():
        raise ValueError(f'{name} must be a folder, but {str(path)!r} is a file. Name the folder '
                         f'that holds the four Fashion-MNIST files instead.')
    return path
