"""d2lutils.memory: the estimate of a training step against its parts and a measured step, the
batch plan, the out-of-memory advice; and the save/load round trip of chapter 5."""
import json
import os
import subprocess
import sys
import textwrap

import mxnet as mx
import pytest
from mxnet import gluon, np, npx
from mxnet.base import MXNetError
from mxnet.gluon import nn

from d2lutils import inspection, memory, models, seed_everything, training

npx.set_np()

MiB = 1024 ** 2


def linear_estimate(per_example, fixed=0):
    """A stand-in for chapter 4's estimate: fixed bytes plus bytes per example."""
    return lambda net, input_shape, batch_size: fixed + per_example * batch_size


def test_trace_leaves_an_uninitialized_net_alone():
    net = models.resnet(18)
    memory.estimate_training_memory(net, (1, 96, 96), 32)
    assert net[0].weight.shape == (64, -1, 7, 7)  # still deferred
    net.initialize(mx.init.Xavier())  # no "already initialized" surprise
    assert net(np.zeros((1, 1, 96, 96))).shape == (1, 10)


def test_memory_estimate_adds_up():
    net = models.resnet(18)
    parts = memory.training_memory_breakdown(net, (1, 1, 96, 96), 32, optimizer_states=1)
    trainable, other = inspection.parameter_counts(net, (1, 96, 96))
    assert parts['weights'] == 4 * (trainable + other)
    assert parts['gradients'] == parts['optimizer'] == 4 * trainable
    assert parts['activations'] == 32 * inspection.activation_bytes(net, (1, 96, 96))
    assert memory.estimate_training_memory(net, (1, 96, 96), 32, optimizer_states=1) \
        == sum(parts.values())


def test_measured_step_reports_growth():
    """A step on 64 images of 3x32x32 keeps about 37 MiB of outputs for the backward pass: the
    measured growth must hold at least that (it held 2.5 times as much in our runs: scratch
    space, the gradients of the activations, the memory pool's rounding). Measured in a fresh
    process: MXNet's memory pool keeps what earlier tests freed, and a step that reuses it does not
    grow the process at all."""
    script = textwrap.dedent('''
        import json
        import d2lutils
        import mxnet as mx
        from mxnet import npx
        from d2lutils import memory, models
        npx.set_np()
        net = mx.gluon.nn.HybridSequential()
        net.add(models.Residual(16, use_1x1conv=True), mx.gluon.nn.GlobalAvgPool2D(),
                mx.gluon.nn.Dense(3))
        net.initialize()
        result = memory.measure_training_step_memory(net, (3, 32, 32), batch_size=64, num_steps=1)
        result['activations'] = memory.training_memory_breakdown(net, (3, 32, 32), 64)['activations']
        print(json.dumps(result))
    ''')
    run = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result['reset_worked']  # Linux >= 4.0
    assert result['peak_growth'] >= result['activations']
    assert result['peak_growth'] % 1024 == 0 and result['baseline'] % 1024 == 0  # kB, as bytes
    assert result['baseline'] > 64 * 2**20  # MXNet alone is larger than that


def test_format_bytes():
    assert memory.format_bytes(512) == '512 B'
    assert memory.format_bytes(1536) == '1.5 KiB'
    assert memory.format_bytes(3 * 2**30) == '3.0 GiB'


def test_cpu_memory_reads_meminfo(tmp_path):
    meminfo = tmp_path / 'meminfo'
    meminfo.write_text('MemTotal:       16384 kB\nMemFree:         1024 kB\n'
                       'MemAvailable:    8192 kB\n')
    assert memory.cpu_memory(str(meminfo)) == (8192 * 1024, 16384 * 1024)


def test_cpu_memory_of_this_machine_is_plausible():
    """The total is the machine's physical memory, as the C library counts it too."""
    free, total = memory.device_memory(mx.cpu())
    assert total == os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    assert 0 < free <= total


def test_gpu_branch_asks_mxnet_for_the_gpu_it_names(monkeypatch):
    asked = []

    def fake_gpu_memory_info(device_id=0):
        asked.append(device_id)
        return 3 * 1024 * MiB, 16 * 1024 * MiB

    monkeypatch.setattr(mx.context, 'gpu_memory_info', fake_gpu_memory_info)
    assert memory.device_memory(mx.gpu(1)) == (3 * 1024 * MiB, 16 * 1024 * MiB)
    assert asked == [1]


def test_a_batch_that_fits_is_kept():
    plan = memory.plan_batch(None, (1, 96, 96), 256, 0.05, mx.gpu(0), free=4096 * MiB,
                               estimate=linear_estimate(10 * MiB, fixed=200 * MiB))
    assert (plan.batch_size, plan.lr, plan.fits, plan.reduced) == (256, 0.05, True, False)
    assert 'It fits: batch 256' in str(plan)


def test_a_batch_too_big_for_a_small_gpu_is_halved_with_the_learning_rate(monkeypatch):
    """The classic chapter's setting on a 2 GiB GPU: the plan halves twice, and so does the lr."""
    monkeypatch.setattr(mx.context, 'gpu_memory_info', lambda device_id=0: (2048 * MiB, 2048 * MiB))
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 1)  # the simulated GPU is one MXNet sees
    plan = memory.plan_batch(None, (1, 96, 96), 256, 0.05, mx.gpu(0),
                               estimate=linear_estimate(10 * MiB, fixed=200 * MiB))
    # usable: 0.8 * 2048 = 1638 MiB; 256 -> 2760 MiB, 128 -> 1480 MiB fits.
    assert (plan.batch_size, plan.requested_batch_size) == (128, 256)
    assert plan.lr == pytest.approx(0.025)
    assert plan.fits and plan.reduced
    assert 'Batch 256 would not fit' in str(plan) and 'learning rate 0.025' in str(plan)


def test_a_plan_that_cannot_fit_says_so():
    plan = memory.plan_batch(None, (1, 96, 96), 256, 0.05, mx.gpu(0), free=100 * MiB,
                               estimate=linear_estimate(10 * MiB, fixed=200 * MiB),
                               min_batch_size=8)
    assert plan.batch_size == 8 and not plan.fits
    assert 'does not fit' in str(plan)


def test_out_of_memory_error_becomes_advice():
    gpu_error = MXNetError('[18:03:11] src/storage/./pooled_storage_manager.h:161: cudaMalloc '
                           'retry failed: out of memory\nStack trace:\n  [bt] (0) libmxnet.so(...)')
    with pytest.raises(memory.OutOfMemoryError) as caught:
        with memory.out_of_memory_advice(batch_size=256, device=mx.gpu(0)):
            raise gpu_error
    message = str(caught.value)
    assert 'a batch of 128 instead of 256' in message and 'gpu(0)' in message
    assert 'Stack trace' not in message          # the first line only, not the C++ trace
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_cudamalloc_failed_is_recognised():
    assert memory.is_out_of_memory(MXNetError('cudaMalloc failed: out of memory'))
    assert memory.is_out_of_memory(MemoryError())


def test_other_errors_pass_through_untouched():
    shape_error = MXNetError('Check failed: shape mismatch')
    with pytest.raises(MXNetError) as caught:
        with memory.out_of_memory_advice(batch_size=256):
            raise shape_error
    assert caught.value is shape_error
    with pytest.raises(KeyError):
        with memory.out_of_memory_advice():
            raise KeyError('out of memory')  # right words, wrong kind of error


def test_save_and_load_give_the_same_accuracy(tmp_path):
    """Parameters saved with Gluon and loaded into a fresh network classify the same way."""
    def make_net():
        net = nn.HybridSequential()
        net.add(nn.Conv2D(4, 3, use_bias=False), nn.BatchNorm(), nn.Activation('relu'),
                nn.GlobalAvgPool2D(), nn.Dense(10))
        return net

    seed_everything(0)
    X, y = np.random.uniform(size=(64, 1, 8, 8)), np.random.randint(0, 10, size=(64,))
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(X, y), batch_size=32)
    net = make_net()
    training.train(net, loader, loader, 2, 0.1, devices=mx.cpu(), live_plot=False)
    path = str(tmp_path / 'net.params')
    net.save_parameters(path)
    fresh = make_net()
    fresh.load_parameters(path, ctx=mx.cpu())
    assert training.evaluate_accuracy(fresh, loader) == training.evaluate_accuracy(net, loader)
    assert (fresh(X) == net(X)).all()
