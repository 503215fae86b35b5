"""Training throughput of the book's ResNet-18: MXNet against an equivalent PyTorch model.

Prints the machine (CPU model, AVX-512/AMX flags, load average), then examples per second of one
training step (forward, softmax cross-entropy, backward, SGD update) at 28x28 and 96x96, for MXNet
(d2lutils.models.resnet with the chosen stem, hybridized) and for the same layers written in
PyTorch, with the same batch. ``--stem`` and ``--width`` pick the network: by default the one the
``cpu`` profile trains; ``--stem imagenet --width 1`` is the ``gpu`` profile's. Each measurement runs in its own subprocess, so the two
frameworks never share a process (each has its own OpenMP thread pool), and the frameworks alternate
size by size so that both see the same load on a shared machine. The last line is

    mxnet/pytorch throughput ratio: R

with R the geometric mean, over the sizes, of MXNet's rate divided by PyTorch's.

PyTorch is a benchmark-only extra (``pip install torch==2.13.0``, CPU build); the book never needs it.

Usage:
    python benchmarks/throughput.py                     # both frameworks, 28 and 96, batch 128
    python benchmarks/throughput.py --stem imagenet --width 1   # the gpu profile's network
    python benchmarks/throughput.py --pytorch-variant bf16 --sizes 96   # against bf16 autocast
    python benchmarks/throughput.py --sizes 28 --rounds 3
    python benchmarks/throughput.py --mxnet-variant plain   # MXNet settings before tuning
Variants (MXNet): plain (hybridize()), static (static_alloc + static_shape, the default),
bf16 (static + mxnet.contrib.amp bfloat16 conversion), naive (static + MXNET_ENGINE_TYPE=NaiveEngine),
predict (static, forward pass only: what evaluating the test set costs).
Variants (PyTorch): fp32 (the default), channels_last, bf16 (autocast + channels_last), predict
(fp32, eval mode, no_grad).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as onp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

try:
    from benchmarks.machine import cpu_description, load_average  # imported as a module (cpu_peak, tests)
except ImportError:
    from machine import cpu_description, load_average  # noqa: E402  (run as a script)


def mxnet_rate(size, batch, steps, warmup, variant, stem, width=1.0):
    """Examples per second of MXNet training steps on random data (run in a fresh process)."""
    if variant == 'naive':
        os.environ['MXNET_ENGINE_TYPE'] = 'NaiveEngine'
    import d2lutils  # noqa: F401  (sets OMP_NUM_THREADS before mxnet starts)
    import mxnet as mx
    from mxnet import autograd, gluon, nd, np, npx
    from d2lutils import models
    mx.random.seed(0)
    if variant != 'bf16':
        npx.set_np()  # before the network is built: Gluon's layers pick the array type then
    net = models.resnet(18, num_classes=10, stem=stem, width=width)
    net.initialize(mx.init.Xavier())
    if variant == 'bf16':
        # AMP's conversion returns a legacy SymbolBlock, which fails in NumPy mode: use NDArrays.
        from mxnet.contrib import amp
        X = nd.random.uniform(shape=(batch, 1, size, size))
        y = nd.array(onp.random.RandomState(0).randint(0, 10, size=batch))
        net.hybridize(static_alloc=True, static_shape=True)
        net(X)
        net = amp.convert_hybrid_block(net, target_dtype='bfloat16', ctx=mx.cpu())
    else:
        X = np.random.uniform(size=(batch, 1, size, size))
        y = np.random.randint(0, 10, size=(batch,))
    if variant == 'plain':
        net.hybridize()
    else:
        net.hybridize(static_alloc=True, static_shape=True)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), 'sgd',
                            {'learning_rate': 0.05, 'momentum': 0.9, 'wd': 5e-4})

    def step():
        if variant == 'predict':  # inference only, as evaluating the test set runs
            return net(X)
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(batch)

    for _ in range(warmup):
        step()
    mx.nd.waitall()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    mx.nd.waitall()
    return batch * steps / (time.perf_counter() - start)


def torch_model(stem, width=1.0, num_classes=10):
    """ResNet-18 as the book builds it (the same stem and width, basic blocks, no conv bias before BN)."""
    from torch import nn
    from d2lutils.models import STAGE_WIDTHS, STEM_WIDTH, STEMS, widen

    class Residual(nn.Module):
        def __init__(self, in_ch, out_ch, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_ch)
            self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_ch)
            self.relu = nn.ReLU()
            self.shortcut = None
            if stride != 1 or in_ch != out_ch:
                self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
                                              nn.BatchNorm2d(out_ch))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + (x if self.shortcut is None else self.shortcut(x)))

    kernel, stride, max_pool = STEMS[stem]
    in_ch = widen(STEM_WIDTH, width)
    layers = [nn.Conv2d(1, in_ch, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(in_ch),
              nn.ReLU()]
    if max_pool:
        layers.append(nn.MaxPool2d(3, 2, 1))
    for i, channels in enumerate(widen(c, width) for c in STAGE_WIDTHS['basic']):
        stride = 1 if i == 0 else 2
        layers += [Residual(in_ch, channels, stride), Residual(channels, channels, 1)]
        in_ch = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_ch, num_classes)]
    return nn.Sequential(*layers)


def torch_rate(size, batch, steps, warmup, variant, stem, width=1.0):
    """Examples per second of PyTorch training steps on random data (run in a fresh process)."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    net = torch_model(stem, width)
    X = torch.rand(batch, 1, size, size)
    y = torch.randint(0, 10, (batch,))
    if variant in ('channels_last', 'bf16'):
        net = net.to(memory_format=torch.channels_last)
        X = X.to(memory_format=torch.channels_last)
    loss = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

    def step():
        if variant == 'predict':  # inference only, as evaluating the test set runs
            with torch.no_grad():
                return net.eval()(X)
        opt.zero_grad(set_to_none=True)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=(variant == 'bf16')):
            l = loss(net(X), y)
        l.backward()
        opt.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def measure(framework, size, batch, steps, warmup, variant, stem, width=1.0):
    """Run one measurement in a subprocess and return its rate."""
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', framework, '--sizes', str(size),
           '--batch', str(batch), '--steps', str(steps), '--warmup', str(warmup),
           f'--{framework}-variant', variant, '--stem', stem, '--width', str(width)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])['rate']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[28, 96])
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--steps', type=int, default=0,
                        help='timed steps per measurement (default: 20 at 28x28, 5 at 96x96)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=2,
                        help='alternating rounds; the best of each is kept')
    parser.add_argument('--mxnet-variant', default='static',
                        choices=['plain', 'static', 'bf16', 'naive', 'predict'])
    parser.add_argument('--pytorch-variant', default='fp32',
                        choices=['fp32', 'channels_last', 'bf16', 'predict'])
    parser.add_argument('--frameworks', nargs='+', default=['mxnet', 'pytorch'])
    parser.add_argument('--stem', help="the network's stem (default: the cpu profile's)")
    parser.add_argument('--width', type=float, help="the network's width (default: the cpu profile's)")
    parser.add_argument('--worker', choices=['mxnet', 'pytorch'], help=argparse.SUPPRESS)
    args = parser.parse_args()
    from d2lutils import get_profile, models
    stem = args.stem or get_profile('cpu').stem
    width = get_profile('cpu').width if args.width is None else args.width
    if stem not in models.STEMS:
        parser.error(f'--stem must be one of {", ".join(sorted(models.STEMS))}, got {stem!r}')
    if not width > 0:
        parser.error(f'--width must be a positive factor, got {width}')

    if args.worker:
        size = args.sizes[0]
        fn = mxnet_rate if args.worker == 'mxnet' else torch_rate
        variant = args.mxnet_variant if args.worker == 'mxnet' else args.pytorch_variant
        print(json.dumps({'rate': fn(size, args.batch, args.steps, args.warmup, variant, stem, width)}))
        return

    print(cpu_description())
    print(f'ResNet-18 with the {stem!r} stem, width {width:g}, batch {args.batch}, MXNet variant '
          f'{args.mxnet_variant!r}, PyTorch variant {args.pytorch_variant!r}, best of '
          f'{args.rounds} round(s); load average {load_average():.1f}', flush=True)
    best = {}
    for size in args.sizes:
        steps = args.steps or (20 if size <= 32 else 5)
        for _ in range(args.rounds):
            for framework in args.frameworks:
                variant = args.mxnet_variant if framework == 'mxnet' else args.pytorch_variant
                rate = measure(framework, size, args.batch, steps, args.warmup, variant, stem, width)
                best[framework, size] = max(best.get((framework, size), 0.0), rate)
                print(f'  {framework:8s} {size}x{size}: {rate:7.1f} examples/s', flush=True)
        print(' | '.join(f'{fw} {size}x{size}: {best[fw, size]:.1f} examples/s'
                         for fw in args.frameworks), flush=True)
    if set(args.frameworks) == {'mxnet', 'pytorch'}:
        ratios = [best['mxnet', s] / best['pytorch', s] for s in args.sizes]
        for size, r in zip(args.sizes, ratios):
            print(f'{size}x{size}: mxnet/pytorch = {r:.2f}')
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f'load average at the end {load_average():.1f}')
        print(f'mxnet/pytorch throughput ratio: {geo:.2f}')


if __name__ == '__main__':
    main()
