"""Learning-rate schedules and SGD's recipe (chapter 5): the schedules' shapes, the profiles' recipe
reaching the optimizer and their printed line, and ``train`` following a schedule."""
import dataclasses

import mxnet as mx
import pytest
from mxnet import gluon, np, npx
from mxnet.gluon import nn

from d2lutils import profiles, schedules, seed_everything, training

npx.set_np()


def test_cosine_schedule_warms_up_then_decays_to_zero():
    schedule = schedules.make_lr_scheduler('cosine', 0.1, total_steps=100, warmup_steps=10)
    rates = [schedule(step) for step in range(101)]
    assert rates[0] == pytest.approx(0.0)
    assert rates[10] == pytest.approx(0.1)
    assert all(a <= b + 1e-12 for a, b in zip(rates[:10], rates[1:11]))      # rising
    assert all(a >= b - 1e-12 for a, b in zip(rates[10:], rates[11:]))       # then falling
    assert rates[100] == pytest.approx(0.0, abs=1e-9)


def test_linear_schedule_is_halfway_at_the_middle_of_the_decay():
    schedule = schedules.make_lr_scheduler('linear', 0.2, total_steps=110, warmup_steps=10)
    assert schedule(60) == pytest.approx(0.1)


def test_constant_schedule_is_none_and_unknown_names_are_refused():
    assert schedules.make_lr_scheduler('constant', 0.1, 100) is None
    with pytest.raises(ValueError, match="'step'"):
        schedules.make_lr_scheduler('step', 0.1, 100)


def test_profile_recipe_reaches_the_optimizer():
    cpu = profiles.PROFILES['cpu']
    params = cpu.optimizer_params(batches_per_epoch=10)
    assert params['momentum'] == cpu.momentum and params['wd'] == cpu.weight_decay
    assert ('lr_scheduler' in params) == (cpu.lr_schedule != 'constant')
    # a fresh scheduler every time: a Trainer changes its scheduler's state (MXNet's schedulers
    # keep the current rate in base_lr), so a second run must not start where the first ended
    assert cpu.lr_schedule == 'cosine'
    first, second = cpu.lr_scheduler(10), cpu.lr_scheduler(10)
    first(15)  # past the warm-up, into the decay
    assert first.base_lr < cpu.lr == second.base_lr


def test_plain_profiles_print_as_before():
    """A profile with plain SGD prints no recipe; one with a recipe prints it after the rest."""
    quick = profiles.PROFILES['quick']
    assert (quick.momentum, quick.weight_decay, quick.lr_schedule) == (0.0, 0.0, 'constant')
    assert quick.resize is None and quick.stem != 'imagenet'
    assert str(quick) == (
        f"Profile 'quick' ({quick.purpose}): images 28x28 (ResNet-18 stem {quick.stem!r}), "
        f"ResNet-18 width x{quick.width:g}, batch {quick.batch_size}, lr {quick.lr}, "
        f"{quick.num_epochs} epoch(s), "
        f"train examples {quick.train_subset:,}, test examples {quick.test_subset:,}")
    custom = dataclasses.replace(quick, momentum=0.9, weight_decay=5e-4, lr_schedule='cosine',
                                 warmup_epochs=0.5)
    assert str(custom) == str(quick) + ('; SGD momentum 0.9, weight decay 0.0005, lr schedule '
                                        'cosine after 0.5 warm-up epoch(s)')


def small_loaders():
    seed_everything(0)
    X, y = np.random.uniform(size=(64, 1, 8, 8)), np.random.randint(0, 10, size=(64,))
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y), batch_size=16)
    return loader, loader


def small_net():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3), nn.Activation('relu'), nn.GlobalAvgPool2D(), nn.Dense(10))
    return net


def test_train_follows_the_schedule_and_accepts_hybridize_options():
    from mxnet import lr_scheduler
    train_iter, test_iter = small_loaders()
    schedule = schedules.make_lr_scheduler('cosine', 0.1, total_steps=2 * len(train_iter),
                                          warmup_steps=2)

    class Recording(lr_scheduler.LRScheduler):
        """The same schedule, remembering which updates the optimizer asked it about."""
        def __init__(self):
            super().__init__(base_lr=schedule.base_lr)
            self.updates = []

        def __call__(self, num_update):
            self.updates.append(num_update)
            return schedule(num_update)

    recording = Recording()
    net = small_net()
    history = training.train(net, train_iter, test_iter, 2, 0.1, devices=mx.cpu(),
                             live_plot=False,
                             optimizer_params={'momentum': 0.9, 'wd': 5e-4,
                                               'lr_scheduler': recording},
                             hybridize={'static_alloc': True, 'static_shape': True})
    assert max(recording.updates) == 2 * len(train_iter)  # consulted up to the last update
    assert len(history.test_acc) == 2
    assert schedule(2 * len(train_iter)) == pytest.approx(0.0, abs=1e-9)
    flags = dict(net._flags)  # what net.hybridize was called with
    assert net._active and flags['static_alloc'] is True and flags['static_shape'] is True
