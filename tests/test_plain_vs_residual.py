"""The plain/residual builder, the side-by-side runner and the block-removal (lesion) study."""
import mxnet as mx
import numpy as onp
import pytest
from mxnet import gluon, init, np, npx

from d2lutils import plain_vs_residual as pvr
from d2lutils import seed_everything

npx.set_np()


def built(num_layers, residual, seed=0):
    """A network initialized by one forward pass on a batch of zeros."""
    seed_everything(seed)
    net = pvr.stacked_cnn(num_layers, residual)
    net.initialize(init.Xavier())
    net(np.zeros((2, 1, 28, 28)))
    return net


def parameter_shapes(net):
    """(kind of parameter, shape) in creation order; Gluon's names carry per-instance prefixes."""
    return [(name.rsplit('_', 1)[-1], p.shape) for name, p in net.collect_params().items()]


def expected_parameter_count(num_layers, widths=(16, 32, 64), classes=10):
    """Counted by hand from the architecture: 3x3 convolutions without bias, BN's gamma and beta."""
    n = (num_layers - 2) // 6
    count, c_in = 9 * 1 * widths[0] + 2 * widths[0], widths[0]
    for c in widths:
        for _ in range(2 * n):
            count += 9 * c_in * c + 2 * c
            c_in = c
    return count + widths[-1] * classes + classes


@pytest.mark.parametrize('num_layers', [8, 14, 32])
def test_plain_and_residual_have_the_same_parameters(num_layers):
    plain, residual = built(num_layers, False), built(num_layers, True)
    assert parameter_shapes(plain) == parameter_shapes(residual)
    trainable = sum(p.data().size for p in residual.collect_params().values() if p.grad_req != 'null')
    assert trainable == expected_parameter_count(num_layers)
    weight_layers = [s for kind, s in parameter_shapes(plain) if kind == 'weight']
    assert len(weight_layers) == num_layers


def test_only_the_residual_network_has_shortcuts_and_only_where_the_shape_changes():
    plain, residual = built(14, False), built(14, True)
    assert all(b.shortcut is None for b in pvr.two_conv_blocks(plain))
    shortcuts = [b.shortcut is not None for b in pvr.two_conv_blocks(residual)]
    assert shortcuts == [False, False, True, False, True, False]
    for block in pvr.two_conv_blocks(residual):
        if block.shortcut is not None:
            assert not list(block.shortcut.collect_params().keys())  # option A: no weights


def test_same_seed_same_initial_weights_for_plain_and_residual():
    plain, residual = built(8, False, seed=3), built(8, True, seed=3)
    for a, b in zip(plain.collect_params().values(), residual.collect_params().values()):
        onp.testing.assert_array_equal(a.data().asnumpy(), b.data().asnumpy())
    other = built(8, True, seed=4)
    first = lambda net: next(iter(net.collect_params().values())).data().asnumpy()  # noqa: E731
    assert not onp.array_equal(first(residual), first(other))


def zero_branch(block):
    """Make the block's residual branch F output exactly 0 (its last batch norm's gamma and beta)."""
    block.bn2.gamma.set_data(np.zeros_like(block.bn2.gamma.data()))
    block.bn2.beta.set_data(np.zeros_like(block.bn2.beta.data()))


def test_a_residual_block_with_a_zero_branch_passes_its_input_on():
    seed_everything(0)
    x = np.random.uniform(0, 1, (2, 16, 8, 8))  # non-negative, as after the previous ReLU
    keep = pvr.TwoConvBlock(16, 16, strides=1, residual=True)
    reshape = pvr.TwoConvBlock(16, 32, strides=2, residual=True)
    plain = pvr.TwoConvBlock(16, 16, strides=1, residual=False)
    for block in (keep, reshape, plain):
        block.initialize(init.Xavier())
        block(x)
        zero_branch(block)
    onp.testing.assert_allclose(keep(x).asnumpy(), x.asnumpy(), atol=1e-6)
    expected = onp.zeros((2, 32, 4, 4), dtype='float32')
    expected[:, :16] = x.asnumpy()[:, :, ::2, ::2]  # every second pixel, then 16 zero channels
    onp.testing.assert_allclose(reshape(x).asnumpy(), expected, atol=1e-6)
    assert float(abs(plain(x)).max()) == 0  # without the shortcut nothing is left


def test_bad_depths_and_widths_are_refused_with_the_valid_ones_named():
    with pytest.raises(ValueError, match=r'6n \+ 2.*8, 14, 20'):
        pvr.stacked_cnn(10)
    with pytest.raises(ValueError, match='6n'):
        pvr.stacked_cnn(2)
    with pytest.raises(ValueError, match='only add channels'):
        pvr.stacked_cnn(8, residual=True, widths=(32, 16, 8))
    with pytest.raises(ValueError, match='one of cpu, gpu, quick'):
        pvr.setting_for('laptop')


def test_removing_a_branch_leaves_the_shortcut_and_restores_the_block():
    net = built(14, True)
    block = pvr.two_conv_blocks(net)[2]  # the first block of the second stage: it reshapes
    x = np.random.uniform(0, 1, (2, 16, 14, 14))
    whole = block(x).asnumpy()
    with pvr.branch_removed(block):
        onp.testing.assert_allclose(block(x).asnumpy(), block.shortcut(x).asnumpy())
    onp.testing.assert_allclose(block(x).asnumpy(), whole)
    with pytest.raises(KeyError):
        with pvr.branch_removed(block):
            raise KeyError('an error inside the with')
    onp.testing.assert_allclose(block(x).asnumpy(), whole)


def test_branch_removal_refuses_what_it_cannot_do():
    plain = built(14, False)
    with pytest.raises(ValueError, match='changes the shape'):
        with pvr.branch_removed(pvr.two_conv_blocks(plain)[2]):
            pass
    residual = built(14, True)
    residual.hybridize()
    with pytest.raises(RuntimeError, match='hybridize'):
        with pvr.branch_removed(pvr.two_conv_blocks(residual)[0]):
            pass


def tiny_loaders(num_examples=64, batch_size=32):
    seed_everything(0)
    X = onp.random.uniform(0, 1, (num_examples, 1, 28, 28)).astype('float32')
    y = (onp.arange(num_examples) % 10).astype('int32')
    dataset = gluon.data.ArrayDataset(np.array(X), np.array(y))
    return (gluon.data.DataLoader(dataset, batch_size, shuffle=True),
            gluon.data.DataLoader(dataset, batch_size, shuffle=False))


def test_side_by_side_returns_a_history_per_network_and_seed(capsys):
    train_iter, test_iter = tiny_loaders()
    runs = pvr.train_side_by_side((8,), (0, 1), train_iter, test_iter, num_epochs=2, lr=0.1)
    assert [(r.name, r.seed) for r in runs] == [('plain-8', 0), ('plain-8', 1),
                                                ('residual-8', 0), ('residual-8', 1)]
    for run in runs:
        assert len(run.history.train_acc) == len(run.history.test_acc) == 2
    assert runs[0].history.train_loss != runs[1].history.train_loss  # the seed matters
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == pvr.describe_experiment((8,), (0, 1), 2, 0.1, 2, pvr.training.as_device_list())
    assert len(lines) == 5 and lines[1].startswith('plain-8') and 'seed 0' in lines[1]
    again = pvr.train_side_by_side((8,), (1,), train_iter, test_iter, num_epochs=2, lr=0.1)
    onp.testing.assert_allclose(again[0].history.train_loss, runs[1].history.train_loss, rtol=1e-4)


def test_the_first_line_states_the_arguments_every_run_gets():
    line = pvr.describe_experiment((8, 32), (0, 1, 2), 4, 0.1, 40, [mx.cpu(0)], {'momentum': 0.9})
    assert line == ('Side by side: plain and residual networks of 8, 32 layers, seeds 0, 1, 2, each '
                    'run 4 epoch(s) x 40 batches, SGD lr 0.1, momentum 0.9, on cpu(0), hybridized')


def test_error_bands_are_mean_min_and_max_over_seeds():
    def run(name_residual, seed, train_acc):
        history = pvr.training.History(devices=[], train_acc=train_acc, test_acc=[0.5, 0.5])
        return pvr.Run(8, name_residual, seed, history, 0.0, net=None)
    runs = [run(False, 0, [0.5, 0.8]), run(False, 1, [0.7, 0.9]), run(True, 0, [0.6, 0.6])]
    bands = pvr.error_bands(runs, 'train')
    mean, low, high = bands['plain-8']
    onp.testing.assert_allclose(mean, [0.4, 0.15])
    onp.testing.assert_allclose(low, [0.3, 0.1])
    onp.testing.assert_allclose(high, [0.5, 0.2])
    onp.testing.assert_allclose(bands['residual-8'][0], [0.4, 0.4])
    with pytest.raises(ValueError, match="'train', 'test'"):
        pvr.error_bands(runs, 'validation')


def test_lesion_measures_every_removable_block_and_leaves_the_network_whole():
    train_iter, test_iter = tiny_loaders()
    plain_run, residual_run = pvr.train_side_by_side((14,), (0,), train_iter, test_iter, 1, 0.1)
    zero_branch(pvr.two_conv_blocks(residual_run.net)[1])  # a block that contributes nothing
    X = next(iter(test_iter))[0]
    before = residual_run.net(X).asnumpy()
    lesion = pvr.accuracy_without_each_block(residual_run, test_iter)
    assert len(lesion.without_block) == 6 and None not in lesion.without_block
    assert lesion.without_block[1] == lesion.baseline  # removing a zero branch changes nothing
    onp.testing.assert_allclose(residual_run.net(X).asnumpy(), before, rtol=1e-5, atol=1e-6)
    plain = pvr.accuracy_without_each_block(plain_run, test_iter)
    assert [a is None for a in plain.without_block] == [False, False, True, False, True, False]
    assert plain.drops()[2] is None and plain.drops()[0] == plain.baseline - plain.without_block[0]


def test_a_function_for_the_optimizer_settings_is_called_once_per_run():
    train_iter, test_iter = tiny_loaders()
    calls = []

    def recipe():
        calls.append(1)
        return {'momentum': 0.9}
    runs = pvr.train_side_by_side((8,), (0,), train_iter, test_iter, 2, 0.1, optimizer_params=recipe)
    assert len(calls) == len(runs) == 2
    plain_sgd = pvr.train_side_by_side((8,), (0,), train_iter, test_iter, 2, 0.1)
    # momentum changes nothing in the first two updates (its state starts at 0), then it does
    assert runs[0].history.train_loss[1] != plain_sgd[0].history.train_loss[1]
