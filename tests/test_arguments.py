"""Nothing silently accepted: every bad argument of the public functions is refused by name.

Each refusal must be the right kind of error, and its first line must name the argument and the
value given. Training that blows up (NaN or infinite loss) must stop early with advice.
"""
import dataclasses
import math
import os
import subprocess
import sys
import textwrap

import mxnet as mx
import numpy as onp
import pytest
from mxnet import gluon, np, npx
from mxnet.base import MXNetError
from mxnet.gluon import nn

from d2lutils import arguments, data, get_profile, memory, schedules, seed_everything, training

npx.set_np()

MiB = 1024 ** 2


def initialized(block):
    block.initialize()
    return block


def first_line(err):
    return str(err.value).splitlines()[0]


def assert_names(err, *fragments):
    """The first line of the message holds every fragment (the argument's name, the value...)."""
    line = first_line(err)
    for fragment in fragments:
        assert fragment in line, f'{fragment!r} missing from {line!r}'


# --- the helper itself: what it accepts -----------------------------------------------------------

@pytest.mark.parametrize('value', [1, 128, onp.int64(128), onp.int32(7), onp.uint8(3)])
def test_python_and_numpy_integers_are_accepted(value):
    checked = arguments.positive_int('batch_size', value)
    assert checked == int(value) and type(checked) is int


@pytest.mark.parametrize('value', [0.1, 1, onp.float32(0.5), onp.float64(1e-3), onp.int64(2)])
def test_python_and_numpy_numbers_are_accepted_as_rates(value):
    assert arguments.positive_finite('lr', value) == pytest.approx(float(value))


def test_none_is_allowed_only_where_it_means_something():
    assert arguments.positive_int('resize', None, none_means='keep 28x28') is None
    assert arguments.subset_size('train_subset', None, 60000) is None
    with pytest.raises(TypeError, match='batch_size'):
        arguments.positive_int('batch_size', None)


# --- data.load_fashion_mnist / load_with_profile (no_data_anywhere: conftest.py) ------------------

@pytest.mark.parametrize('kwargs, error, fragments', [
    (dict(batch_size=0), ValueError, ['batch_size', '0', 'positive integer']),
    (dict(batch_size=-5), ValueError, ['batch_size', '-5']),
    (dict(batch_size=100.5), TypeError, ['batch_size', '100.5']),
    (dict(batch_size=128.0), TypeError, ['batch_size', '128.0', 'int(128.0)']),
    (dict(batch_size=True), TypeError, ['batch_size', 'True', 'bool']),
    (dict(batch_size='128'), TypeError, ['batch_size', "'128'"]),
    (dict(batch_size=None), TypeError, ['batch_size', 'None']),
    (dict(batch_size=64, resize=0), ValueError, ['resize', '0', 'None']),
    (dict(batch_size=64, resize=-96), ValueError, ['resize', '-96']),
    (dict(batch_size=64, resize=96.5), TypeError, ['resize', '96.5']),
    (dict(batch_size=64, resize=True), TypeError, ['resize', 'True']),
    (dict(batch_size=64, resize=(96, 96)), TypeError, ['resize', '(96, 96)']),
    (dict(batch_size=64, train_subset=-10), ValueError, ['train_subset', '-10', '60,000']),
    (dict(batch_size=64, train_subset=0), ValueError, ['train_subset', '0']),
    (dict(batch_size=64, train_subset=10_000_000), ValueError, ['train_subset', '10000000',
                                                                '1 to 60,000']),
    (dict(batch_size=64, train_subset=60_001), ValueError, ['train_subset', '60001']),
    (dict(batch_size=64, train_subset=0.5), TypeError, ['train_subset', '0.5']),
    (dict(batch_size=64, test_subset=10_001), ValueError, ['test_subset', '10001', '1 to 10,000']),
    (dict(batch_size=64, test_subset=-1), ValueError, ['test_subset', '-1']),
    (dict(batch_size=64, shuffle='no'), TypeError, ['shuffle', "'no'", 'True or False']),
    (dict(batch_size=64, root=5), TypeError, ['root', '5']),
])
def test_load_fashion_mnist_refuses(no_data_anywhere, kwargs, error, fragments):
    with pytest.raises(error) as err:
        data.load_fashion_mnist(**kwargs)
    assert_names(err, *fragments)


@pytest.mark.parametrize('change, error, fragments', [
    (dict(batch_size=0), ValueError, ['batch_size', '0']),
    (dict(resize=0), ValueError, ['resize', '0']),
    (dict(train_subset=-10), ValueError, ['train_subset', '-10']),
    (dict(test_subset=20_000), ValueError, ['test_subset', '20000']),
])
def test_load_with_profile_refuses_a_bad_profile(no_data_anywhere, change, error, fragments):
    profile = dataclasses.replace(get_profile('quick'), **change)
    with pytest.raises(error) as err:
        data.load_with_profile(profile)
    assert_names(err, *fragments)


def test_load_with_profile_refuses_what_is_not_a_profile(no_data_anywhere):
    with pytest.raises(TypeError) as err:
        data.load_with_profile('quick')
    assert_names(err, 'profile', "'quick'", "get_profile('cpu')")


def test_numpy_integers_are_fine_for_the_loader(tmp_path, monkeypatch):
    from tests.test_data import write_dataset
    monkeypatch.setattr(data, 'FILES', write_dataset(tmp_path / 'mine'))
    train_iter, test_iter = data.load_fashion_mnist(onp.int64(8), resize=onp.int32(32),
                                                    train_subset=onp.int64(16),
                                                    root=tmp_path / 'mine')
    X, _ = next(iter(train_iter))
    assert X.shape == (8, 1, 32, 32) and len(train_iter) == 2


# --- the data folder -----------------------------------------------------------------------------

@pytest.mark.parametrize('where', ['env', 'root'])
def test_a_file_named_as_the_data_folder_is_refused(no_data_anywhere, monkeypatch, where):
    a_file = no_data_anywhere / 'fashion.tar.gz'
    a_file.write_bytes(b'not a folder')
    kwargs = {}
    if where == 'env':
        monkeypatch.setenv(data.ENV_VAR, str(a_file))
    else:
        kwargs['root'] = a_file
    with pytest.raises(ValueError) as err:
        data.read_fashion_mnist('train', **kwargs)
    name = '$D2LUTILS_DATA' if where == 'env' else 'root'
    assert_names(err, name, str(a_file), 'is a file', 'folder')


@pytest.fixture
def unreadable(small_dataset_here, monkeypatch):
    """Reading one good file fails with EACCES, as it does for a non-root user after chmod 000.

    The tests may run as root, whom chmod does not stop, so ``open`` is made to refuse instead.
    gzip.open calls the built-in open, so both kinds of file are covered.
    """
    import builtins
    path = small_dataset_here / 'train-images-idx3-ubyte.gz'
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if os.fspath(file) == str(path):
            raise PermissionError(13, 'Permission denied', str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, 'open', refusing_open)
    return path


@pytest.fixture
def small_dataset_here(no_data_anywhere, monkeypatch):
    from tests.test_data import write_dataset
    monkeypatch.setattr(data, 'FILES', write_dataset(no_data_anywhere / 'mine'))
    return no_data_anywhere / 'mine'


def test_unreadable_file_says_permission_denied_and_not_delete(unreadable):
    with pytest.raises(data.DataError) as err:
        data.read_fashion_mnist('train', root=unreadable.parent)
    assert_names(err, str(unreadable), 'permission denied')
    message = str(err.value)
    assert 'chmod a+r' in message
    assert 'delete' not in message.lower() and 'truncated' not in message


def test_folder_that_cannot_be_searched_says_permission_denied(small_dataset_here, monkeypatch):
    import pathlib
    real_is_file = pathlib.Path.is_file

    def refusing_is_file(self):
        if self.parent == small_dataset_here:
            raise PermissionError(13, 'Permission denied', str(self))
        return real_is_file(self)

    monkeypatch.setattr(pathlib.Path, 'is_file', refusing_is_file)
    with pytest.raises(data.DataError) as err:
        data.read_fashion_mnist('train', root=small_dataset_here)
    assert_names(err, str(small_dataset_here), 'permission denied')


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads a chmod-000 file anyway')
def test_chmod_000_file_says_permission_denied(small_dataset_here):
    path = small_dataset_here / 'train-labels-idx1-ubyte.gz'
    path.chmod(0)
    with pytest.raises(data.DataError, match='permission denied'):
        data.read_fashion_mnist('train', root=small_dataset_here)


# --- training.train ------------------------------------------------------------------------------

def tiny_loaders(n=64, batch_size=16, labels=None, images=None):
    seed_everything(0)
    X = np.random.uniform(size=(n, 1, 8, 8)) if images is None else images
    y = np.random.randint(0, 10, size=(n,)) if labels is None else labels
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y), batch_size=batch_size)
    return loader, loader


def tiny_net(outputs=10):
    net = nn.HybridSequential()
    net.add(nn.Dense(16, activation='relu'), nn.Dense(outputs))
    return net


@pytest.mark.parametrize('kwargs, error, fragments', [
    (dict(num_epochs=0), ValueError, ['num_epochs', '0', 'positive integer']),
    (dict(num_epochs=-2), ValueError, ['num_epochs', '-2']),
    (dict(num_epochs=2.5), TypeError, ['num_epochs', '2.5']),
    (dict(num_epochs=True), TypeError, ['num_epochs', 'True']),
    (dict(lr=0), ValueError, ['lr', '0', 'positive finite']),
    (dict(lr=-0.1), ValueError, ['lr', '-0.1']),
    (dict(lr=float('nan')), ValueError, ['lr', 'nan']),
    (dict(lr=float('inf')), ValueError, ['lr', 'inf']),
    (dict(lr='0.1'), TypeError, ['lr', "'0.1'"]),
    (dict(lr=True), TypeError, ['lr', 'True']),
    (dict(lr=None), TypeError, ['lr', 'None']),
    (dict(devices='cpu'), TypeError, ['devices', "'cpu'"]),
    (dict(devices=[mx.cpu(), 'gpu']), TypeError, ['devices', "'gpu'"]),
    (dict(optimizer_params={'learning_rate': 0.5}), ValueError, ['optimizer_params',
                                                                  'learning_rate', '0.5']),
    (dict(optimizer_params=[('momentum', 0.9)]), TypeError, ['optimizer_params', 'momentum']),
    (dict(hybridize='yes'), TypeError, ['hybridize', "'yes'"]),
])
def test_train_refuses_bad_arguments(kwargs, error, fragments):
    given = dict(num_epochs=1, lr=0.1, devices=mx.cpu(), live_plot=False, **{})
    given.update(kwargs)
    net = tiny_net()
    with pytest.raises(error) as err:
        training.train(net, *tiny_loaders(), **given)
    assert_names(err, *fragments)
    assert all(p._data is None for p in net.collect_params().values())  # refused before init


def test_train_refuses_what_is_not_a_network_or_a_loader():
    train_iter, test_iter = tiny_loaders()
    with pytest.raises(TypeError) as err:
        training.train(lambda X: X, train_iter, test_iter, 1, 0.1, mx.cpu())
    assert_names(err, 'net', 'lambda')
    with pytest.raises(TypeError) as err:
        training.train(tiny_net(), (batch for batch in train_iter), test_iter, 1, 0.1, mx.cpu())
    assert_names(err, 'train_iter', 'generator')
    empty = gluon.data.DataLoader(gluon.data.ArrayDataset(np.zeros((0, 4)), np.zeros((0,))),
                                  batch_size=4)
    with pytest.raises(ValueError) as err:
        training.train(tiny_net(), train_iter, empty, 1, 0.1, mx.cpu())
    assert_names(err, 'test_iter', 'empty')


@pytest.mark.parametrize('outputs', [5, 9, 1])
def test_a_head_narrower_than_the_labels_is_refused_before_the_first_update(outputs):
    labels = np.arange(64) % 10  # every batch of 16 holds labels 0..9
    net = tiny_net(outputs)
    with pytest.raises(ValueError) as err:
        training.train(net, *tiny_loaders(labels=labels), num_epochs=3, lr=0.1,
                       devices=mx.cpu(), live_plot=False)
    assert_names(err, 'net', f'gives {outputs} scores', 'up to 9', 'at least 10', 'nn.Dense(10)')


def test_a_label_beyond_the_head_in_a_later_batch_stops_that_epoch(capsys):
    labels = np.array([i % 10 for i in range(63)] + [10])  # the 11th class only in the last batch
    with pytest.raises(ValueError) as err:
        training.train(tiny_net(10), *tiny_loaders(labels=labels), num_epochs=3, lr=0.1,
                       devices=mx.cpu(), live_plot=False)
    assert_names(err, 'net', 'gives 10 scores', 'up to 10', 'at least 11')
    assert 'epoch 1/3' not in capsys.readouterr().out  # no epoch reported with wrong labels


def test_negative_labels_are_refused():
    labels = np.arange(64) % 10 - 1
    with pytest.raises(ValueError) as err:
        training.train(tiny_net(), *tiny_loaders(labels=labels), 1, 0.1, mx.cpu(),
                       live_plot=False)
    assert_names(err, 'labels', '-1')


def test_an_output_that_is_not_one_row_per_example_is_refused():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(10, 3))  # forgot the pooling and the Dense head: (batch, 10, 6, 6)
    with pytest.raises(ValueError) as err:
        training.train(net, *tiny_loaders(), 1, 0.1, mx.cpu(), live_plot=False)
    assert_names(err, 'net', '(16, 10, 6, 6)')


@pytest.mark.parametrize('live_plot', [False, True])
def test_a_huge_learning_rate_stops_early_with_advice(capsys, live_plot):
    """lr=1e20 turns the weights into inf within the first epoch; the loss then is NaN."""
    if live_plot:
        import matplotlib
        matplotlib.use('Agg')
    with pytest.raises(training.TrainingDivergedError) as err:
        training.train(tiny_net(), *tiny_loaders(), num_epochs=5, lr=1e20, devices=mx.cpu(),
                       live_plot=live_plot)
    assert_names(err, 'nan', 'epoch 1 of 5', 'lr=1e+20')
    message = str(err.value)
    assert 'smaller learning rate' in message and 'check the data' in message
    assert err.value.history.train_loss == []  # it stopped in epoch 1, not after 5 epochs of nan
    assert 'loss nan' not in capsys.readouterr().out
    assert isinstance(err.value, ArithmeticError)


def test_nan_in_the_data_stops_at_the_first_batch():
    images = np.random.uniform(size=(64, 1, 8, 8))
    images[3, 0, 0, 0] = math.nan
    net = nn.Dense(10)  # linear: Dense's activation='relu' maps NaN to 0 and would hide it
    with pytest.raises(training.TrainingDivergedError) as err:
        training.train(net, *tiny_loaders(images=images), num_epochs=3, lr=0.1, devices=mx.cpu(),
                       live_plot=False)
    assert_names(err, 'nan', 'epoch 1 of 3')
    # it stopped before the first update: the weights are still finite
    assert all(onp.isfinite(p.data().asnumpy()).all() for p in net.collect_params().values())


def test_numpy_numbers_are_fine_for_train():
    history = training.train(tiny_net(), *tiny_loaders(), num_epochs=onp.int64(2),
                             lr=onp.float32(0.1), devices=mx.cpu(), live_plot=False)
    assert len(history.train_loss) == 2


# --- memory.plan_batch ---------------------------------------------------------------------------

def linear_estimate(net, input_shape, batch_size):
    return 200 * MiB + 10 * MiB * batch_size


@pytest.mark.parametrize('kwargs, error, fragments', [
    (dict(free=-1), ValueError, ['free', '-1', 'at least 0']),
    (dict(free=float('nan')), ValueError, ['free', 'nan']),
    (dict(free=float('inf')), ValueError, ['free', 'inf']),
    (dict(free='4 GiB'), TypeError, ['free', "'4 GiB'"]),
    (dict(headroom=0), ValueError, ['headroom', '0', 'at most 1']),
    (dict(headroom=1.5), ValueError, ['headroom', '1.5']),
    (dict(headroom=-0.2), ValueError, ['headroom', '-0.2']),
    (dict(headroom=float('nan')), ValueError, ['headroom', 'nan']),
    (dict(batch_size=100.5), TypeError, ['batch_size', '100.5']),
    (dict(batch_size=0), ValueError, ['batch_size', '0']),
    (dict(batch_size=-256), ValueError, ['batch_size', '-256']),
    (dict(batch_size=True), TypeError, ['batch_size', 'True']),
    (dict(min_batch_size=0), ValueError, ['min_batch_size', '0']),
    (dict(min_batch_size=2.5), TypeError, ['min_batch_size', '2.5']),
    (dict(lr=0), ValueError, ['lr', '0']),
    (dict(lr=float('nan')), ValueError, ['lr', 'nan']),
    (dict(input_shape=(1, 0, 96)), ValueError, ['input_shape', '(1, 0, 96)']),
    (dict(input_shape=96), TypeError, ['input_shape', '96']),
    (dict(input_shape=(1, 96.0, 96)), ValueError, ['input_shape', '96.0']),
    (dict(device='gpu'), TypeError, ['device', "'gpu'"]),
    (dict(optimizer_states=-1), ValueError, ['optimizer_states', '-1']),
    (dict(estimate=5), TypeError, ['estimate', '5']),
])
def test_plan_batch_refuses(kwargs, error, fragments):
    given = dict(net=None, input_shape=(1, 96, 96), batch_size=256, lr=0.05,
                     device=mx.gpu(0), free=4096 * MiB, estimate=linear_estimate)
    given.update(kwargs)
    with pytest.raises(error) as err:
        memory.plan_batch(**given)
    assert_names(err, *fragments)


def test_plan_batch_takes_numpy_numbers():
    plan = memory.plan_batch(None, (1, onp.int64(96), 96), onp.int64(256), onp.float32(0.05),
                               mx.gpu(0), free=onp.int64(2048 * MiB), headroom=onp.float64(0.8),
                               estimate=linear_estimate)
    assert plan.batch_size == 128 and type(plan.batch_size) is int


# --- out-of-memory advice ------------------------------------------------------------------------

# MXNet 1.9.1's own message for a failed CPU allocation (the subprocess test below provokes it).
CPU_OOM = ('Traceback (most recent call last):\n  File "../src/storage/./cpu_device_storage.h", '
           'line 74\nMXNetError: Failed to allocate CPU Memory')
GPU_OOM = ('Traceback (most recent call last):\n  File "../src/storage/./pooled_storage_manager.h",'
           ' line 161\nMXNetError: cudaMalloc retry failed: out of memory')


@pytest.mark.parametrize('text, cause', [(CPU_OOM, 'Failed to allocate CPU Memory'),
                                         (GPU_OOM, 'cudaMalloc retry failed: out of memory')])
def test_out_of_memory_advice_keeps_mxnets_cause(text, cause):
    with pytest.raises(memory.OutOfMemoryError) as err:
        with memory.out_of_memory_advice(batch_size=128):
            raise MXNetError(text)
    assert_names(err, 'Out of memory', cause)
    assert 'Traceback' not in str(err.value) and '.h' not in str(err.value)


@pytest.mark.parametrize('batch_size, error', [(0, ValueError), (True, TypeError),
                                               (12.5, TypeError)])
def test_out_of_memory_advice_refuses_a_bad_batch_size(batch_size, error):
    with pytest.raises(error) as err:
        with memory.out_of_memory_advice(batch_size=batch_size):
            pass
    assert_names(err, 'batch_size', repr(batch_size))


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='uses RLIMIT_AS')
def test_a_real_cpu_out_of_memory_error_gives_its_cause():
    """A process allowed 1 GiB more address space than it has asks MXNet for 2 GiB."""
    script = textwrap.dedent('''
        import resource
        import d2lutils  # before MXNet: its numpy.bool fix for Python 3.12
        from mxnet import np, npx
        from d2lutils import memory
        npx.set_np()
        with open('/proc/self/status') as status:
            size = next(int(line.split()[1]) * 1024 for line in status if line.startswith('VmSize'))
        resource.setrlimit(resource.RLIMIT_AS, (size + 1024 ** 3, size + 1024 ** 3))
        try:
            with memory.out_of_memory_advice(batch_size=128):
                np.zeros((2 ** 29,)).wait_to_read()  # 2 GiB of float32
        except memory.OutOfMemoryError as err:
            print(err)
    ''')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)))
    first = result.stdout.splitlines()[0] if result.stdout else result.stderr[-2000:]
    assert first.startswith('Out of memory') and 'Failed to allocate CPU Memory' in first, first


# --- beyond the list: other inputs that were accepted, or failed far from the cause -------

@pytest.mark.parametrize('call, error, fragments', [
    (lambda: data.text_labels([10]), ValueError, ['indices', '10', '0 to 9']),
    (lambda: data.text_labels([-1]), ValueError, ['indices', '-1']),  # was 'ankle boot'
    (lambda: data.subset_indices(100, -5), ValueError, ['size', '-5']),  # was 95 examples
    (lambda: data.subset_indices(100, 101), ValueError, ['size', '101', '1 to 100']),
    (lambda: schedules.make_lr_scheduler('cosine', 0.1, 0), ValueError, ['total_steps', '0']),
    (lambda: schedules.make_lr_scheduler('cosine', 0.1, 100, warmup_steps=-5), ValueError,
     ['warmup_steps', '-5']),
    (lambda: schedules.make_lr_scheduler('cosine', -0.1, 100), ValueError, ['lr', '-0.1']),
    (lambda: schedules.make_lr_scheduler('linear', 0.1, 100.5), TypeError, ['total_steps', '100.5']),
    (lambda: training.evaluate_accuracy(initialized(nn.Dense(10)), [], mx.cpu()), ValueError,
     ['data_iter', 'at least one batch']),
    (lambda: training.as_device_list(mx.gpu(mx.context.num_gpus())), ValueError,
     ['devices', f'gpu({mx.context.num_gpus()})', 'try_gpu']),
])
def test_other_helpers_refuse(call, error, fragments):
    with pytest.raises(error) as err:
        call()
    assert_names(err, *fragments)


@pytest.mark.parametrize('kwargs, fragments', [
    (dict(live_plot='no'), ['live_plot', "'no'"]),        # was True: it drew curves
    (dict(loss='ce'), ['loss']),          # train has no loss or profile: not silently ignored
    (dict(profile='quick'), ['profile']),
])
def test_train_refuses_other_wrong_types(kwargs, fragments):
    with pytest.raises(TypeError) as err:
        training.train(tiny_net(), *tiny_loaders(), 1, 0.1, mx.cpu(), **kwargs)
    assert_names(err, *fragments)


def test_subset_as_large_as_the_split_is_all_of_it():
    assert data.subset_indices(100, 100).tolist() == list(range(100))


# --- the line of an error the package passes on ---------------------------------------------------

@pytest.mark.parametrize('text, line', [
    ('MXNetError: Shape inconsistent, Provided = [3,4], inferred shape=(3,5)',
     'Shape inconsistent, Provided = [3,4], inferred shape=(3,5)'),
    ('Traceback (most recent call last):\n  File "../src/operator/nn/convolution.cc", line 158\n'
     'MXNetError: Check failed: dshp.ndim() == 4U (2 vs. 4)',
     'Check failed: dshp.ndim() == 4U (2 vs. 4)'),
    ('no error word here\nbut two lines', 'but two lines'),
])
def test_error_line_is_the_line_that_says_what_failed(text, line):
    assert arguments.error_line(MXNetError(text)) == line
    assert arguments.error_line(ValueError('')) == 'ValueError'


def test_every_message_that_passes_an_mxnet_error_on_gives_its_cause():
    """trace, the gradient norms and the memory measurement name what MXNet said, not its
    traceback."""
    from d2lutils import gradients, inspection
    dense = nn.Dense(3, in_units=4)
    dense.initialize()
    conv = nn.Conv2D(3, 3, in_channels=2)
    conv.initialize()
    for call in (lambda: gradients.layer_grad_norms(dense, np.zeros((2, 5)), np.zeros((2,))),
                 lambda: inspection.trace(conv, (1, 5, 8, 8)),
                 lambda: memory.measure_training_step_memory(conv, (5, 8, 8), batch_size=2,
                                                             num_steps=1)):
        with pytest.raises(arguments.ArgumentError) as caught:
            call()
        assert 'Shape inconsistent' in str(caught.value) and 'MXNetError' not in str(caught.value)
