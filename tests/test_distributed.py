"""A real dist_sync job (scheduler, server, two workers) on the loopback interface.

Every test records the processes ``run_local`` starts and kills their process group in a
``finally``, so that a failing assertion or a hung worker never leaves anything running.
"""
import os
import signal
import subprocess

import pytest

from d2lutils import distributed, get_profile


@pytest.fixture
def started_groups(monkeypatch):
    """Process groups of every process run_local starts; killed after the test, whatever happened."""
    groups = set()
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        groups.add(os.getpgid(proc.pid))
        return proc

    monkeypatch.setattr(distributed.subprocess, 'Popen', recording_popen)
    try:
        yield groups
    finally:
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass


def group_alive(group):
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_dist_sync_workers_end_with_the_same_weights(started_groups):
    stem = get_profile('quick').stem
    job = distributed.run_local(num_workers=2, steps=8, batch_size=16, stem=stem, timeout=240)
    assert [w.rank for w in job.workers] == [0, 1]
    assert all(w.num_workers == 2 and w.shard_size == 8 * 16 for w in job.workers)
    assert job.same_weights, [w.weights_sha256 for w in job.workers]
    # The running statistics of batch norm are computed on each worker's own shard, never sent.
    assert not job.same_running_stats
    for worker in job.workers:
        assert len(worker.losses) == 8
        assert worker.loss_fell, worker.losses
    assert started_groups == {job.process_group}
    assert not group_alive(job.process_group)


def test_a_job_that_runs_too_long_is_stopped(started_groups):
    with pytest.raises(TimeoutError, match='did not finish within 1 s'):
        distributed.run_local(steps=100, batch_size=16, timeout=1)
    assert len(started_groups) == 1
    assert not any(group_alive(group) for group in started_groups)


@pytest.mark.parametrize('kwargs, message', [
    ({'steps': 0}, 'steps must be a positive integer.*got 0'),
    ({'num_workers': 2.5}, 'num_workers must be a positive integer'),
    ({'batch_size': 32, 'examples': 40}, 'examples=40 leaves some worker less than one batch'),
])
def test_bad_settings_are_refused_before_anything_starts(started_groups, kwargs, message):
    with pytest.raises(ValueError, match=message):
        distributed.run_local(**kwargs)
    assert not started_groups


def test_the_worker_entry_point_refuses_to_run_outside_a_job(monkeypatch, capsys):
    monkeypatch.delenv('DMLC_ROLE', raising=False)
    with pytest.raises(SystemExit):
        distributed.main(['worker', '--steps', '1', '--batch-size', '1', '--lr', '0.1',
                          '--stem', 'imagenet', '--examples', '2'])
    assert 'run_local' in capsys.readouterr().err
