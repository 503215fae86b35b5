"""The examples of issue 21, each refused (or handled) with a message that names its cause.

The generated cases (tests/test_generated_arguments.py) cover wrong types and ranges of every
public function; these are the consistency checks between two arguments, and the faults that a
student and a teacher actually met.
"""
import os
import subprocess
import sys

import mxnet as mx
import numpy as onp
import pytest
from mxnet import gluon, np, npx
from mxnet.gluon import nn

from d2lutils import arguments, get_profile, inspection, memory, models, schedules, training
from d2lutils.exercises import __main__ as exercises_cli

npx.set_np()


def tiny_loader(size=8, labels=(0, 1, 2, 3), batches=2):
    X = np.array(onp.random.RandomState(0).uniform(size=(len(labels), 1, size, size)),
                 dtype='float32')
    return [(X, np.array(labels, dtype='int32'))] * batches


def tiny_net(outputs=10):
    net = nn.HybridSequential()
    net.add(nn.Conv2D(2, kernel_size=3, padding=1), nn.GlobalAvgPool2D(), nn.Dense(outputs))
    return net


def test_count_parameters_refuses_deferred_shapes_with_advice():
    net = models.resnet(18)
    net.initialize()
    with pytest.raises(arguments.ArgumentError, match='deferred shape.*parameter_counts'):
        models.count_parameters(net)
    net(np.zeros((1, 1, 28, 28)))
    assert models.count_parameters(net) > 0


def test_a_scheduler_built_for_one_epoch_is_refused_for_three():
    train_iter = tiny_loader()
    one_epoch = schedules.make_lr_scheduler('cosine', 0.1, len(train_iter))
    with pytest.raises(arguments.ArgumentError) as err:
        training.train(tiny_net(), train_iter, tiny_loader(), 3, 0.1, mx.cpu(), live_plot=False,
                       optimizer_params={'lr_scheduler': one_epoch})
    message = str(err.value)
    assert 'lr_scheduler' in message and '6 updates' in message and 'built for 2' in message


def test_a_warm_up_longer_than_the_run_is_refused_not_clipped():
    with pytest.raises(arguments.ArgumentError, match='warmup_steps.*fewer than total_steps'):
        schedules.make_lr_scheduler('cosine', 0.1, 10, warmup_steps=10)


def test_a_residual_block_does_not_broadcast_one_channel_into_three():
    block = models.Residual(3)
    block.initialize()
    with pytest.raises(arguments.ArgumentError, match=r'shape.*\(1, 3, 8, 8\).*\(1, 1, 8, 8\)'):
        block(np.zeros((1, 1, 8, 8)))


def test_a_stride_without_projection_is_refused():
    with pytest.raises(arguments.ArgumentError, match='strides.*use_1x1conv=True'):
        models.Residual(8, strides=2)


def test_trace_refuses_a_channel_count_the_network_was_not_built_for():
    net = tiny_net()
    net.initialize()
    net(np.zeros((1, 1, 8, 8)))  # fixes one input channel
    with pytest.raises(arguments.ArgumentError, match=r'input_shape \(1, 3, 8, 8\) does not fit'):
        inspection.trace(net, (1, 3, 8, 8))
    with pytest.raises(arguments.ArgumentError, match='input_shape'):
        inspection.count_macs(net, (3, 8, 8))


def test_a_test_loader_with_labels_the_network_cannot_give_is_refused():
    net = tiny_net(4)
    with pytest.raises(arguments.ArgumentError, match='labels up to 7.*4 scores'):
        training.train(net, tiny_loader(), tiny_loader(labels=(4, 5, 6, 7)), 1, 0.1, mx.cpu(),
                       live_plot=False)


def test_a_test_loader_with_images_of_another_size_is_refused():
    with pytest.raises(arguments.ArgumentError, match=r'test_iter.*\(1, 8, 8\).*\(1, 12, 12\)'):
        training.train(tiny_net(), tiny_loader(), tiny_loader(size=12), 1, 0.1, mx.cpu(),
                       live_plot=False)


@pytest.mark.parametrize('batch_size', [0, -32])
def test_memory_estimates_refuse_empty_and_negative_batches(batch_size):
    with pytest.raises(arguments.ArgumentError, match=f'batch_size.*got {batch_size}'):
        memory.estimate_training_memory(tiny_net(), (1, 8, 8), batch_size)


def test_planning_for_a_gpu_this_machine_lacks_needs_its_free_memory():
    if mx.context.num_gpus():
        pytest.skip('MXNet sees a GPU here')
    with pytest.raises(arguments.ArgumentError, match="gpu\\(0\\).*'cpu' profile"):
        memory.plan_batch(tiny_net(), (1, 8, 8), 16, 0.1, mx.gpu(0))
    assert memory.plan_batch(tiny_net(), (1, 8, 8), 16, 0.1, mx.gpu(0), free=2**30).fits


def test_the_gpu_profile_is_refused_on_a_machine_without_a_gpu(monkeypatch):
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    with pytest.raises(arguments.ArgumentError, match="gpu.*'cpu'"):
        get_profile('gpu')


@pytest.mark.parametrize('call, fragments', [
    (lambda: models.resnet('18'), ['depth', "'18'"]),
    (lambda: __import__('d2lutils.distributed').distributed.run_local(num_workers=True),
     ['num_workers', 'True (a bool)']),
])
def test_wrong_types_get_the_librarys_message(call, fragments):
    with pytest.raises(arguments.ArgumentError) as err:
        call()
    for fragment in fragments:
        assert fragment in str(err.value)


def test_the_grader_blames_a_wrong_folder_on_the_teacher_before_grading(tmp_path, capsys):
    submission = tmp_path / 'bottleneck.ipynb'
    submission.write_text('{}')
    code = exercises_cli.main(['--grade', str(submission), '--folder', str(tmp_path),
                               '--allow-root', '--output', str(tmp_path / 'grades.csv')])
    assert code == 2
    error = capsys.readouterr().err
    assert '--folder must be the exercises folder' in error and 'handed out' not in error


def test_the_grader_refuses_a_results_file_in_a_missing_folder_before_grading(tmp_path, capsys):
    submission = tmp_path / 'bottleneck.ipynb'
    submission.write_text('{}')
    code = exercises_cli.main(['--grade', str(submission), '--allow-root',
                               '--output', str(tmp_path / 'no-such-folder' / 'grades.csv')])
    assert code == 2
    assert "the folder" in capsys.readouterr().err
    assert not (tmp_path / 'no-such-folder').exists()


def test_an_unreadable_omp_num_threads_does_not_abort_the_import():
    env = {**os.environ, 'OMP_NUM_THREADS': 'two'}
    done = subprocess.run([sys.executable, '-c', 'import d2lutils, mxnet; '
                           'print(mxnet.nd.ones(2).asnumpy().sum())'],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.strip() == '2.0'
    assert "OMP_NUM_THREADS='two'" in done.stderr


def test_a_distributed_job_whose_port_is_taken_stops_with_the_cause(monkeypatch):
    """The scheduler cannot bind a busy port and exits; the job says so instead of waiting for its
    whole timeout (which would raise TimeoutError)."""
    import socket
    from d2lutils import distributed
    with socket.socket() as busy:
        busy.bind((distributed.LOOPBACK, 0))
        busy.listen()
        monkeypatch.setattr(distributed, 'free_port', lambda: busy.getsockname()[1])
        with pytest.raises(RuntimeError, match='scheduler exited.*bind failed'):
            distributed.run_local(num_workers=1, steps=1, batch_size=8, stem='small', timeout=600)


def test_grade_refuses_a_wrong_folder_before_any_submission(tmp_path):
    """A teacher's wrong folder is said once, naming the folder, not blamed on every student."""
    from d2lutils.exercises import grading
    submission = tmp_path / 'alice.ipynb'
    submission.write_text('{}')
    with pytest.raises(arguments.ArgumentError, match='folder.*solutions'):
        grading.grade([submission], tmp_path / 'grades.csv', folder=tmp_path, sandboxed=False,
                      echo=lambda *a: None)
    assert not (tmp_path / 'grades.csv').exists()
    with pytest.raises(arguments.ArgumentError, match="output.*does not exist"):
        grading.grade([submission], tmp_path / 'missing' / 'grades.csv', sandboxed=False,
                      echo=lambda *a: None)
