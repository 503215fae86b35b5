"""A block's answers to the checks' questions, as plain data: written in the sandbox, read outside.

When a submission is graded, the student's block is asked its questions in the student's process
(in the sandbox) and the answers are judged in the grader's process, which never runs student
code. What crosses between the two can only be data: numbers, strings, lists, dictionaries (JSON)
and arrays of numbers (NumPy's ``.npz`` read with ``allow_pickle=False``, so no object is ever
rebuilt from it). ``save`` writes a nested structure of those; ``load`` reads it back and refuses
anything else, or anything larger than ``MAX_BYTES``.
"""
import json
import pathlib

import numpy as onp

MAX_BYTES = 32 * 1024 ** 2  # per file: the answers of a check are well under 1 MiB
ARRAY = '__array__'


class BadAnswers(ValueError):
    """Answers that are not what ``save`` writes: malformed, too large, or of another type."""


def save(folder, stem, answers):
    """Write ``answers`` (dicts with string keys, lists, str, int, float, bool, None, NumPy arrays
    of numbers) to ``folder/stem.json`` and ``folder/stem.npz``."""
    arrays = {}

    def encode(value):
        if isinstance(value, onp.ndarray):
            key = f'a{len(arrays)}'
            arrays[key] = onp.ascontiguousarray(value, dtype=onp.float32 if value.dtype.kind == 'f'
                                                else value.dtype)
            return {ARRAY: key}
        if isinstance(value, dict):
            return {str(k): encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        if isinstance(value, onp.generic):
            return value.item()
        raise TypeError(f'answers hold data only, not {type(value).__name__}')

    folder = pathlib.Path(folder)
    data = encode(answers)
    with (folder / f'{stem}.npz').open('wb') as file:
        onp.savez(file, **arrays)
    (folder / f'{stem}.json').write_text(json.dumps(data))


def load(folder, stem):
    """What ``save`` wrote, or ``BadAnswers``; None when nothing was written."""
    folder = pathlib.Path(folder)
    paths = folder / f'{stem}.json', folder / f'{stem}.npz'
    if not paths[0].is_file():
        return None
    for path in paths:
        if not path.is_file() or path.is_symlink():
            raise BadAnswers(f'{path.name} is missing or not a plain file')
        if path.stat().st_size > MAX_BYTES:
            raise BadAnswers(f'{path.name} is larger than {MAX_BYTES} bytes')
    try:
        data = json.loads(paths[0].read_text())
        with onp.load(paths[1], allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError) as error:
        raise BadAnswers(f'unreadable answers: {type(error).__name__}: {error}') from None
    for key, array in arrays.items():
        if array.dtype.kind not in 'fiub':
            raise BadAnswers(f'array {key} holds {array.dtype}, not numbers')

    def decode(value):
        if isinstance(value, dict):
            if set(value) == {ARRAY}:
                if value[ARRAY] not in arrays:
                    raise BadAnswers(f'no array {value[ARRAY]!r}')
                return arrays[value[ARRAY]]
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(data)
