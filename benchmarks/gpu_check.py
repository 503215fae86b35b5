"""Whether MXNet's CUDA build trains on this machine's GPU, and how fast: for readers with a GPU.

Install the GPU build first (``make install GPU=1``: mxnet-cu117 and the CUDA 11 libraries from PyPI,
no system CUDA). The script trains the book's ResNet-18 in the ``gpu`` profile's setting (Fashion-MNIST
at 96x96, batch 256, SGD at lr 0.05) for a few hundred steps on GPU 0 and prints the device's name and
compute capability, then examples per second over the timed steps. Without a GPU it can use (CPU build
installed, no driver, no GPU, or one this build has no kernels for) it says why in one line and exits
with status 1.

Usage:
    python benchmarks/gpu_check.py                  # 20 warm-up steps, then 300 timed ones
    python benchmarks/gpu_check.py --steps 100 --warmup 10
"""
import argparse
import itertools
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def usable_gpu_or_reason():
    """None when MXNet can train on GPU 0, else one line saying why not."""
    try:
        import d2lutils  # noqa: F401  (loads the CUDA libraries, hides GPUs the build cannot run)
    except ImportError as err:   # the CUDA build without a driver: d2lutils.gpu says what to do
        return str(err)
    import mxnet as mx
    from d2lutils import gpu
    if not gpu.gpu_build_installed():
        return (f"MXNet's CPU build is installed, not {gpu.GPU_BUILD}: install the GPU build with "
                f"`make install GPU=1` (Linux x86_64 with the NVIDIA driver).")
    if mx.context.num_gpus() == 0:
        return gpu.unusable_gpu_message() or 'MXNet sees no GPU: check that `nvidia-smi` lists one.'
    return None


def train_steps(steps, warmup):
    """Train ResNet-18 in the gpu profile on GPU 0: (examples per second over ``steps``, last loss)."""
    import mxnet as mx
    from mxnet import autograd, gluon, npx
    from d2lutils import data, models, seed_everything
    from d2lutils.profiles import PROFILES
    npx.set_np()
    seed_everything(0)
    profile = PROFILES['gpu']
    device = mx.gpu(0)
    train_iter, _ = data.load_fashion_mnist(profile.batch_size, resize=profile.resize)
    net = models.resnet(18, num_classes=10)
    net.initialize(mx.init.Xavier(), ctx=device)
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': profile.lr})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    # Full batches only (the last one of an epoch is smaller), repeated over epochs as needed.
    batches = (b for b in itertools.chain.from_iterable(itertools.repeat(train_iter))
               if b[0].shape[0] == profile.batch_size)
    start = None
    for step, (X, y) in enumerate(itertools.islice(batches, warmup + steps)):
        if step == warmup:
            npx.waitall()   # the warm-up's work (and MXNet's first-call setup) is not timed
            start = time.perf_counter()
        X, y = X.as_in_ctx(device), y.as_in_ctx(device)
        with autograd.record():
            loss = loss_fn(net(X), y).mean()
        loss.backward()
        trainer.step(1)
    last_loss = float(loss)   # waits for every queued step
    seconds = time.perf_counter() - start
    return steps * profile.batch_size / seconds, last_loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=300, help='timed training steps (default 300)')
    parser.add_argument('--warmup', type=int, default=20, help='untimed steps first (default 20)')
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 1:
        parser.error(f'--steps and --warmup must be at least 1 (got {args.steps} and {args.warmup})')
    reason = usable_gpu_or_reason()
    if reason:
        print(f'No GPU check: {reason}')
        return 1
    from d2lutils import gpu
    name, (major, minor) = gpu.cuda_device(0) or ('unknown', (0, 0))
    print(f'GPU 0: {name}, compute capability {major}.{minor}')
    rate, last_loss = train_steps(args.steps, args.warmup)
    print(f"ResNet-18, profile 'gpu' (96x96, batch 256): {args.steps} steps after {args.warmup} "
          f"warm-up, last loss {last_loss:.3f}")
    print(f'examples/s: {rate:.0f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
