"""d2lutils.gpu without a GPU: the compute-capability rule, hiding GPUs, and the CUDA library preload."""
import _ctypes
import os
import shutil

import pytest

from d2lutils import gpu, profiles   # before mxnet: d2lutils restores numpy.bool on Python 3.12

import mxnet as mx  # noqa: E402

H100 = gpu.Gpu('GPU-h100', 'NVIDIA H100 80GB HBM3', (9, 0))
L4 = gpu.Gpu('GPU-l4', 'NVIDIA L4', (8, 9))
T4 = gpu.Gpu('GPU-t4', 'Tesla T4', (7, 5))


@pytest.mark.parametrize('capability, runs', [
    ((5, 0), True), ((5, 2), True),      # Maxwell
    ((6, 1), True),                      # Pascal
    ((7, 0), True), ((7, 5), True),      # Volta, Turing (sm_70 cubins)
    ((8, 0), True), ((8, 6), True),      # Ampere
    ((8, 9), True),                      # Ada: sm_86 cubins run on 8.9
    ((9, 0), False),                     # Hopper: no cubin of major 9, no PTX
    ((10, 0), False), ((12, 0), False),  # Blackwell
    ((3, 7), False),                     # Kepler: older than every cubin
])
def test_capability_rule_for_the_gpu_build(capability, runs):
    assert gpu.can_run(capability) is runs


def test_a_cubin_does_not_run_on_a_lower_minor_version():
    assert not gpu.can_run((8, 5), cubins=((8, 6),))
    assert gpu.can_run((8, 7), cubins=((8, 6),))


def test_parse_nvidia_smi_query_keeps_commas_in_names():
    text = 'GPU-aaa, NVIDIA H100 80GB HBM3, 9.0\nGPU-bbb, Odd, Name, 8.6\n'
    assert gpu.parse_gpu_query(text) == [
        gpu.Gpu('GPU-aaa', 'NVIDIA H100 80GB HBM3', (9, 0)), gpu.Gpu('GPU-bbb', 'Odd, Name', (8, 6))]


def test_unusable_gpus_are_hidden_and_usable_ones_kept():
    environ = {}
    assert gpu.hide_unusable_gpus([H100, L4, T4], environ) == [H100]
    assert environ['CUDA_VISIBLE_DEVICES'] == 'GPU-l4,GPU-t4'


def test_only_unusable_gpus_leave_none_visible():
    environ = {}
    assert gpu.hide_unusable_gpus([H100], environ) == [H100]
    assert environ['CUDA_VISIBLE_DEVICES'] == ''


def test_usable_gpus_and_the_readers_choice_are_left_alone():
    environ = {}
    assert gpu.hide_unusable_gpus([L4, T4], environ) == [] and environ == {}
    environ = {'CUDA_VISIBLE_DEVICES': '0'}
    assert gpu.hide_unusable_gpus([H100], environ) == []
    assert environ == {'CUDA_VISIBLE_DEVICES': '0'}


def test_a_hidden_gpu_gives_the_cpu_profile_and_one_line_saying_why(monkeypatch, capsys):
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    monkeypatch.setattr(gpu, 'hidden_gpus', [H100])
    assert profiles.default_profile_name() == 'cpu'
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert 'NVIDIA H100 80GB HBM3 (compute capability 9.0)' in lines[0] and 'CPU' in lines[0]


def test_no_hidden_gpu_no_message(monkeypatch, capsys):
    monkeypatch.setattr(gpu, 'hidden_gpus', [])
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    assert profiles.default_profile_name() == 'cpu'
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 1)
    assert profiles.default_profile_name() == 'gpu'
    assert capsys.readouterr().out == ''


def make_library_tree(root, names):
    for package, filename in names:
        (root / package / 'lib').mkdir(parents=True, exist_ok=True)
        (root / package / 'lib' / filename).write_bytes(b'')


def test_library_paths_follow_dependency_order_and_skip_absent_ones(tmp_path):
    make_library_tree(tmp_path, [('cudnn', 'libcudnn.so.8'), ('cuda_runtime', 'libcudart.so.11.0'),
                                 ('cublas', 'libcublas.so.11'), ('cublas', 'libcublasLt.so.11'),
                                 ('cuda_runtime', 'libcudart.so.12')])   # another CUDA's: not ours
    found = [os.path.relpath(p, tmp_path) for p in gpu.library_paths([str(tmp_path)])]
    assert found == ['cuda_runtime/lib/libcudart.so.11.0', 'cublas/lib/libcublasLt.so.11',
                     'cublas/lib/libcublas.so.11', 'cudnn/lib/libcudnn.so.8']


def test_preload_is_a_no_op_without_the_libraries(tmp_path):
    assert gpu.preload_cuda_libraries(roots=[str(tmp_path)]) == []
    assert gpu.preload_cuda_libraries(roots=[]) == []


def test_prepare_is_a_no_op_with_the_cpu_build(monkeypatch):
    assert not gpu.gpu_build_installed()   # this environment has MXNet's CPU build
    monkeypatch.setattr(gpu, 'query_gpus', lambda: pytest.fail('queried GPUs for the CPU build'))
    monkeypatch.setattr(gpu, 'preload_cuda_libraries', lambda: pytest.fail('preloaded for the CPU build'))
    gpu.prepare()


def loaded_paths():
    with open('/proc/self/maps') as maps:
        return {line.split()[-1] for line in maps if '/' in line}


@pytest.mark.skipif(not os.path.exists('/proc/self/maps'), reason='reads the Linux process map')
def test_preload_loads_a_present_library_globally(tmp_path):
    # Any shared object stands in for libnvToolsExt.so.1 (the loader takes it by its path): here the
    # C extension module behind ctypes, which every CPython has.
    (tmp_path / 'nvtx' / 'lib').mkdir(parents=True)
    target = tmp_path / 'nvtx' / 'lib' / 'libnvToolsExt.so.1'
    shutil.copy(_ctypes.__file__, target)
    assert gpu.preload_cuda_libraries(roots=[str(tmp_path)]) == [str(target)]
    assert str(target) in loaded_paths()


def test_a_library_that_does_not_load_is_a_clear_error(tmp_path):
    make_library_tree(tmp_path, [('cuda_runtime', 'libcudart.so.11.0')])   # empty: not an ELF file
    with pytest.raises(ImportError, match=r'libcudart.so.11.0 did not load .*make install GPU=1'):
        gpu.preload_cuda_libraries(roots=[str(tmp_path)])


def test_a_missing_driver_is_a_clear_error(monkeypatch):
    def no_driver(name, *args, **kwargs):
        raise OSError(f'{name}: cannot open shared object file')
    monkeypatch.setattr(gpu.ctypes, 'CDLL', no_driver)
    with pytest.raises(ImportError, match=r'NVIDIA driver is not .*without GPU=1'):
        gpu.require_driver()
