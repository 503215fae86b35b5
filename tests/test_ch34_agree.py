"""The code chapters 3 and 4 show agrees with the library the later chapters use.

The notebooks define ``Residual`` (chapter 3) and ``resnet_stage``/``resnet18`` (chapter 4) in cells
a reader can see. Those cells are executed here from the notebook files themselves, and the results
are compared with ``d2lutils.models``: same parameter names and shapes, same outputs for the same
weights, same layer-by-layer trace.
"""
import pathlib

import nbformat
import pytest

import d2lutils
import mxnet as mx
from mxnet import autograd, np, npx
from mxnet.gluon import nn

from d2lutils import inspection, models

npx.set_np()

CHAPTERS = pathlib.Path(__file__).resolve().parent.parent / 'chapters'


def notebook_definitions(notebook, marker):
    """Execute the one code cell of ``notebook`` that contains ``marker``; return its namespace."""
    nb = nbformat.read(CHAPTERS / notebook, as_version=4)
    sources = [cell.source for cell in nb.cells
               if cell.cell_type == 'code' and marker in cell.source]
    assert len(sources) == 1, f'{notebook}: {len(sources)} cells contain {marker!r}, expected 1'
    namespace = {'nn': nn, 'models': models}
    exec(compile(sources[0], f'{notebook}:{marker}', 'exec'), namespace)
    return namespace


@pytest.fixture(scope='module')
def chapter3_residual():
    return notebook_definitions('03_residual_block.ipynb', 'class Residual(')['Residual']


@pytest.fixture(scope='module')
def chapter4():
    return notebook_definitions('04_resnet18.ipynb', 'def resnet_stage(')


def shapes(net):
    return [(name, p.shape) for name, p in models.named_parameters(net, trainable_only=False)]


@pytest.mark.parametrize('in_channels, args', [
    (3, (3,)), (3, (6, True, 2)), (8, (16, True, 1)), (8, (8, False, 1)), (4, (4, True, 2)),
])
def test_chapter3_residual_equals_library(chapter3_residual, in_channels, args):
    d2lutils.seed_everything(0)
    X = np.random.normal(size=(2, in_channels, 7, 7))
    ours, lib = chapter3_residual(*args), models.Residual(*args)
    ours.initialize()
    lib.initialize()
    ours(X), lib(X)
    assert shapes(ours) == shapes(lib)
    assert models.count_parameters(ours) == models.count_parameters(lib)
    # Same weights in, same outputs out, in training mode (batch statistics) and in prediction mode.
    lib_params = dict(models.named_parameters(lib, trainable_only=False))
    for name, param in models.named_parameters(ours, trainable_only=False):
        lib_params[name].set_data(param.data())
    assert ours(X).shape == lib(X).shape
    assert float(np.abs(ours(X) - lib(X)).max()) == 0.0
    with autograd.train_mode():
        assert float(np.abs(ours(X) - lib(X)).max()) == 0.0


@pytest.mark.parametrize('input_shape', [(1, 1, 96, 96), (1, 3, 224, 224)])
def test_chapter4_resnet18_equals_library(chapter4, input_shape):
    ours = chapter4['resnet18'](num_classes=10)
    lib = models.resnet(18, num_classes=10)
    strip = lambda rows: [(r.name, r.kind, r.output_shape, r.params, r.macs) for r in rows]
    assert strip(inspection.trace(ours, input_shape)) == strip(inspection.trace(lib, input_shape))
    ours.infer_shape(np.zeros(input_shape))
    lib.infer_shape(np.zeros(input_shape))
    assert shapes(ours) == shapes(lib)


def test_chapter4_stage_equals_library_stage(chapter4):
    for first in (True, False):
        ours = chapter4['resnet_stage'](128, 3, first_stage=first)
        lib = models.resnet_stage(models.Residual, 128, 3, first_stage=first, in_channels=128)
        x = (1, 128, 16, 16)
        strip = lambda rows: [(r.kind, r.output_shape, r.params) for r in rows]
        assert strip(inspection.trace(ours, x)) == strip(inspection.trace(lib, x))
