"""Depth that helps: plain and residual networks of several depths, trained long on Fashion-MNIST.

He et al. (2016, CVPR, Fig. 6 and Table 6) claim two things about depth: without shortcuts the deeper
network reaches a *higher* training error than the shallower one (degradation), and with shortcuts the
deeper one reaches a *lower* training error. Chapter 3b's short live run shows the first; this script
measures both on a scale a CPU can afford, and stores the curves for the chapter to plot.

It trains the networks of ``d2lutils.plain_vs_residual.stacked_cnn`` (6n + 2 layers, option-A
shortcuts, so a plain and a residual network of one depth have the same parameters) with the fixed
recipe ``RECIPE`` below, written here and not read from a run profile, so that a change of profile
does not make the stored result stale. Each job is one (depth, residual, seed); every job sees the
same data in the same order for a seed, the same number of updates and the same schedule.

After every epoch it records the training error on a fixed subset of the training set and the test
error (both measured with the weights of that moment, in prediction mode), the running error over the
epoch's batches, the updates so far, the seconds and the load average, and saves the JSON file and a
checkpoint (weights, optimizer state). Interrupted, a rerun with the same arguments skips the finished
jobs and epochs and continues from the last checkpoint. The file also names the CPU.

Usage (``--depths 8 32 --seeds 0 1 2`` by default; the file declares the jobs of the latest run):
    OMP_NUM_THREADS=2 nohup nice -n 19 .venv/bin/python experiments/depth.py \\
        > experiments/depth.log 2>&1 &               # the whole run (resumes if interrupted)
    .venv/bin/python experiments/depth.py --summary  # the stored result as a table
    .venv/bin/python experiments/depth.py --recipe long --seeds 0   # the long recipe (LONG), its own file
    .venv/bin/python experiments/depth.py --tiny --out /tmp/depth_tiny.json   # seconds: does it run?
"""
import argparse
import json
import math
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / 'benchmarks'))

import d2lutils  # noqa: E402,F401  (first: sets OMP_NUM_THREADS before mxnet starts)
import mxnet as mx  # noqa: E402
import numpy as onp  # noqa: E402
from machine import cpu_description  # noqa: E402  (benchmarks/machine.py)
from mxnet import autograd, gluon, init, np, npx  # noqa: E402

from d2lutils import data  # noqa: E402
from d2lutils.plain_vs_residual import network_name, stacked_cnn  # noqa: E402

RESULTS = HERE / 'depth_results.json'
CHECKPOINTS = HERE / 'checkpoints'  # ignored by git; a job's files are deleted when it finishes

# The experiment's own recipe. SGD with momentum, weight decay 1e-4, batch 128, no augmentation and He
# initialization follow the paper's CIFAR-10 setting (CVPR, Sec. 4.2); its step schedule over 64k
# updates is replaced by a cosine one over this run's updates (a run this short has no room for steps).
# Weight decay applies to every parameter, batch norm's included (MXNet's default).
RECIPE = {
    'train_size': 30_000,        # why not 5,000 or 60,000: experiments/README.md
    'train_eval_size': 5_000,    # the fixed subset of the training set whose error is recorded
    'test_size': 10_000,
    'batch_size': 128,
    'epochs': 4,                 # 940 updates
    'optimizer': 'sgd',
    'lr': 0.1,
    'momentum': 0.9,
    'weight_decay': 1e-4,
    'schedule': 'cosine',        # from lr down to 0 at the last update, no warm-up
    'augmentation': 'none',
    'init': 'he_normal',
    'widths': [16, 32, 64],
}
# The long recipe: the whole training set for 12 epochs (5,628 updates per network, six times the
# short one), the same schedule shape stretched over the run. On 30,000 images and 940 updates the
# deeper residual network had not caught up with the shallower one yet (experiments/README.md); does it
# with more updates, when the 8-layer network's capacity, not its updates, limits its fit?
LONG = dict(RECIPE, train_size=60_000, epochs=12)
# Each recipe and the file its results go to (a file holds the runs of one recipe only).
RECIPES = {'short': (RECIPE, RESULTS), 'long': (LONG, HERE / 'depth_long_results.json')}
# The jobs a run asks for unless told otherwise: every depth, plain and residual, every seed.
DEPTHS = (8, 32)
SEEDS = (0, 1, 2)
# A setting that runs in seconds, for the tests and for trying the script.
TINY = dict(RECIPE, train_size=256, train_eval_size=128, test_size=128, batch_size=64, epochs=2,
            widths=[4, 8, 8])


def job_key(depth, residual, seed):
    return f'{network_name(depth, residual)} seed {seed}'


def declared_jobs(depths, seeds):
    """Every (depth, residual, seed), seed first, so that an early stop leaves whole seeds."""
    return [(depth, residual, seed) for seed in seeds for depth in depths
            for residual in (False, True)]


def updates_per_epoch(recipe):
    return math.ceil(recipe['train_size'] / recipe['batch_size'])


def load_arrays(recipe):
    """Training images, training labels, and the two evaluation sets, as float32 NCHW in [0, 1].

    The training subset (``train_size`` < 60,000) and the fixed subset whose training error is
    recorded are ``d2lutils.data.subset_indices``'s choices; the latter is drawn from the former.
    """
    def prepare(images, labels, keep):
        return (images[keep, None].astype(onp.float32) / 255, labels[keep].astype(onp.int32))
    images, labels = data.read_fashion_mnist('train')
    train = prepare(images, labels, data.subset_indices(len(labels), recipe['train_size']))
    train_eval = tuple(a[data.subset_indices(len(train[1]), recipe['train_eval_size'], seed=1)]
                       for a in train)
    images, labels = data.read_fashion_mnist('test')
    test = prepare(images, labels, data.subset_indices(len(labels), recipe['test_size']))
    return train, train_eval, test


def error(net, images, labels, batch_size=1000):
    """Fraction misclassified, with the network in prediction mode (batch norm's running averages)."""
    correct = np.zeros(())
    for i in range(0, len(labels), batch_size):
        y_hat = net(np.array(images[i:i + batch_size]))
        correct = correct + (y_hat.argmax(axis=1).astype('int32')
                             == np.array(labels[i:i + batch_size])).sum()
    return 1 - float(correct) / len(labels)


def build(recipe, depth, residual, seed):
    """The network and its trainer, seeded: a plain and a residual network of one depth and seed start
    from the same weights (they have the same parameters, created in the same order)."""
    mx.random.seed(seed)
    onp.random.seed(seed)
    # Gluon's Trainer orders its optimizer states by parameter name, and a block's name comes from a
    # counter shared by the whole process: a fresh counter gives a network the same names in the run
    # that saves a checkpoint and in the one that resumes it, whatever either built before.
    with mx.name.NameManager():
        net = stacked_cnn(depth, residual, widths=tuple(recipe['widths']))
    if recipe['init'] != 'he_normal':
        raise ValueError(f"unknown init {recipe['init']!r}")
    net.initialize(init.Xavier(rnd_type='gaussian', factor_type='in', magnitude=2))
    net.hybridize()
    if recipe['schedule'] != 'cosine':
        raise ValueError(f"unknown schedule {recipe['schedule']!r}")
    total = updates_per_epoch(recipe) * recipe['epochs']
    schedule = mx.lr_scheduler.CosineScheduler(max_update=total, base_lr=recipe['lr'], final_lr=0)
    trainer = gluon.Trainer(net.collect_params(), recipe['optimizer'], {
        'learning_rate': recipe['lr'], 'momentum': recipe['momentum'],
        'wd': recipe['weight_decay'], 'lr_scheduler': schedule})
    return net, trainer


def train_epoch(net, trainer, recipe, train, seed, epoch):
    """One pass over the training set in an order fixed by (seed, epoch); the running error."""
    images, labels = train
    order = onp.random.RandomState([seed, epoch]).permutation(len(labels))
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    correct = np.zeros(())
    for i in range(0, len(labels), recipe['batch_size']):
        batch = order[i:i + recipe['batch_size']]
        X, y = np.array(images[batch]), np.array(labels[batch])
        with autograd.record():
            y_hat = net(X)
            batch_loss = loss(y_hat, y)
        batch_loss.backward()
        trainer.step(len(batch))
        correct = correct + (y_hat.argmax(axis=1).astype('int32') == y).sum()
    return 1 - float(correct) / len(labels)


def checkpoint_paths(out, key, epoch):
    """A job's checkpoint files after ``epoch``, in a folder per results file (one per recipe)."""
    stem = CHECKPOINTS / out.stem / f'{key.replace(" ", "_")}-epoch{epoch}'
    return stem.with_suffix('.params'), stem.with_suffix('.states')


def remove_checkpoints(out, key, before=None):
    """Delete a job's checkpoint files (those of epochs before ``before`` only, when given)."""
    for path in (CHECKPOINTS / out.stem).glob(f'{key.replace(" ", "_")}-epoch*'):
        epoch = int(path.stem.rsplit('epoch', 1)[1])
        if before is None or epoch < before:
            path.unlink()


def save(results, out):
    """Write the JSON file whole, then move it into place: an interruption never leaves half a file."""
    tmp = out.with_name(out.name + '.tmp')
    tmp.write_text(json.dumps(results, indent=1) + '\n')
    os.replace(tmp, out)


def load_results(out, recipe):
    """The results stored in ``out``, or a fresh record; refuses a file made with another recipe."""
    if not out.exists():
        return {'recipe': recipe, 'jobs': [], 'runs': {}}
    results = json.loads(out.read_text())
    if results['recipe'] != recipe:
        changed = sorted(k for k in set(recipe) | set(results['recipe'])
                         if recipe.get(k) != results['recipe'].get(k))
        raise SystemExit(f'{out} was made with another recipe (differs in: {", ".join(changed)}). '
                         f'Its runs cannot be continued with this one: pass another --out, or '
                         f'delete the file to start again.')
    return results


def run_job(results, out, recipe, arrays, depth, residual, seed):
    """Train one job from its last finished epoch to the end, saving after every epoch."""
    key = job_key(depth, residual, seed)
    run = results['runs'].setdefault(key, {'depth': depth, 'residual': residual, 'seed': seed,
                                           'cpus': [], 'epochs': []})
    done = len(run['epochs'])
    if done == recipe['epochs']:
        return
    train, train_eval, test = arrays
    net, trainer = build(recipe, depth, residual, seed)
    params, states = checkpoint_paths(out, key, done)
    if done and not (params.exists() and states.exists()):
        print(f'{key}: no checkpoint of epoch {done} (a fresh clone?): training it again from the '
              f'start', flush=True)
        done, run['epochs'] = 0, []
    if done:
        net.load_parameters(str(params))
        trainer.load_states(str(states))
        print(f'{key}: resuming after epoch {done}', flush=True)
    cpu = cpu_description()
    if cpu not in run['cpus']:
        run['cpus'].append(cpu)
    for epoch in range(done + 1, recipe['epochs'] + 1):
        start = time.perf_counter()
        running = train_epoch(net, trainer, recipe, train, seed, epoch)
        seconds = time.perf_counter() - start
        record = {'epoch': epoch, 'updates': trainer.optimizer.num_update,
                  'train_error': error(net, *train_eval), 'test_error': error(net, *test),
                  'running_train_error': running, 'seconds': round(seconds, 1),
                  'load_average': [round(x, 2) for x in os.getloadavg()]}
        if epoch < recipe['epochs']:
            params, states = checkpoint_paths(out, key, epoch)
            params.parent.mkdir(parents=True, exist_ok=True)
            net.save_parameters(str(params))
            trainer.save_states(str(states))
        run['epochs'].append(record)
        save(results, out)
        remove_checkpoints(out, key, before=epoch)
        print(f'{key} epoch {epoch}/{recipe["epochs"]}: training error {record["train_error"]:.4f} '
              f'(running {running:.4f}), test error {record["test_error"]:.4f}, '
              f'{record["updates"]} updates, {seconds:.0f} s, load {record["load_average"][0]}',
              flush=True)
    remove_checkpoints(out, key)


def run_all(recipe, out, depths=DEPTHS, seeds=SEEDS):
    """Run every job of ``depths`` and ``seeds`` that is not finished in ``out``.

    The file declares these jobs (``jobs``); runs of other jobs that it holds stay in ``runs``, so a
    later call that asks for them again continues them.
    """
    results = load_results(out, recipe)
    results['jobs'] = [list(job) for job in declared_jobs(depths, seeds)]
    print(f'{cpu_description()}; load {os.getloadavg()[0]:.2f}; {len(results["jobs"])} jobs, '
          f'{updates_per_epoch(recipe) * recipe["epochs"]} updates each -> {out}', flush=True)
    arrays = load_arrays(recipe)
    for depth, residual, seed in results['jobs']:
        run_job(results, out, recipe, arrays, depth, residual, seed)
    return results


def second_half(values):
    """The values of the second half of the epochs (the later ones when their number is odd)."""
    return values[len(values) // 2:]


def summary(results):
    """One line per job: the last epoch's errors, the mean training error over the second half of the
    epochs (finished jobs only) and the minutes; then, per seed, whether each half of the claim
    holds."""
    lines = [f'{"job":20s} {"epochs":>6s} {"train err":>9s} {"2nd half":>8s} {"test err":>8s} '
             f'{"minutes":>7s}']
    for depth, residual, seed in results['jobs']:
        key = job_key(depth, residual, seed)
        epochs = results['runs'].get(key, {}).get('epochs', [])
        if not epochs:
            lines.append(f'{key:20s} {0:6d}')
            continue
        train = [e['train_error'] for e in epochs]
        half = (f'{onp.mean(second_half(train)):8.4f}'
                if len(epochs) == results['recipe']['epochs'] else f'{"-":>8s}')
        lines.append(f'{key:20s} {len(epochs):6d} {train[-1]:9.4f} {half} '
                     f'{epochs[-1]["test_error"]:8.4f} {sum(e["seconds"] for e in epochs) / 60:7.1f}')
    shallow = min(depth for depth, _, _ in results['jobs'])
    for seed, depth, residual_lower, plain_higher in both_halves(results):
        lines.append(f'seed {seed}, second half: residual-{depth} below residual-{shallow}: '
                     f'{"yes" if residual_lower else "no"}; plain-{depth} above plain-{shallow}: '
                     f'{"yes" if plain_higher else "no"}')
    return '\n'.join(lines)


def both_halves(results):
    """Per seed and deeper depth: does the claim's each half hold at every epoch of the second half?

    Returns rows ``(seed, depth, residual_lower, plain_higher)``, comparing with the shallowest depth:
    ``residual_lower`` when the deeper residual network's training error is below the shallow one's,
    ``plain_higher`` when the deeper plain network's is above the shallow one's. Jobs not finished
    are left out.
    """
    def curve(depth, residual, seed):
        run = results['runs'].get(job_key(depth, residual, seed), {})
        epochs = run.get('epochs', [])
        return onp.array(second_half([e['train_error'] for e in epochs])) \
            if len(epochs) == results['recipe']['epochs'] else None
    depths = sorted({depth for depth, _, _ in results['jobs']})
    seeds = sorted({seed for _, _, seed in results['jobs']})
    shallow, rows = depths[0], []
    for seed in seeds:
        for depth in depths:
            curves = [curve(d, r, seed) for d in (shallow, depth) for r in (False, True)]
            if depth == shallow or any(c is None for c in curves):
                continue
            plain_shallow, residual_shallow, plain_deep, residual_deep = curves
            rows.append((seed, depth, bool(onp.all(residual_deep < residual_shallow)),
                         bool(onp.all(plain_deep > plain_shallow))))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--recipe', choices=sorted(RECIPES), default='short',
                        help='short: 30,000 images, 940 updates; long: 60,000 images, 5,628 updates')
    parser.add_argument('--out', type=pathlib.Path, help="default: the recipe's file (RECIPES)")
    parser.add_argument('--depths', type=int, nargs='+', default=DEPTHS, help='6n + 2 each')
    parser.add_argument('--seeds', type=int, nargs='+', default=SEEDS)
    parser.add_argument('--tiny', action='store_true', help='the tiny setting (seconds)')
    parser.add_argument('--summary', action='store_true', help='print the stored results only')
    args = parser.parse_args(argv)
    npx.set_np()
    recipe, out = RECIPES[args.recipe]
    if args.tiny:
        recipe = TINY
    out = args.out or out
    if args.summary:
        print(summary(load_results(out, recipe)))
        return
    results = run_all(recipe, out, args.depths, args.seeds)
    print(summary(results))


if __name__ == '__main__':
    main()
