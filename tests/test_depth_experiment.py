"""experiments/depth.py: the committed result is complete and current, and an interrupted run resumes.

The committed JSON must hold every declared job to its last epoch, name the CPU it ran on and carry
the script's current recipe: a change of the recipe makes the stored result stale and this test red.
The resume test interrupts a tiny run in its second epoch and checks that the rerun trains only what
was missing and ends where an uninterrupted run ends.
"""
import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_script():
    spec = importlib.util.spec_from_file_location('depth', ROOT / 'experiments' / 'depth.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


depth = load_script()


# Every recipe's results are committed: chapter 3b plots both.
COMMITTED = list(depth.RECIPES)


@pytest.fixture(scope='module', params=COMMITTED)
def stored(request):
    recipe, path = depth.RECIPES[request.param]
    return dict(json.loads(path.read_text()), expected_recipe=recipe, path=path.name)


def test_committed_result_has_the_current_recipe(stored):
    assert stored['recipe'] == stored['expected_recipe'], (
        f"experiments/{stored['path']} was made with another recipe than experiments/depth.py "
        'holds now: rerun the experiment (see the script\'s docstring) and commit its JSON.')


def test_committed_result_is_complete(stored):
    """Every declared job has all its epochs, and the jobs are a whole grid: every depth plain and
    residual for every seed. (Runs the file holds but does not declare are unfinished; see
    experiments/README.md.)"""
    depths = sorted({job[0] for job in stored['jobs']})
    seeds = sorted({job[2] for job in stored['jobs']})
    assert depths and seeds, 'the file declares no jobs'
    assert sorted(map(tuple, stored['jobs'])) == sorted(depth.declared_jobs(depths, seeds))
    recipe = stored['expected_recipe']
    per_epoch = depth.updates_per_epoch(recipe)
    for depth_, residual, seed in stored['jobs']:
        run = stored['runs'][depth.job_key(depth_, residual, seed)]
        assert (run['depth'], run['residual'], run['seed']) == (depth_, residual, seed)
        assert [e['epoch'] for e in run['epochs']] == list(range(1, recipe['epochs'] + 1))
        assert [e['updates'] for e in run['epochs']] == [
            per_epoch * e for e in range(1, recipe['epochs'] + 1)]
        for record in run['epochs']:
            for name in ('train_error', 'test_error', 'running_train_error'):
                assert 0 <= record[name] <= 1
            assert record['seconds'] > 0
            assert len(record['load_average']) == 3


def test_committed_result_names_the_cpu(stored):
    for depth_, residual, seed in stored['jobs']:
        run = stored['runs'][depth.job_key(depth_, residual, seed)]
        assert run['cpus'], 'no CPU recorded'
        for cpu in run['cpus']:
            assert not cpu.startswith('unknown CPU') and '(family' in cpu, cpu


def test_another_recipe_is_refused(tmp_path):
    out = tmp_path / 'depth.json'
    depth.save({'recipe': depth.TINY, 'jobs': [], 'runs': {}}, out)
    with pytest.raises(SystemExit, match='differs in: epochs'):
        depth.load_results(out, dict(depth.TINY, epochs=3))


def without_timings(results):
    return {key: [{k: v for k, v in e.items() if k not in ('seconds', 'load_average')}
                  for e in run['epochs']] for key, run in results['runs'].items()}


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    from mxnet import npx
    npx.set_np()
    monkeypatch.setattr(depth, 'CHECKPOINTS', tmp_path / 'checkpoints')
    real_train_epoch = depth.train_epoch
    trained = []

    def train_epoch(net, trainer, recipe, train, seed, epoch):
        trained.append(epoch)
        if len(trained) == interrupt_at:
            raise KeyboardInterrupt
        return real_train_epoch(net, trainer, recipe, train, seed, epoch)
    monkeypatch.setattr(depth, 'train_epoch', train_epoch)

    arrays = depth.load_arrays(depth.TINY)  # read once: the files are checked on every read
    monkeypatch.setattr(depth, 'load_arrays', lambda recipe: arrays)

    interrupt_at = None
    def run_all(out):
        return depth.run_all(depth.TINY, out, depths=[8], seeds=[0])

    whole = run_all(tmp_path / 'whole.json')
    jobs = len(depth.declared_jobs([8], [0]))
    assert jobs >= 2 and trained == [1, 2] * jobs

    out = tmp_path / 'interrupted.json'
    trained.clear()
    interrupt_at = 2  # in the first job's second epoch
    with pytest.raises(KeyboardInterrupt):
        run_all(out)
    first = json.loads(out.read_text())
    assert [len(run['epochs']) for run in first['runs'].values()] == [1]

    trained.clear()
    interrupt_at = None
    resumed = run_all(out)
    assert trained == [2] + [1, 2] * (jobs - 1)  # the first job's first epoch is not trained again
    assert without_timings(resumed) == without_timings(whole)
    first_job = next(iter(first['runs']))
    assert resumed['runs'][first_job]['epochs'][0] == first['runs'][first_job]['epochs'][0]
    assert not [p for p in (tmp_path / 'checkpoints').rglob('*') if p.is_file()]  # finished jobs leave none

    trained.clear()
    run_all(out)
    assert trained == []  # everything was done

    # Interrupted again, then continued without the checkpoint (a fresh clone has none): the
    # unfinished job starts again from its first epoch and ends where it would have.
    out = tmp_path / 'no_checkpoint.json'
    trained.clear()
    interrupt_at = 2
    with pytest.raises(KeyboardInterrupt):
        run_all(out)
    for path in [p for p in (tmp_path / 'checkpoints').rglob('*') if p.is_file()]:
        path.unlink()
    trained.clear()
    interrupt_at = None
    assert without_timings(run_all(out)) == without_timings(whole)
    assert trained == [1, 2] * jobs


def test_a_network_has_the_same_parameter_names_whatever_the_process_built_before():
    # The Trainer files its optimizer states under parameter indices in name order. A run resumed in
    # a new process once failed (a state of shape (32,) met a weight of shape (16,)) because the
    # network's names, taken from a process-wide counter, sorted differently there.
    from mxnet import npx
    from mxnet.gluon import nn
    npx.set_np()

    def names():
        net, trainer = depth.build(depth.TINY, 8, True, 0)
        return list(net.collect_params().keys())
    before = names()
    for _ in range(137):  # what another network built first would do to the counters
        nn.Conv2D(1, 1), nn.BatchNorm(), nn.Dense(1)
    assert names() == before


def test_both_halves_compares_the_second_half_with_the_shallowest_depth():
    recipe = dict(depth.TINY, epochs=4)
    curves = {(8, False): [.5, .4, .3, .2], (8, True): [.5, .4, .3, .2],
              (32, False): [.6, .5, .35, .25],   # above plain-8 in epochs 3 and 4
              (32, True): [.6, .45, .25, .19]}   # above residual-8 early, below it in epochs 3 and 4
    results = {'recipe': recipe, 'jobs': depth.declared_jobs([8, 32], [0]), 'runs': {
        depth.job_key(d, r, 0): {'epochs': [{'train_error': x} for x in curve]}
        for (d, r), curve in curves.items()}}
    assert depth.both_halves(results) == [(0, 32, True, True)]
    results['runs'][depth.job_key(32, True, 0)]['epochs'][2]['train_error'] = .3  # ties residual-8
    results['runs'][depth.job_key(32, False, 0)]['epochs'][3]['train_error'] = .2  # ties plain-8
    assert depth.both_halves(results) == [(0, 32, False, False)]
    del results['runs'][depth.job_key(32, True, 0)]['epochs'][3]  # unfinished: left out
    assert depth.both_halves(results) == []


def test_the_files_hold_the_runs_chapter_3b_describes():
    """Chapter 3b reads both files and its text describes these grids: 8 and 32 layers, the short
    run with seeds 0, 1 and 2, the long run with seed 0 at least."""
    for name, seeds in (('short', {0, 1, 2}), ('long', {0})):
        recipe, path = depth.RECIPES[name]
        assert path.exists(), f'experiments/{path.name} is missing: chapter 3b plots it'
        jobs = json.loads(path.read_text())['jobs']
        assert {job[0] for job in jobs} == {8, 32}, (name, jobs)
        assert seeds <= {job[2] for job in jobs}, (name, jobs)
