"""What this CPU can give the book's training: fp32 peaks, and whether bfloat16 helps.

Prints the machine, then one line per measurement:

* NumPy's matrix multiply (its BLAS) and MXNet's ``dot`` on 4096x4096 float32 matrices, in GFLOP/s;
* a 1x1 convolution through MXNet's oneDNN (64 images of 1024 channels at 16x16, 1024 filters): a
  matrix multiply done by the library that runs the book's convolutions, so the peak its training
  steps can approach;
* training examples per second of the ``cpu`` profile's network (batch 128, hybridized), in float32
  and converted to bfloat16 with MXNet's AMP (``amp.convert_hybrid_block``), which works only in the
  legacy NDArray mode: the book's NumPy mode refuses it (benchmarks/README.md).

Each figure is the best of a few repeats after a warm-up. Run it on a quiet machine; the load average
is printed before and after.

    .venv/bin/python benchmarks/cpu_peak.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import d2lutils  # noqa: E402  (first: sets OMP_NUM_THREADS before mxnet starts)
try:
    from benchmarks.machine import cpu_description, load_average  # imported as a module (the tests)
except ImportError:
    from machine import cpu_description, load_average  # run as a script: benchmarks/ is on sys.path


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


def training_examples_per_second(dtype, batch=128, steps=15):
    """The cpu profile's network, legacy NDArray mode, float32 or AMP's bfloat16 conversion."""
    if dtype not in ('float32', 'bfloat16'):
        raise ValueError(f"dtype must be 'float32' or 'bfloat16'; got {dtype!r}")
    from mxnet import npx
    was_numpy_mode = npx.is_np_array()
    npx.reset_np()  # AMP's conversion works in the legacy NDArray mode only
    try:
        return _legacy_training_rate(dtype, batch, steps)
    finally:
        if was_numpy_mode:
            npx.set_np()


def _legacy_training_rate(dtype, batch, steps):
    """``training_examples_per_second`` once MXNet is in the legacy NDArray mode."""
    import mxnet as mx
    from mxnet import autograd, gluon
    from mxnet.contrib import amp
    from d2lutils import models, profiles
    profile = profiles.PROFILES['cpu']
    X = mx.nd.random.uniform(shape=(batch, 1, 28, 28))
    y = mx.nd.random.randint(0, 10, shape=(batch,)).astype('float32')
    net = models.resnet(18, num_classes=10, stem=profile.stem, width=profile.width)
    net.initialize(mx.init.Xavier())
    net.hybridize(static_alloc=True, static_shape=True)
    net(X)
    if dtype == 'bfloat16':
        net = amp.convert_hybrid_block(net, target_dtype='bfloat16', ctx=mx.cpu())
        net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.05, 'momentum': 0.9})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()

    def steps_run():
        for _ in range(steps):
            with autograd.record():
                value = loss(net(X), y)
            value.backward()
            trainer.step(batch)
        value.wait_to_read()
    return steps * batch / best_seconds(steps_run, repeats=2)


def main():
    print(cpu_description())
    print(f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS")}; load average {load_average():.2f}')
    numpy_gflops, mxnet_gflops = matrix_multiply_gflops()
    print(f'float32 4096x4096 matrix multiply: NumPy {numpy_gflops:.0f} GFLOP/s, '
          f'MXNet dot {mxnet_gflops:.0f} GFLOP/s')
    print(f'float32 1x1 convolution through oneDNN: {onednn_convolution_gflops():.0f} GFLOP/s')
    fp32 = training_examples_per_second('float32')
    bf16 = training_examples_per_second('bfloat16')
    print(f"training the cpu profile's network, legacy mode: float32 {fp32:.0f} examples/s, "
          f'bfloat16 (AMP) {bf16:.0f} examples/s, ratio {bf16 / fp32:.2f}')
    print(f'load average {load_average():.2f}')


if __name__ == '__main__':
    main()
