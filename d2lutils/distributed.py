"""A real ``dist_sync`` training job on one machine: scheduler, server and workers as processes.

MXNet's distributed key-value store (parameter server, 参数服务器) has three roles, each a process:
a **scheduler** that introduces the others to each other, **servers** that hold the weights and
apply the optimizer, and **workers** that compute gradients on their own part of the data. Every
process learns its role and where the scheduler is from the ``DMLC_*`` environment variables, the
same ones MXNet's ``tools/launch.py`` sets on each machine of a cluster. A scheduler or server
process only has to ``import mxnet``: the import sees its role and serves until the workers finish.

``run_local`` starts one scheduler, one server and ``num_workers`` workers on the loopback address
(127.0.0.1; nothing listens on another interface), each worker training the book's ResNet-18 for a
few steps on its own shard of Fashion-MNIST with ``kvstore='dist_sync'``, and returns what each
worker reported. ``python -m d2lutils.distributed worker ...`` is the worker's side.

We write our own launcher instead of calling ``tools/launch.py`` because the pip wheel does not ship
that script; the environment variables are the same.
"""
import argparse
import dataclasses
import functools
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Annotated

from d2lutils import arguments
from d2lutils.arguments import Check, checked

LOOPBACK = '127.0.0.1'


@dataclasses.dataclass
class WorkerReport:
    """What one worker saw: its shard, its loss at every step, and fingerprints of its weights."""
    rank: int
    num_workers: int
    shard_size: int
    losses: list
    weights_sha256: str       # the trainable parameters, byte for byte
    running_stats_sha256: str  # batch norm's running means and variances (never sent to the server)

    @property
    def loss_fell(self):
        """True when the last three steps' mean loss is below the first three steps'."""
        k = min(3, len(self.losses) // 2)
        return sum(self.losses[-k:]) / k < sum(self.losses[:k]) / k


@dataclasses.dataclass
class JobResult:
    """The workers' reports (ordered by rank) and the process group the job ran in."""
    workers: list
    process_group: int
    seconds: float

    @property
    def same_weights(self):
        return len({w.weights_sha256 for w in self.workers}) == 1

    @property
    def same_running_stats(self):
        return len({w.running_stats_sha256 for w in self.workers}) == 1


def free_port():
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


Count = Annotated[int, Check(arguments.positive_int)]
STEM_NAMES = ('imagenet', 'small', 'small-stride2')  # d2lutils.models.STEMS (not imported: the
# scheduler and server processes import only this module's callers' d2lutils and mxnet)


@checked
def dmlc_environment(role: Annotated[str, Check(arguments.one_of,
                                                choices=('scheduler', 'server', 'worker'))],
                     port: Annotated[int, Check(arguments.int_between, low=1, high=65535)],
                     num_workers: Count, num_servers: Count = 1):
    """The variables ps-lite reads: the role, the scheduler's address, how many of each role.

    ``DMLC_NODE_HOST`` makes every process bind and announce 127.0.0.1; without it ps-lite picks
    the machine's first network interface. On a real cluster each machine leaves it out (or sets its
    own address) and ``DMLC_PS_ROOT_URI`` names the scheduler's machine.
    """
    return {'DMLC_ROLE': role, 'DMLC_PS_ROOT_URI': LOOPBACK, 'DMLC_PS_ROOT_PORT': str(port),
            'DMLC_NUM_SERVER': str(num_servers), 'DMLC_NUM_WORKER': str(num_workers),
            'DMLC_NODE_HOST': LOOPBACK}


@checked
def run_local(num_workers: Count = 2, steps: Count = 10, batch_size: Count = 32,
              lr: Annotated[float, Check(arguments.positive_finite, example='0.01')] = 0.01,
              stem: Annotated[str, Check(arguments.one_of, choices=STEM_NAMES)] = 'imagenet',
              width: Annotated[float, Check(arguments.positive_finite, example='0.25')] = 1.0,
              examples: Annotated[int | None, Check(arguments.positive_int,
                                                    none_means='just enough for the steps')] = None,
              timeout: Annotated[float, Check(arguments.positive_finite, example='300')] = 300):
    """Start a scheduler, a server and ``num_workers`` workers; return their ``JobResult``.

    Each worker trains ``models.resnet(18, stem=stem, width=width)`` for ``steps`` steps of
    ``batch_size`` examples from its shard (every ``num_workers``-th image of the first ``examples`` training
    images; default just enough for the steps). Every process runs with one OpenMP thread, so the
    workers do not fight over the cores. All processes share one process group, which is killed when
    the job ends, fails or runs past ``timeout`` seconds: nothing is left running.

    ``lr`` is the rate for the averaged gradient of the whole step (all workers' batches): 0.01,
    because a few steps from random weights at 0.05, with SGD's momentum 0.9 and batches of 16 or
    32, made the loss jump up and down rather than fall.
    """
    examples = examples or num_workers * steps * batch_size
    if examples < num_workers * batch_size:
        raise arguments.ArgumentError(f'examples={examples} leaves some worker less than one batch of '
                         f'{batch_size}; use at least {num_workers * batch_size}.')
    port = free_port()
    base_env = {**os.environ, 'OMP_NUM_THREADS': '1',
                'PYTHONPATH': os.pathsep.join(filter(None, [_repo_root(),
                                                            os.environ.get('PYTHONPATH')]))}
    worker_cmd = [sys.executable, '-m', 'd2lutils.distributed', 'worker', '--steps', str(steps),
                  '--batch-size', str(batch_size), '--lr', str(lr), '--stem', stem,
                  '--width', str(width), '--examples', str(examples)]
    roles = [('scheduler', [sys.executable, '-c', 'import d2lutils, mxnet']),
             ('server', [sys.executable, '-c', 'import d2lutils, mxnet'])]
    roles += [('worker', worker_cmd)] * num_workers
    start, procs, group = time.perf_counter(), [], None
    try:
        for role, cmd in roles:
            env = {**base_env, **dmlc_environment(role, port, num_workers)}
            # The first process starts a new process group; the others join it.
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, **_in_process_group(0 if group is None else group))
            group = proc.pid if group is None else group
            procs.append((role, proc))
        reports = []
        for role, proc in procs[2:]:
            out, err = _wait_for_worker(proc, procs[:2], start + timeout, timeout)
            if proc.returncode != 0:
                raise RuntimeError(f'a dist_sync worker failed (exit status {proc.returncode}):\n'
                                   f'{err[-2000:]}')
            reports.append(WorkerReport(**json.loads(out.strip().splitlines()[-1])))
        for role, proc in procs[:2]:  # they end by themselves once every worker has finished
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass  # the finally below stops it
        return JobResult(sorted(reports, key=lambda r: r.rank), group,
                         time.perf_counter() - start)
    finally:
        stop_process_group(group, [proc for _, proc in procs])


def _wait_for_worker(worker, helpers, deadline, timeout):
    """The worker's (stdout, stderr) once it exits; stop at once if the scheduler or the server
    died first (e.g. its port was taken), instead of waiting for the whole timeout."""
    while True:
        try:
            return worker.communicate(timeout=min(1.0, max(deadline - time.perf_counter(), 0.01)))
        except subprocess.TimeoutExpired:
            pass
        for role, helper in helpers:
            if helper.poll() not in (None, 0):
                lines = [line for line in helper.stderr.read().splitlines() if line.strip()]
                cause = lines[-1] if lines else 'no message'
                raise RuntimeError(f'the dist_sync {role} exited (status {helper.returncode}) '
                                   f'before the workers finished, so they never could: {cause} '
                                   f'("bind failed": its port was taken; run the job again).')
        if time.perf_counter() >= deadline:
            raise TimeoutError(f'a dist_sync worker did not finish within {timeout:g} s; '
                               'raise timeout= or lower steps=.')


def _in_process_group(group):
    """Popen's arguments that put the child in process group ``group`` (0: a new one, its own).
    Python 3.11 has Popen's process_group; 3.10 does the same setpgid in the child, before exec."""
    if sys.version_info >= (3, 11):
        return {'process_group': group}
    return {'preexec_fn': functools.partial(os.setpgid, 0, group)}


def stop_process_group(group, procs):
    """Kill every process of ``group`` (SIGKILL) and reap the ones this process started."""
    if group is not None:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:  # everything already exited
            pass
    for proc in procs:
        try:
            proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            pass


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fingerprint(params):
    """SHA-256 of the parameters' values, in order: equal only when every byte is equal."""
    digest = hashlib.sha256()
    for _, param in params:
        digest.update(param.data().asnumpy().tobytes())
    return digest.hexdigest()


def worker_main(steps, batch_size, lr, stem, width, examples):
    """One worker: train on this worker's shard with a dist_sync kvstore, print a JSON report."""
    import d2lutils  # sets the threads before mxnet starts
    import mxnet as mx
    from mxnet import autograd, gluon, npx
    from d2lutils import data, models
    npx.set_np()
    kv = mx.kv.create('dist_sync')
    rank, num_workers = kv.rank, kv.num_workers
    d2lutils.seed_everything(0)
    images, labels = data.read_fashion_mnist('train')
    shard = list(range(rank, examples, num_workers))
    loader = gluon.data.DataLoader(
        gluon.data.ArrayDataset(images[shard, :, :, None], labels[shard]), batch_size,
        shuffle=True, last_batch='discard', batchify_fn=data.make_batchify())
    net = models.resnet(18, num_classes=10, stem=stem, width=width)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    # Each worker's loss is the SUM over its batch, and the server adds the workers' gradients; so
    # trainer.step divides by the batch of all workers together, and the update uses the average
    # gradient, as one machine with the whole batch would. (Averaging the loss here as well would
    # divide by the batch twice: the learning rate would shrink by a factor of batch_size.)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr, 'momentum': 0.9},
                            kvstore=kv)
    losses = []
    while len(losses) < steps:
        for X, y in loader:
            with autograd.record():
                batch_loss = loss(net(X), y).sum()
            batch_loss.backward()
            trainer.step(batch_size * num_workers)
            losses.append(float(batch_loss) / batch_size)  # the mean over this worker's batch
            if len(losses) == steps:
                break
    trainable = models.named_parameters(net)
    running = [(name, p) for name, p in models.named_parameters(net, trainable_only=False)
               if p.grad_req == 'null']
    report = WorkerReport(rank, num_workers, len(shard), losses, fingerprint(trainable),
                          fingerprint(running))
    print(json.dumps(dataclasses.asdict(report)), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description='The worker side of run_local (started by it).')
    parser.add_argument('role', choices=['worker'])
    parser.add_argument('--steps', type=int, required=True)
    parser.add_argument('--batch-size', type=int, required=True)
    parser.add_argument('--lr', type=float, required=True)
    parser.add_argument('--stem', required=True)
    parser.add_argument('--width', type=float, default=1.0)
    parser.add_argument('--examples', type=int, required=True)
    args = parser.parse_args(argv)
    if 'DMLC_ROLE' not in os.environ:
        parser.error('run by d2lutils.distributed.run_local, which sets the DMLC_* variables')
    worker_main(args.steps, args.batch_size, args.lr, args.stem, args.width, args.examples)


if __name__ == '__main__':
    main()
