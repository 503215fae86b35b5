"""MXNet's CUDA build from PyPI alone: load its CUDA libraries, and keep it off GPUs it cannot drive.

``pip install -e ".[gpu]"`` (``make GPU=1``) brings ``mxnet-cu117`` and the CUDA 11 libraries as
``nvidia-*-cu11`` wheels, so no system CUDA is needed, only the NVIDIA driver. Two things are left to
do before MXNet is imported, and ``prepare`` (run by ``import d2lutils``) does both:

- The wheels put the libraries under ``site-packages/nvidia/<name>/lib``, where the dynamic loader
  does not look. Loading each one with ``RTLD_GLOBAL`` first, in dependency order, makes it the one
  ``libmxnet.so`` gets when it asks for it by name. (PyTorch's ``torch/__init__.py`` preloads its
  nvidia-* libraries the same way; MXNet 1.9.1 does not look for them.)
- ``libmxnet.so`` of ``mxnet-cu117`` holds compiled kernels (cubins) for compute capabilities 5.0,
  6.0, 7.0, 8.0 and 8.6 and no PTX that a newer driver could compile (``cuobjdump --list-elf`` and
  ``--list-ptx``, measured). A GPU it has no kernel for (Hopper 9.0, Blackwell 10.x/12.x) cannot
  run any of its operators; such GPUs are hidden from MXNet (``CUDA_VISIBLE_DEVICES``) so that
  ``d2l.try_gpu()`` picks the CPU and the book runs there, and ``profiles.default_profile_name``
  says why.

With MXNet's CPU build installed all of this is a no-op.
"""
import ctypes
import dataclasses
import importlib.metadata
import importlib.util
import os
import subprocess
from typing import Annotated

from d2lutils import arguments
from d2lutils.arguments import Check, checked

GPU_BUILD = 'mxnet-cu117'

# (major, minor) of the cubins in mxnet-cu117 1.9.1's libmxnet.so.
CUBIN_CAPABILITIES = ((5, 0), (6, 0), (7, 0), (8, 0), (8, 6))

# Each library libmxnet.so needs (readelf -d: NEEDED) that a wheel under site-packages/nvidia/ holds, and
# cuBLASLt, which cuBLAS needs, in an order where every library comes after the ones it needs.
# libcuda.so.1 is the driver's own and not among them. The parts that libcudnn.so.8 and libnvrtc load
# later (libcudnn_*.so.8, libnvrtc-builtins) are found without help: both carry RUNPATH $ORIGIN.
CUDA_LIBRARIES = (
    ('cuda_runtime', 'libcudart.so.11.0'),
    ('cuda_nvrtc', 'libnvrtc.so.11.2'),
    ('cublas', 'libcublasLt.so.11'),
    ('cublas', 'libcublas.so.11'),
    ('cufft', 'libcufft.so.10'),
    ('curand', 'libcurand.so.10'),
    ('cusparse', 'libcusparse.so.11'),
    ('cusolver', 'libcusolver.so.11'),
    ('nvtx', 'libnvToolsExt.so.1'),
    ('nccl', 'libnccl.so.2'),
    ('cudnn', 'libcudnn.so.8'),
)

# CUdevice_attribute values in CUDA's cuda.h.
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76

# The GPUs ``prepare`` hid from MXNet because the build has no kernels for them.
hidden_gpus = []


@dataclasses.dataclass(frozen=True)
class Gpu:
    uuid: str
    name: str
    capability: tuple


def can_run(capability, cubins=CUBIN_CAPABILITIES):
    """Whether a GPU of this compute capability can run kernels compiled for ``cubins``.

    A cubin runs on GPUs of the same major capability and an equal or higher minor one (CUDA's
    binary compatibility rule); only PTX, which this build lacks, would carry over to a newer major.
    """
    major, minor = capability
    return any(major == c_major and minor >= c_minor for c_major, c_minor in cubins)


@checked
def gpu_build_installed():
    """Whether the installed MXNet is the CUDA build of the ``gpu`` extra."""
    try:
        importlib.metadata.version(GPU_BUILD)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def nvidia_dirs():
    """The folders of the ``nvidia`` namespace package the CUDA wheels install into (maybe none)."""
    spec = importlib.util.find_spec('nvidia')
    return list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []


def library_paths(roots):
    """The CUDA libraries present under ``roots``, in loading order; absent ones are left out."""
    paths = []
    for package, filename in CUDA_LIBRARIES:
        found = [os.path.join(root, package, 'lib', filename) for root in roots]
        paths += [path for path in found if os.path.isfile(path)][:1]
    return paths


def preload_cuda_libraries(roots=None):
    """Load the CUDA libraries of the ``gpu`` extra globally; return their paths ([] when absent)."""
    paths = library_paths(nvidia_dirs() if roots is None else roots)
    for path in paths:
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as err:
            raise ImportError(
                f'{GPU_BUILD} is installed but its CUDA library {os.path.basename(path)} did not load '
                f'({err}): reinstall the GPU build with `make install GPU=1`.') from err
    return paths


def require_driver():
    """Fail with what to do when the NVIDIA driver's library, which libmxnet.so needs, is missing."""
    try:
        ctypes.CDLL('libcuda.so.1')
    except OSError as err:
        raise ImportError(
            f'{GPU_BUILD} is installed but the NVIDIA driver is not ({err}). Install '
            f'the driver, or go back to the CPU build with `make install` (without GPU=1).') from err


def parse_gpu_query(text):
    """GPUs from ``nvidia-smi --query-gpu=uuid,name,compute_cap --format=csv,noheader`` output."""
    gpus = []
    for line in text.strip().splitlines():
        uuid, rest = line.split(',', 1)
        name, capability = rest.rsplit(',', 1)   # a name may hold commas; the other fields do not
        major, minor = capability.strip().split('.')
        gpus.append(Gpu(uuid.strip(), name.strip(), (int(major), int(minor))))
    return gpus


def query_gpus():
    """The machine's GPUs as the driver's ``nvidia-smi`` lists them; [] when it cannot tell.

    nvidia-smi rather than the CUDA driver API: initialising CUDA in this process would fix the
    visible devices before ``hide_unusable_gpus`` could change them. Drivers older than R510 lack the
    ``compute_cap`` field; they predate every GPU this build cannot run (Hopper and Ada need R520+),
    so "cannot tell" leaves the GPUs visible.
    """
    try:
        result = subprocess.run(
            ['nvidia-smi', '--query-gpu=uuid,name,compute_cap', '--format=csv,noheader'],
            capture_output=True, text=True, timeout=30, check=True)
        return parse_gpu_query(result.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return []


@checked
def cuda_device(ordinal: Annotated[int, Check(arguments.non_negative_int)] = 0):
    """(name, capability) of CUDA device ``ordinal`` as the driver numbers it, or None without one.

    Asks the driver library (libcuda.so.1) directly, so the numbering is CUDA's and MXNet's, which
    nvidia-smi's need not be. It initialises CUDA, so it is for after ``prepare``, not before.
    """
    try:
        cuda = ctypes.CDLL('libcuda.so.1')
    except OSError:
        return None
    device, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    name = ctypes.create_string_buffer(256)
    succeeded = (   # each call returns 0 (CUDA_SUCCESS) or an error code
        cuda.cuInit(0) == 0
        and cuda.cuDeviceGet(ctypes.byref(device), ordinal) == 0
        and cuda.cuDeviceGetAttribute(ctypes.byref(major),
                                      CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device) == 0
        and cuda.cuDeviceGetAttribute(ctypes.byref(minor),
                                      CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device) == 0
        and cuda.cuDeviceGetName(name, len(name), device) == 0)
    return (name.value.decode(), (major.value, minor.value)) if succeeded else None


def hide_unusable_gpus(gpus, environ=os.environ):
    """Make CUDA show MXNet only the GPUs the build can run on; return the ones hidden.

    A ``CUDA_VISIBLE_DEVICES`` the reader set is kept as it is: it is their choice of device.
    """
    unusable = [gpu for gpu in gpus if not can_run(gpu.capability)]
    if unusable and 'CUDA_VISIBLE_DEVICES' not in environ:
        environ['CUDA_VISIBLE_DEVICES'] = ','.join(gpu.uuid for gpu in gpus if can_run(gpu.capability))
        return unusable
    return []


def gpu_list(name, value):
    """None, or a list of ``Gpu`` records (as ``query_gpus`` gives)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(g, Gpu) for g in value):
        raise arguments.ArgumentError(f'{name} must be None (the GPUs hidden at import) or a list '
                                      f'of gpu.Gpu records, as query_gpus() gives; got '
                                      f'{arguments._shown(value)}.')
    return value


@checked
def unusable_gpu_message(gpus: Annotated[list | None, Check(gpu_list)] = None):
    """One line on why the book runs on the CPU despite a GPU, or None when no GPU was hidden."""
    gpus = hidden_gpus if gpus is None else gpus
    if not gpus:
        return None
    listed = ', '.join(f'{gpu.name} (compute capability {gpu.capability[0]}.{gpu.capability[1]})'
                       for gpu in gpus)
    return (f'Not using {listed}: the kernels of {GPU_BUILD} run on compute capability 5.0 to 8.x '
            f'only (Maxwell to Ada, no PTX for newer GPUs), so the book runs on the CPU.')


def prepare():
    """Run by ``import d2lutils`` before MXNet is imported: a no-op unless the CUDA build is installed."""
    if not gpu_build_installed():
        return
    hidden_gpus[:] = hide_unusable_gpus(query_gpus())
    preload_cuda_libraries()
    require_driver()
