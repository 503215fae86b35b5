"""Statistics for comparing models on the same test examples.

Two networks scored on the same test images are not two independent samples: most images are easy
or hard for both. Comparing their error rates as if they were independent (a standard error of the
difference of about sqrt(2) times that of one rate) ignores this pairing. McNemar's test uses it: it
looks only at the images on which the two disagree.
"""
import dataclasses
import math
from typing import Annotated

import numpy as onp

from d2lutils import arguments
from d2lutils.arguments import Check, checked

TruthValues = Annotated[object, Check(arguments.sequence,
                                      allowed='a sequence of truth values, one per example')]


@dataclasses.dataclass
class McNemarResult:
    only_a: int      # examples model a got right and model b got wrong
    only_b: int      # examples model b got right and model a got wrong
    p_value: float   # exact two-sided p-value for "a and b have the same accuracy"


@checked
def mcnemar(correct_a: TruthValues, correct_b: TruthValues):
    """Exact McNemar test for two classifiers scored on the same examples.
    Used in the pre-activation exercise.

    The examples both got right, or both got wrong, say nothing about which model is better. If the
    two have the same accuracy, each of the ``n = only_a + only_b`` examples on which they disagree
    is equally likely to favour either, so ``only_a`` follows a binomial distribution with ``n``
    trials and probability 1/2; the p-value is the probability of a split at least as uneven as the
    one observed, in either direction.

    ``scipy.stats.binomtest(only_a, n, 0.5).pvalue`` gives the same number (the tests check it), but
    scipy is not among the book's dependencies on Python 3.12 (d2l, which pins it, is installed
    there without its dependencies), so the sum is computed here with exact integers.

    Parameters
    ----------
    correct_a, correct_b : sequence of bool
        One truth value per example, in the same order: whether model a (b) classified that example
        correctly.

    Returns
    -------
    McNemarResult
    """
    a = onp.asarray(correct_a.asnumpy() if hasattr(correct_a, 'asnumpy') else correct_a)
    b = onp.asarray(correct_b.asnumpy() if hasattr(correct_b, 'asnumpy') else correct_b)
    if a.ndim != 1 or a.shape != b.shape:
        raise arguments.ArgumentError(f'correct_a and correct_b must be 1-D and of the same length (one entry per '
                         f'test example, in the same order); got shapes {a.shape} and {b.shape}')
    for name, values in (('correct_a', a), ('correct_b', b)):
        if values.dtype == object or not onp.isin(values, (0, 1)).all():
            raise arguments.ArgumentError(f'{name} must hold truth values (True/False or 1/0), one per example; '
                             f'compare predictions with labels first, e.g. y_hat == y')
    a, b = a.astype(bool), b.astype(bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return McNemarResult(only_a, only_b, 1.0)
    tail = sum(math.comb(n, i) for i in range(k + 1))  # P(X <= k) * 2**n, exactly
    return McNemarResult(only_a, only_b, min(1.0, 2 * tail / 2 ** n))
