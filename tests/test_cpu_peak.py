"""benchmarks/cpu_peak.py measures what it says, on sizes small enough for the suite (nothing is
timed against a target here: the figures are the script's, run by hand)."""
import math

import pytest

from benchmarks import cpu_peak


def test_each_measurement_gives_a_finite_positive_rate():
    numpy_gflops, mxnet_gflops = cpu_peak.matrix_multiply_gflops(n=64)
    conv_gflops = cpu_peak.onednn_convolution_gflops(batch=2, channels=16, side=4)
    for rate in (numpy_gflops, mxnet_gflops, conv_gflops):
        assert math.isfinite(rate) and rate > 0


@pytest.mark.parametrize('dtype', ['float32', 'bfloat16'])
def test_both_training_routes_run_the_profiles_network(dtype):
    assert cpu_peak.training_examples_per_second(dtype, batch=4, steps=1) > 0


def test_an_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'bfloat16'"):
        cpu_peak.training_examples_per_second('float16', batch=4, steps=1)
