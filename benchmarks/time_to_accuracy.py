"""Time to accuracy: train the book's ResNet-18 in the ``cpu`` profile end to end, and time it.

Loads Fashion-MNIST, builds ``d2lutils.models.resnet(18)``, trains it with the profile's recipe
(batch, learning rate and its schedule, momentum, weight decay, epochs) exactly as chapter 5 does,
and prints one line per epoch, then, last,

    test accuracy A after M minutes

where M counts everything from loading the data to the final evaluation (wall-clock time).

Usage:
    python benchmarks/time_to_accuracy.py                 # the cpu profile as it is
    python benchmarks/time_to_accuracy.py --profile quick # seconds; checks that the script runs
    python benchmarks/time_to_accuracy.py --lr 0.1 --momentum 0 --wd 0 --schedule constant
                                                          # override single settings to compare recipes
"""
import argparse
import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import d2lutils  # noqa: E402  (first: sets OMP_NUM_THREADS before mxnet starts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--profile', default='cpu')
    parser.add_argument('--batch', type=int, help='batch size (default: the profile\'s)')
    parser.add_argument('--lr', type=float, help='(peak) learning rate')
    parser.add_argument('--epochs', type=int)
    parser.add_argument('--momentum', type=float)
    parser.add_argument('--wd', type=float, help='weight decay')
    parser.add_argument('--schedule', choices=['constant', 'cosine', 'linear'])
    parser.add_argument('--warmup', type=float, help='warm-up epochs')
    parser.add_argument('--hybridize', choices=['none', 'plain', 'static'], default='static')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    import mxnet as mx
    from mxnet import npx
    from d2lutils import data, get_profile, models, training
    npx.set_np()
    d2lutils.seed_everything(args.seed)

    overrides = {'batch_size': args.batch, 'lr': args.lr, 'num_epochs': args.epochs,
                 'momentum': args.momentum, 'weight_decay': args.wd, 'lr_schedule': args.schedule,
                 'warmup_epochs': args.warmup}
    profile = dataclasses.replace(get_profile(args.profile),
                                  **{k: v for k, v in overrides.items() if v is not None})
    print(f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS")}, hybridize={args.hybridize}',
          flush=True)
    train_iter, test_iter = data.load_with_profile(profile)
    net = models.resnet(18, num_classes=10)
    hybridize = {'none': False, 'plain': True,
                 'static': {'static_alloc': True, 'static_shape': True}}[args.hybridize]
    history = training.train(net, train_iter, test_iter, profile.num_epochs, profile.lr,
                             devices=mx.cpu(), hybridize=hybridize, live_plot=False,
                             optimizer_params=profile.optimizer_params(len(train_iter)),
                             profile=profile)
    minutes = (time.perf_counter() - start) / 60
    print(f'test accuracy {history.test_acc[-1]:.4f} after {minutes:.2f} minutes')


if __name__ == '__main__':
    main()
