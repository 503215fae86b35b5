"""What a benchmark figure depends on besides the code: the CPU, its vector/matrix units, the load.

Every benchmark prints these next to its figures, so that a reader can tell a quiet machine's result
from a shared one's and an AVX-512 machine's from an AMX one's.
"""
import os
import platform

FLAGS = ('avx512f', 'avx512_bf16', 'avx512_vnni', 'amx_bf16', 'amx_tile')


def cpu_description():
    """CPU model (with family and model numbers, which name the generation when the model string
    does not, as under some hypervisors), core count and which of ``FLAGS`` the CPU has."""
    info = {}
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(':')
                info.setdefault(key.strip(), value.strip())
    except OSError:  # not Linux: the platform module's name is all there is
        pass
    model = info.get('model name') or platform.processor() or 'unknown CPU'
    if 'cpu family' in info:
        model += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    flags = set(info.get('flags', '').split())
    present = [flag for flag in FLAGS if flag in flags]
    return (f'{model}, {os.cpu_count()} CPU(s), flags: '
            f'{" ".join(present) or "none of " + ", ".join(FLAGS)}')


def load_average():
    """The 1-minute load average (runnable processes sharing the cores), or None."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
