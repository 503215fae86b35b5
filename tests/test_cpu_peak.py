"""benchmarks/cpu_peak.py measures what it says, on sizes small enough for the suite (nothing is
timed against a target here: the figures are the script's, run by hand)."""
import math
import pathlib
import subprocess
import sys

from benchmarks import cpu_peak, throughput


def test_each_measurement_gives_a_finite_positive_rate():
    numpy_gflops, mxnet_gflops = cpu_peak.matrix_multiply_gflops(n=64)
    conv_gflops = cpu_peak.onednn_convolution_gflops(batch=2, channels=16, side=4)
    for rate in (numpy_gflops, mxnet_gflops, conv_gflops):
        assert math.isfinite(rate) and rate > 0


def test_both_training_routes_run_the_profiles_network():
    rates = cpu_peak.training_rates(batch=4, steps=1, warmup=1)
    assert set(rates) == {'static', 'bf16'} and all(rate > 0 for rate in rates.values())


def test_throughput_refuses_a_width_that_is_not_positive():
    script = pathlib.Path(throughput.__file__)
    done = subprocess.run([sys.executable, str(script), '--width', '0'], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and '--width must be a positive factor, got 0' in done.stderr
