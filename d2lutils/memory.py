"""A training step's memory: estimated, measured, against what the device has; advice when short.

Chapter 4 estimates what one training step keeps in memory (``training_memory_breakdown``,
``estimate_training_memory``: weights, gradients, optimizer state and the activations of
``inspection.activation_bytes``) and measures what a real step takes on this machine
(``measure_training_step_memory``).

The classic ResNet chapter died on small GPUs with ``cudaMalloc failed: out of memory``. Chapter 5
has two guards:

* before training, ``plan_batch`` compares the estimate with the memory the device has free, and
  halves the batch until it fits, scaling the learning rate by the same factor (the linear scaling
  rule, Goyal et al. 2017, "Accurate, Large Minibatch SGD", arXiv 1706.02677);
* during training, ``out_of_memory_advice`` turns MXNet's out-of-memory error into a short message
  that says what to change, and lets every other error through untouched.

On a GPU the free memory comes from ``mx.context.gpu_memory_info``; on a CPU from the operating
system's estimate of memory available to a new program (``MemAvailable`` in ``/proc/meminfo``).
"""
import contextlib
import dataclasses
import os
import time
from typing import Annotated

import mxnet as mx
from mxnet import autograd, gluon, np
from mxnet.base import MXNetError

from d2lutils import arguments, inspection
from d2lutils.arguments import Check, checked
from d2lutils.inspection import ImageShape
from d2lutils.models import Net

BatchSize = Annotated[int, Check(arguments.positive_int)]
OptimizerStates = Annotated[int, Check(arguments.non_negative_int)]

# Fraction of the free memory a plan may use: the estimate leaves out the framework's workspace
# (cuDNN and oneDNN scratch buffers), the memory pool's rounding and fragmentation.
DEFAULT_HEADROOM = 0.8

# Phrases MXNet's error messages carry when an allocation fails (GPU: CUDA's allocator; CPU: the
# storage manager's malloc or the C++ runtime).
OUT_OF_MEMORY_PHRASES = ('out of memory', 'cudamalloc failed', 'std::bad_alloc',
                         'failed to allocate')


# --- the estimate and the measurement (chapter 4) -----------------------------------------------

@checked
def training_memory_breakdown(net: Net, input_shape: ImageShape, batch_size: BatchSize,
                              optimizer_states: OptimizerStates = 0):
    """Bytes one training step needs, by item, for ``batch_size`` images of ``input_shape``. Used in
    chapter 4.

    Parameters
    ----------
    net : gluon.Block
        The network; it may be uninitialized and is not changed.
    input_shape : tuple of int
        One image's shape (C, H, W), or (N, C, H, W) with N ignored.
    batch_size : int
        Images per step.
    optimizer_states : int
        Copies of the trainable parameters the optimizer keeps: 0 for plain SGD (the book's
        default), 1 for SGD with momentum, 2 for Adam.

    Returns
    -------
    dict
        Bytes for ``weights``, ``gradients``, ``optimizer`` and ``activations``.

    Assumptions (float32 everywhere):

    - ``weights``: every parameter, trainable or not (running statistics included);
    - ``gradients``: one gradient per trainable parameter;
    - ``optimizer``: ``optimizer_states`` copies of the trainable parameters;
    - ``activations``: ``inspection.activation_bytes`` per sample times the batch size, kept from the forward
      pass for the backward pass. The gradients with respect to activations are not counted: the
      backward pass frees them layer by layer, so only a few exist at a time.

    Not counted: the input pipeline, MXNet's own code and buffers, operator scratch space, and the
    memory pool's rounding. ``measure_training_step_memory`` shows how far that is from reality.
    """
    trainable, other = inspection.parameter_counts(net, input_shape)
    return {
        'weights': (trainable + other) * inspection.BYTES_PER_FLOAT32,
        'gradients': trainable * inspection.BYTES_PER_FLOAT32,
        'optimizer': optimizer_states * trainable * inspection.BYTES_PER_FLOAT32,
        'activations': inspection.activation_bytes(net, input_shape) * batch_size,
    }


@checked
def estimate_training_memory(net: Net, input_shape: ImageShape, batch_size: BatchSize,
                             optimizer_states: OptimizerStates = 0):
    """Estimated bytes for one training step: the sum of ``training_memory_breakdown``. Used in
    chapters 4 and 5.

    Parameters
    ----------
    net, input_shape, batch_size, optimizer_states
        As in ``training_memory_breakdown``: ``net`` may be uninitialized and is not changed.

    Returns
    -------
    int
        Bytes.
    """
    return sum(training_memory_breakdown(net, input_shape, batch_size, optimizer_states).values())


def _proc_status_kb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss():
    """Make VmHWM (peak resident memory) start again from the current RSS (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


@checked
def measure_training_step_memory(
        net: Annotated[object, Check(arguments.initialized_net)], input_shape: ImageShape, batch_size: BatchSize,
        num_steps: Annotated[int, Check(arguments.positive_int)] = 2,
        device: Annotated[object, Check(arguments.context, none_means='the CPU')] = None):
    """Run ``num_steps`` training steps on random data and report the peak memory they added.
    Used in chapter 4.

    Parameters
    ----------
    net : gluon.Block
        An initialized network.
    input_shape : tuple of int
        One image's shape (C, H, W), or (N, C, H, W) with N ignored.
    batch_size : int
        Images per step.
    num_steps : int
        Steps measured (after one warm-up forward pass).
    device : mxnet.Context, optional
        Where the random data goes; the CPU by default.

    Returns
    -------
    dict
        ``peak_growth`` (bytes), ``baseline`` (bytes), ``reset_worked`` (False: the peak could
        not be reset, so the number may include an older peak) and ``seconds`` per step.

    Linux only: it reads the process's resident memory from ``/proc/self/status``. The first
    forward pass (outside the measurement) fixes deferred shapes and warms MXNet's operators up.
    Then the peak resident set size is reset, the steps run (forward, loss, backward, plain SGD
    update) and the result is the peak minus the resident size just before. The weights and their
    gradient buffers (Gluon allocates both when it initializes a parameter) existed before, so they
    are not in it; activations, the loss, scratch space and everything else MXNet allocates during
    the steps are.

    The learning rate is 0, so the weights stay as they were; batch norm's running mean and variance
    do move (MXNet updates them in the backward pass of each training step; chapter 2).
    """
    device = device or mx.cpu()
    shape = (batch_size,) + inspection.one_sample_shape(input_shape)[1:]
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.0})
    X = np.random.uniform(size=shape, ctx=device)
    try:
        warm = net(X[:1])
    except MXNetError as error:
        raise arguments.ArgumentError(
            f'input_shape {tuple(input_shape)} does not fit net: its first forward pass failed '
            f'({arguments.error_line(error)}). Give the shape of the images it was built '
            f'for.') from None
    y = np.zeros((batch_size,), ctx=device)
    mx.nd.waitall()
    del warm
    baseline = _proc_status_kb('VmRSS') * 1024
    reset_worked = _reset_peak_rss()
    start = time.perf_counter()
    for _ in range(num_steps):
        with autograd.record():
            loss = loss_fn(net(X), y)
        loss.backward()
        trainer.step(batch_size)
        mx.nd.waitall()
    seconds = (time.perf_counter() - start) / num_steps
    peak = _proc_status_kb('VmHWM') * 1024
    return {'peak_growth': peak - baseline, 'baseline': baseline, 'reset_worked': reset_worked,
            'seconds': seconds}


@checked
def format_bytes(n: Annotated[float, Check(arguments.non_negative_finite)]):
    """1536 -> '1.5 KiB'; binary units, as memory is sold and reported by the OS. Used in chapters 4
    and 5.

    Parameters
    ----------
    n : int or float
        A number of bytes.

    Returns
    -------
    str
        Whole bytes below 1 KiB, else one decimal in KiB, MiB or GiB.
    """
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(n) < 1024 or unit == 'GiB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1024


# --- what the device has, and will the batch fit (chapter 5) -----------------------------------

def cpu_memory(meminfo='/proc/meminfo'):
    """(available, total) bytes of system memory, as the operating system estimates them."""
    try:
        fields = {}
        with open(meminfo) as f:
            for line in f:
                key, value = line.split(':', 1)
                fields[key] = int(value.split()[0]) * 1024  # the file counts in kB (KiB)
        return fields['MemAvailable'], fields['MemTotal']
    except (OSError, KeyError, ValueError):  # not Linux, or an old kernel without MemAvailable
        page = os.sysconf('SC_PAGE_SIZE')
        return os.sysconf('SC_AVPHYS_PAGES') * page, os.sysconf('SC_PHYS_PAGES') * page


def device_memory(device):
    """(free, total) bytes on ``device``: GPU memory for a GPU context, system memory for a CPU."""
    if device.device_type == 'gpu':
        return mx.context.gpu_memory_info(device.device_id)
    return cpu_memory()


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    """The batch size and learning rate to train with, and why."""
    device: object
    batch_size: int
    lr: float
    requested_batch_size: int
    requested_lr: float
    needed: int           # estimated bytes for ``batch_size``
    free: int             # bytes free on the device
    headroom: float
    fits: bool

    @property
    def reduced(self):
        return self.batch_size != self.requested_batch_size

    def __str__(self):
        usable = int(self.free * self.headroom)
        head = (f'{self.device}: a training step with batch {self.batch_size} needs about '
                f'{format_bytes(self.needed)}; {format_bytes(self.free)} is free, of which the plan '
                f'uses at most {self.headroom:.0%} ({format_bytes(usable)}).')
        if not self.fits:
            return (head + f' Even batch {self.batch_size} does not fit: use a smaller image size '
                    f"(the 'cpu' profile trains at 28x28) or a smaller network.")
        if self.reduced:
            return (head + f' Batch {self.requested_batch_size} would not fit, so the batch is '
                    f'{self.batch_size} and the learning rate {self.lr:g} (was '
                    f'{self.requested_lr:g}, scaled by the same factor).')
        return head + f' It fits: batch {self.batch_size}, learning rate {self.lr:g}.'


@checked
def plan_batch(net: Annotated[object, Check(
                   arguments.instance_of, cls='mxnet.gluon.Block',
                   allowed='a Gluon network (a gluon.Block)',
                   none_means='only with an estimate that needs none')],
               input_shape: ImageShape, batch_size: BatchSize,
               lr: Annotated[float, Check(arguments.positive_finite)],
               device: Annotated[object, Check(arguments.context, seen=False)], *,
               optimizer_states: OptimizerStates = 0,
               headroom: Annotated[float, Check(arguments.fraction)] = DEFAULT_HEADROOM,
               min_batch_size: BatchSize = 8,
               free: Annotated[float | None, Check(arguments.non_negative_finite_or_none)] = None,
               estimate: Annotated[object, Check(
                   arguments.callable_not_class,
                   allowed='a function estimate(net, input_shape, batch_size) giving bytes',
                   none_means="chapter 4's estimate")] = None):
    """Return a ``BatchPlan``: ``batch_size`` if it fits on ``device``, else the largest halving of it.

    ``input_shape`` is one example's shape, e.g. ``(1, 96, 96)``; ``optimizer_states`` is passed to
    the estimate (1 for SGD with momentum). The learning rate is scaled with the batch (halve the
    batch, halve the rate). ``free`` (bytes) replaces the device's own figure and
    ``estimate(net, input_shape, batch_size)`` replaces chapter 4's estimate, e.g. to plan for a GPU
    this machine does not have. Below ``min_batch_size`` the plan gives up and says so (``fits`` is
    False) rather than train with batches too small for batch normalization. Every argument is
    checked first: a negative free memory or a batch of 100.5 is refused by name, not planned for.
    """
    if estimate is None:
        if net is None:
            raise arguments.ArgumentError('net must be a Gluon network when no estimate is given '
                                          "(chapter 4's estimate reads it); got None.")

        def estimate(net, input_shape, size):
            return estimate_training_memory(net, input_shape, size, optimizer_states)
    if free is None:  # a GPU this machine lacks can be planned for only with its free memory given
        arguments.context('device', device)
        free = device_memory(device)[0]
    usable = free * headroom
    size = batch_size
    needed = estimate(net, input_shape, size)
    if not arguments.is_count(needed):
        raise arguments.ArgumentError(
            f'estimate must return a number of bytes (a finite number of at least 0); '
            f'estimate(net, {input_shape}, {size}) returned {arguments._shown(needed)}.')
    while needed > usable and size // 2 >= min_batch_size:
        size //= 2
        needed = estimate(net, input_shape, size)
    return BatchPlan(device=device, batch_size=size, lr=lr * size / batch_size,
                     requested_batch_size=batch_size, requested_lr=lr, needed=int(needed),
                     free=int(free), headroom=headroom, fits=needed <= usable)


def is_out_of_memory(err):
    """True if ``err`` is MXNet's (or the C++ runtime's) report of a failed allocation."""
    if not isinstance(err, (MXNetError, MemoryError)):
        return False
    if isinstance(err, MemoryError):
        return True
    text = str(err).lower()
    return any(phrase in text for phrase in OUT_OF_MEMORY_PHRASES)


class OutOfMemoryError(RuntimeError):
    """Training ran out of device memory; the message says what to change."""


def cause_line(err):
    """The line of ``err``'s message that says what failed, e.g. 'Failed to allocate CPU Memory'.

    MXNet's messages often start with 'Traceback (most recent call last):' and a C++ file name;
    the cause comes later, so the first line that names a failed allocation is taken.
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if any(phrase in line.lower() for phrase in OUT_OF_MEMORY_PHRASES):
            return line.removeprefix('MXNetError: ')
    return lines[0] if lines else repr(err)


def advice(err, batch_size=None, device=None):
    """A few lines on what ran out and what to try, from MXNet's out-of-memory error ``err``."""
    where = f' on {device}' if device is not None else ''
    smaller = (f'a batch of {max(batch_size // 2, 1)} instead of {batch_size} (and half the '
               f'learning rate)' if batch_size else 'a smaller batch (and a learning rate scaled '
               'down by the same factor)')
    return (f'Out of memory (内存不足){where}: {cause_line(err)}\n'
            f'What to try, one at a time:\n'
            f'  1. {smaller};\n'
            f"  2. smaller images: the 'cpu' profile trains at 28x28 instead of 96x96 "
            f'(set D2LUTILS_PROFILE=cpu and restart the kernel);\n'
            f'  3. free the device: close other notebooks that hold memory on it, then restart '
            f'this kernel.')


@contextlib.contextmanager
@checked
def out_of_memory_advice(
        batch_size: Annotated[int | None, Check(arguments.positive_int,
                                                none_means='not known')] = None,
        device: Annotated[object, Check(arguments.context, none_means='not known',
                                        seen=False)] = None):
    """Run a block; if MXNet runs out of memory in it, raise ``OutOfMemoryError`` with advice.

    The MXNet error (with its long C++ stack trace) is replaced, not chained, so a notebook shows the
    advice rather than a wall of trace. Any other error passes through unchanged.
    """
    try:
        yield
    except Exception as err:  # noqa: BLE001  (filtered just below; others are re-raised as they are)
        if not is_out_of_memory(err):
            raise
        raise OutOfMemoryError(advice(err, batch_size, device)) from None
