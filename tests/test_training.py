"""The shared training loop: it learns, it moves every batch to the model's device(s)."""
import time

import mxnet as mx
import pytest
from mxnet import np, npx
from mxnet.gluon import nn

from d2lutils import data, get_profile, seed_everything, training

npx.set_np()


def small_net():
    net = nn.HybridSequential()
    net.add(nn.Dense(64, activation='relu'), nn.Dense(10))
    return net


@pytest.fixture(scope='module')
def loaders():
    return data.load_fashion_mnist(64, train_subset=512, test_subset=256)


def test_loss_falls_on_a_small_subset(loaders):
    seed_everything(0)
    start = time.perf_counter()
    history = training.train(small_net(), *loaders, num_epochs=4, lr=0.3, devices=mx.cpu(),
                             live_plot=False)
    seconds = time.perf_counter() - start
    assert len(history.train_loss) == 4
    assert history.train_loss[-1] < 0.75 * history.train_loss[0]
    assert history.test_acc[-1] > 0.5  # ten classes: chance is 0.1
    # 512 training examples an epoch: the epochs' training times add up to less than the call
    assert 0 < sum(512 / rate for rate in history.examples_per_sec) < seconds


def test_model_on_another_device_gets_its_batches_there(loaders):
    """The batches come out of the loader on cpu(0); a model on cpu(1) only works if they move."""
    net = small_net()
    net.initialize(ctx=mx.cpu(1))
    X, _ = next(iter(loaders[0]))
    assert X.ctx == mx.cpu(0)
    with pytest.raises(RuntimeError, match=r'only initialized on \[cpu\(1\)\]'):
        net(X)  # proof that forgetting to move a batch fails loudly
    history = training.train(net, *loaders, num_epochs=1, lr=0.1, devices=mx.cpu(1),
                             live_plot=False)
    assert history.devices == [mx.cpu(1)]
    assert training.model_devices(net) == [mx.cpu(1)]


def test_batches_split_across_several_devices(loaders):
    seed_everything(0)
    net = small_net()
    history = training.train(net, *loaders, num_epochs=2, lr=0.3, devices=[mx.cpu(0), mx.cpu(1)],
                             live_plot=False)
    assert set(training.model_devices(net)) == {mx.cpu(0), mx.cpu(1)}
    assert history.train_loss[-1] < history.train_loss[0]


def test_split_batch_keeps_every_example():
    X, y = np.ones((10, 3)), np.arange(10)
    X_parts, y_parts = training.split_batch(X, y, [mx.cpu(0), mx.cpu(1)])
    assert [p.shape[0] for p in X_parts] == [5, 5]
    assert [p.ctx for p in y_parts] == [mx.cpu(0), mx.cpu(1)]


def test_empty_device_list_is_refused():
    with pytest.raises(ValueError, match='at least one context'):
        training.as_device_list([])


def test_prints_its_settings_then_a_line_per_epoch_outside_a_notebook(loaders, capsys):
    training.train(small_net(), *loaders, num_epochs=2, lr=0.1, devices=mx.cpu(),
                   optimizer_params={'momentum': 0.9})
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == (f'Training: 2 epoch(s) x {len(loaders[0])} batches, SGD lr 0.1, '
                        f'momentum 0.9, on cpu(0)')
    assert lines[1].startswith('epoch 1/2: loss') and lines[2].startswith('epoch 2/2: loss')
    assert len(lines) == 3


def test_live_curves_keep_the_settings_line_above_the_summary(loaders, capsys):
    """Each redraw of the curves clears a notebook cell's output, the first line with it."""
    training.train(small_net(), *loaders, num_epochs=1, lr=0.1, devices=mx.cpu(), live_plot=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2] == f'Training: 1 epoch(s) x {len(loaders[0])} batches, SGD lr 0.1, on cpu(0)'
    assert lines[-1].startswith('loss ')


def test_the_settings_line_shows_the_schedule_the_run_gets():
    """A profile's schedule over a run of the profile's length, and one that ends halfway."""
    cpu = get_profile('cpu')
    epochs, updates = cpu.num_epochs, cpu.num_epochs * 100
    line = training.describe_run(epochs, 0.1, 100, [mx.cpu(0), mx.cpu(1)], cpu.optimizer_params(100),
                                 hybridize=True)
    assert line == (f'Training: {epochs} epoch(s) x 100 batches, SGD lr 0.1, momentum 0.9, wd 0.0005, '
                    f'CosineScheduler: warm-up 30 updates, {updates} updates in all, on cpu(0), cpu(1), '
                    'hybridized')
    longer = training.describe_run(2 * epochs, 0.1, 100, [mx.cpu()], cpu.optimizer_params(100))
    assert (f'CosineScheduler: warm-up 30 updates, {updates} updates in all (the run makes '
            f'{2 * updates})') in longer
