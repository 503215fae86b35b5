"""Chapter 5: the notebook's rules that nbval alone does not check, the network its profiles train,
and the benchmark record the `cpu` profile was chosen from."""
import json
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

from d2lutils import models, profiles

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / 'chapters' / '05_training_resnet.ipynb'
FRONTIER_RECORD = ROOT / 'benchmarks' / 'frontier_runs.jsonl'


def cells(kind):
    return [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == kind]


def test_d2lutils_is_imported_before_mxnet():
    first = cells('code')[0].splitlines()
    d2lutils_line = next(i for i, line in enumerate(first) if line.startswith('import d2lutils'))
    mxnet_lines = [i for i, line in enumerate(first) if 'mxnet' in line and 'import' in line]
    assert mxnet_lines and d2lutils_line < min(mxnet_lines)


def test_training_cells_ignore_their_output():
    training_cells = [s for s in cells('code') if 'training.train(' in s]
    assert training_cells
    for source in training_cells:
        assert source.startswith('# NBVAL_IGNORE_OUTPUT'), source[:60]
    main_run = [s for s in training_cells if 'profile.optimizer_params(' in s]
    assert len(main_run) == 1 and 'out_of_memory_advice' in main_run[0]


def test_every_network_the_chapter_trains_is_the_profiles_network():
    calls = [re.sub(r'\s+', ' ', call) for s in cells('code')
             for call in re.findall(r'(?:models\.resnet\(18|distributed\.run_local\()[^)]*\)', s)]
    gpu_memory_estimate = 'models.resnet(18, num_classes=10)'
    # the probe loops over stems and widths build networks to measure, not to train
    trained = [call for call in calls if 'stem=stem' not in call and 'width=width' not in call]
    assert any('run_local' in call for call in trained) and gpu_memory_estimate in trained
    for call in trained:
        assert 'stem=profile.stem, width=profile.width' in call or call == gpu_memory_estimate, call


def test_the_dist_sync_run_is_in_the_chapter_and_its_verdicts_are_checked():
    sources = cells('code')
    run = [s for s in sources if 'distributed.run_local(' in s]
    assert len(run) == 1
    verdicts = [s for s in sources if 'job.same_weights' in s]
    assert verdicts and not verdicts[0].startswith('# NBVAL_IGNORE_OUTPUT')


def test_chapter_ends_with_summary_then_references():
    headings = [line for s in cells('markdown') for line in s.splitlines() if line.startswith('## ')]
    assert headings[-2:] == ['## Summary (小结)', '## References']


def test_kernel_is_python3():
    assert nbformat.read(NOTEBOOK, as_version=4).metadata.kernelspec.name == 'python3'


@pytest.mark.parametrize('stem, sizes', [
    ('imagenet', [7, 4, 2, 1]),
    ('small', [28, 14, 7, 4]),
    ('small-stride2', [14, 7, 4, 2]),
])
def test_stage_sizes_of_each_stem_at_28x28(stem, sizes):
    from mxnet import gluon, np, npx
    npx.set_np()
    net = models.resnet(18, num_classes=10, stem=stem)
    net.initialize()
    x, seen = np.zeros((1, 1, 28, 28)), []
    for layer in net:
        x = layer(x)
        if isinstance(layer, gluon.nn.HybridSequential):
            seen.append(x.shape[2])
    assert seen == sizes
    assert x.shape == (1, 10)


def test_stems_change_only_the_first_convolution():
    from mxnet import np, npx
    npx.set_np()
    counts = {}
    for stem in models.STEMS:
        net = models.resnet(18, num_classes=10, stem=stem)
        net.initialize()
        net(np.zeros((1, 1, 28, 28)))
        counts[stem] = models.count_parameters(net)
    # 7x7 and 3x3 kernels from one input channel to 64: 49*64 and 9*64 weights.
    assert counts['imagenet'] - counts['small'] == (49 - 9) * 64
    assert counts['small'] == counts['small-stride2']


def test_an_unknown_stem_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="stem must be one of .*'small-stride2'.*got 'cifar'"):
        models.resnet(18, stem='cifar')


def test_cpu_and_quick_profiles_train_the_same_network_and_gpu_the_classic_one():
    assert profiles.PROFILES['cpu'].stem == profiles.PROFILES['quick'].stem
    assert profiles.PROFILES['cpu'].width == profiles.PROFILES['quick'].width
    assert profiles.PROFILES['gpu'].width == 1.0
    assert profiles.PROFILES['cpu'].stem in models.STEMS
    assert profiles.PROFILES['gpu'].stem == 'imagenet'


def test_the_cpu_profile_is_a_setting_the_frontier_measured():
    runs = [json.loads(line) for line in FRONTIER_RECORD.read_text().splitlines() if line.strip()]
    for run in runs:
        assert {'cpu', 'stem', 'epochs', 'batch', 'lr', 'seed', 'test_acc', 'minutes',
                'load_before'} <= set(run), run
    cpu = profiles.PROFILES['cpu']
    chosen = [run for run in runs if (run['stem'], run.get('width', 1.0), run['epochs'], run['batch'],
                                      run['lr']) == (cpu.stem, cpu.width, cpu.num_epochs,
                                                     cpu.batch_size, cpu.lr)]
    assert {run['seed'] for run in chosen} >= {0, 1, 2}, \
        'benchmarks/frontier_runs.jsonl has no three seeds of the cpu profile'


def test_time_to_accuracy_prints_the_mean_over_seeds_last():
    script = ROOT / 'benchmarks' / 'time_to_accuracy.py'
    out = subprocess.run([sys.executable, str(script), '--profile', 'quick', '--seeds', '0', '1'],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    lines = out.strip().splitlines()
    seeds = [float(m.group(1)) for m in re.finditer(r'^seed \d+: test accuracy (\S+)', out, re.M)]
    assert len(seeds) == 2
    last = re.fullmatch(r'test accuracy (\S+) after (\S+) minutes', lines[-1])
    assert last, lines[-1]
    assert float(last.group(1)) == pytest.approx(sum(seeds) / 2, abs=1e-4)
    assert 'flags:' in lines[0]
