"""Time to accuracy: train the book's ResNet-18 end to end with a profile's recipe, for several seeds.

Loads Fashion-MNIST, builds ``d2lutils.models.resnet(18, stem=...)``, trains it with the profile's
recipe (batch, learning rate and its schedule, momentum, weight decay, epochs) exactly as chapter 5
does, evaluating on the 10,000 test images after every epoch, once per seed. It prints the machine
(CPU model, AVX-512/AMX flags, load average), one line per epoch and one per seed, then, last,

    test accuracy A after M minutes

with A the mean test accuracy over the seeds and M the mean minutes of one run, counted from loading
the data to the last evaluation (wall-clock time). Each run's line also splits its minutes into
training steps and the rest (evaluation, data loading, start-up), so the evaluation's share shows,
and gives the run's multiply-adds (a cost no CPU changes) and the GFLOP/s its training steps achieved.

Accuracy depends on the seed and on the CPU (different CPUs round differently), not on the load;
minutes depend on the load: the load average printed before and after each run says how quiet the
machine was. ``--record FILE`` appends one JSON line per run, which is what ``benchmarks/README.md``
tabulates.

Usage:
    python benchmarks/time_to_accuracy.py                       # the cpu profile, seed 0
    python benchmarks/time_to_accuracy.py --seeds 0 1 2         # three seeds: mean, min, max
    python benchmarks/time_to_accuracy.py --stem imagenet --epochs 5 --seeds 0 1 2
    python benchmarks/time_to_accuracy.py --profile quick       # seconds; checks that the script runs
"""
import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import d2lutils  # noqa: E402  (first: sets OMP_NUM_THREADS before mxnet starts)
from machine import cpu_description, load_average  # noqa: E402  (benchmarks/machine.py)


def multiply_adds(profile, train_examples, test_examples):
    """Forward multiply-adds per image (the walker's count) and the whole run's, in units of 1e12.

    Training counts three forward passes' worth per image (the backward pass computes gradients for
    both the activations and the weights, each about one forward pass), the usual convention; each
    evaluation one forward pass per test image. Unlike minutes, this does not depend on the CPU.
    """
    from d2lutils import inspection, models
    per_image = inspection.count_macs(
        models.resnet(18, num_classes=10, stem=profile.stem, width=profile.width), (1, 28, 28))
    run = per_image * profile.num_epochs * (3 * train_examples + test_examples)
    return per_image, run / 1e12


def run_once(profile, seed, hybridize):
    """Train one network from scratch with ``seed``; return a dict of what the run gave."""
    import mxnet as mx
    from d2lutils import data, models, training
    load_before = load_average()
    start = time.perf_counter()
    d2lutils.seed_everything(seed)
    train_iter, test_iter = data.load_with_profile(profile)
    net = models.resnet(18, num_classes=10, stem=profile.stem, width=profile.width)
    history = training.train(net, train_iter, test_iter, profile.num_epochs, profile.lr,
                             devices=mx.cpu(), hybridize=hybridize, live_plot=False,
                             optimizer_params=profile.optimizer_params(len(train_iter)))
    seconds = time.perf_counter() - start
    examples = len(train_iter._dataset)
    train_seconds = sum(examples / rate for rate in history.examples_per_sec)
    per_image, run_tera = multiply_adds(profile, examples, len(test_iter._dataset))
    # two floating-point operations per multiply-add, over the training steps' own time
    step_gflops = 2 * 3 * per_image * examples * profile.num_epochs / train_seconds / 1e9
    return {'macs_per_image': per_image, 'run_tera_macs': round(run_tera, 2),
            'train_step_gflops': round(step_gflops, 1),
            'seed': seed, 'test_acc': history.test_acc[-1], 'train_acc': history.train_acc[-1],
            'minutes': seconds / 60, 'train_step_minutes': train_seconds / 60,
            'other_share': 1 - train_seconds / seconds,
            'examples_per_sec': [round(rate, 1) for rate in history.examples_per_sec],
            'load_before': load_before, 'load_after': load_average()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--profile', default='cpu')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0],
                        help='one run per seed (default: 0)')
    parser.add_argument('--stem', help="the network's stem: imagenet, small or small-stride2")
    parser.add_argument('--width', type=float,
                        help="every layer's channels times this factor (default: the profile's)")
    parser.add_argument('--batch', type=int, help='batch size (default: the profile\'s)')
    parser.add_argument('--lr', type=float, help='(peak) learning rate')
    parser.add_argument('--epochs', type=int)
    parser.add_argument('--momentum', type=float)
    parser.add_argument('--wd', type=float, help='weight decay')
    parser.add_argument('--schedule', choices=['constant', 'cosine', 'linear'])
    parser.add_argument('--warmup', type=float, help='warm-up epochs')
    parser.add_argument('--hybridize', choices=['none', 'plain', 'static'], default='static')
    parser.add_argument('--record', help='append one JSON line per run to this file')
    args = parser.parse_args()

    from mxnet import npx
    from d2lutils import get_profile, models
    npx.set_np()
    overrides = {'batch_size': args.batch, 'lr': args.lr, 'num_epochs': args.epochs,
                 'momentum': args.momentum, 'weight_decay': args.wd, 'lr_schedule': args.schedule,
                 'warmup_epochs': args.warmup, 'stem': args.stem, 'width': args.width}
    profile = dataclasses.replace(get_profile(args.profile),
                                  **{k: v for k, v in overrides.items() if v is not None})
    if profile.stem not in models.STEMS:
        parser.error(f'--stem must be one of {", ".join(sorted(models.STEMS))}, got {profile.stem!r}')
    hybridize = {'none': False, 'plain': True,
                 'static': {'static_alloc': True, 'static_shape': True}}[args.hybridize]
    print(cpu_description())
    print(f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS")}, hybridize={args.hybridize}')
    print(profile, flush=True)

    runs = []
    for seed in args.seeds:
        run = run_once(profile, seed, hybridize)
        runs.append(run)
        print(f'seed {seed}: test accuracy {run["test_acc"]:.4f} after {run["minutes"]:.2f} minutes '
              f'({run["train_step_minutes"]:.2f} in training steps, at {run["train_step_gflops"]} GFLOP/s; '
              f'evaluation, loading and start-up {100 * run["other_share"]:.0f}%); '
              f'{run["run_tera_macs"]} x 1e12 multiply-adds in all; load average {run["load_before"]:.1f} '
              f'before, {run["load_after"]:.1f} after', flush=True)
        if args.record:
            with open(args.record, 'a') as record:
                record.write(json.dumps({'cpu': cpu_description(), 'profile': args.profile,
                                         'stem': profile.stem, 'width': profile.width, 'batch': profile.batch_size,
                                         'lr': profile.lr, 'epochs': profile.num_epochs,
                                         'schedule': profile.lr_schedule,
                                         'threads': os.environ.get('OMP_NUM_THREADS'),
                                         **run}) + '\n')
    accuracies = [run['test_acc'] for run in runs]
    mean_acc = sum(accuracies) / len(accuracies)
    mean_minutes = sum(run['minutes'] for run in runs) / len(runs)
    if len(runs) > 1:
        print(f'{len(runs)} seeds: test accuracy mean {mean_acc:.4f}, min {min(accuracies):.4f}, '
              f'max {max(accuracies):.4f}')
    print(f'test accuracy {mean_acc:.4f} after {mean_minutes:.2f} minutes')


if __name__ == '__main__':
    main()
