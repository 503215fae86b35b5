"""d2lutils.stats.mcnemar against hand counts and against scipy's binomial test."""
import numpy as onp
import pytest

from d2lutils import stats


def pairs(both_right, only_a, only_b, both_wrong):
    """Truth values for two models with the given counts of agreement and disagreement."""
    a = [1] * both_right + [1] * only_a + [0] * only_b + [0] * both_wrong
    b = [1] * both_right + [0] * only_a + [1] * only_b + [0] * both_wrong
    return onp.array(a, dtype=bool), onp.array(b, dtype=bool)


def test_counts_only_the_disagreements():
    result = stats.mcnemar(*pairs(900, 7, 2, 91))
    assert (result.only_a, result.only_b) == (7, 2)
    # n = 9, k = 2: 2 * (1 + 9 + 36) / 512
    assert result.p_value == pytest.approx(2 * 46 / 512)


def test_agreements_do_not_change_the_p_value():
    few = stats.mcnemar(*pairs(10, 12, 3, 5))
    many = stats.mcnemar(*pairs(5000, 12, 3, 800))
    assert few.p_value == many.p_value < 0.05


def test_symmetric_and_bounded():
    a, b = pairs(50, 4, 4, 10)
    assert stats.mcnemar(a, b).p_value == 1.0
    assert stats.mcnemar(*pairs(50, 9, 3, 1)).p_value == stats.mcnemar(*pairs(50, 3, 9, 1)).p_value
    assert stats.mcnemar(*pairs(50, 0, 0, 10)).p_value == 1.0


@pytest.mark.parametrize('only_a, only_b', [(0, 1), (3, 11), (20, 20), (40, 71), (150, 95),
                                            (600, 540)])
def test_matches_scipy_binomtest(only_a, only_b):
    scipy_stats = pytest.importorskip('scipy.stats')
    expected = scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert stats.mcnemar(*pairs(100, only_a, only_b, 30)).p_value == pytest.approx(expected,
                                                                                   rel=1e-9)


def test_bad_input_says_what_to_pass():
    with pytest.raises(ValueError, match='same length'):
        stats.mcnemar([True, False], [True])
    with pytest.raises(ValueError, match='truth values'):
        stats.mcnemar([0, 3, 1], [1, 0, 1])
