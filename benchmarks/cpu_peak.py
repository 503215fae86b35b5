"""What this CPU can give the book's training: fp32 peaks, and whether bfloat16 helps.

Prints the machine, then one line per measurement:

* NumPy's matrix multiply (its BLAS) and MXNet's ``dot`` on 4096x4096 float32 matrices, in GFLOP/s;
* a 1x1 convolution through MXNet's oneDNN (64 images of 1024 channels at 16x16, 1024 filters): a
  matrix multiply done by the library that runs the book's convolutions, so the peak its training
  steps can approach;
* training examples per second of the ``cpu`` profile's network (batch 128, hybridized), in float32
  and converted to bfloat16 with MXNet's AMP (``amp.convert_hybrid_block``, which works only in the
  legacy NDArray mode: the book's NumPy mode refuses it), measured by throughput.py's ``static`` and
  ``bf16`` variants.

The multiply figures are the best of five repeats after a warm-up; the training rates are
throughput.py's (15 steps after 3 warm-up steps). Run it on a quiet machine; the load average
is printed before and after.

    .venv/bin/python benchmarks/cpu_peak.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import d2lutils  # noqa: E402  (first: sets OMP_NUM_THREADS before mxnet starts)
try:
    from benchmarks import throughput  # imported as a module (the tests)
    from benchmarks.machine import cpu_description, load_average
except ImportError:
    import throughput  # run as a script: benchmarks/ is on sys.path
    from machine import cpu_description, load_average


def best_seconds(run, repeats=5):
    """The shortest of ``repeats`` timed calls of ``run`` (which waits for its result), after one."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def matrix_multiply_gflops(n=4096):
    import mxnet as mx
    import numpy as onp
    a, b = (onp.random.rand(n, n).astype('float32') for _ in range(2))
    A, B = mx.nd.array(a), mx.nd.array(b)
    flops = 2 * n ** 3
    return (flops / best_seconds(lambda: a @ b) / 1e9,
            flops / best_seconds(lambda: mx.nd.dot(A, B).wait_to_read()) / 1e9)


def onednn_convolution_gflops(batch=64, channels=1024, side=16):
    import mxnet as mx
    x = mx.nd.random.uniform(shape=(batch, channels, side, side))
    w = mx.nd.random.uniform(shape=(channels, channels, 1, 1))
    seconds = best_seconds(lambda: mx.nd.Convolution(x, w, kernel=(1, 1), num_filter=channels,
                                                     no_bias=True).wait_to_read())
    return 2 * batch * channels * channels * side * side / seconds / 1e9


def training_rates(batch=128, steps=15, warmup=3):
    """Training examples per second of the ``cpu`` profile's network at 28x28, in float32
    (throughput.py's ``static`` variant) and converted to bfloat16 (its ``bf16`` variant), each
    measured by throughput.py in a process of its own."""
    from d2lutils import profiles
    profile = profiles.PROFILES['cpu']
    return {variant: throughput.measure('mxnet', 28, batch, steps, warmup, variant, profile.stem,
                                        profile.width)
            for variant in ('static', 'bf16')}


def main():
    print(cpu_description())
    print(f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS")}; load average {load_average():.2f}')
    numpy_gflops, mxnet_gflops = matrix_multiply_gflops()
    print(f'float32 4096x4096 matrix multiply: NumPy {numpy_gflops:.0f} GFLOP/s, '
          f'MXNet dot {mxnet_gflops:.0f} GFLOP/s')
    print(f'float32 1x1 convolution through oneDNN: {onednn_convolution_gflops():.0f} GFLOP/s')
    rates = training_rates()
    print(f"training the cpu profile's network: float32 {rates['static']:.0f} examples/s, "
          f"bfloat16 (AMP) {rates['bf16']:.0f} examples/s, ratio {rates['bf16'] / rates['static']:.2f}")
    print(f'load average {load_average():.2f}')


if __name__ == '__main__':
    main()
