"""The code chapters 1 and 2 show is the code the library holds: the notebooks' definitions are
extracted from the notebook files, run, and compared with d2lutils on the same inputs."""
import pathlib

import nbformat
import numpy as onp
import pytest
from mxnet import autograd, init, np, npx

from d2lutils import batchnorm, gradients, seed_everything

npx.set_np()

CHAPTERS = pathlib.Path(__file__).resolve().parents[1] / 'chapters'
PREAMBLE = ('import numpy as onp\nfrom mxnet import autograd, gluon, init, np, npx\n'
            'from mxnet.gluon import nn\n')


def notebook_definitions(notebook, *starts):
    """Run, in a fresh namespace, every code cell of ``notebook`` that begins with one of ``starts``."""
    nb = nbformat.read(CHAPTERS / notebook, as_version=4)
    namespace = {}
    exec(PREAMBLE, namespace)
    found = []
    for cell in nb.cells:
        if cell.cell_type == 'code' and cell.source.lstrip().startswith(starts):
            exec(cell.source, namespace)
            found.append(cell.source.split('(')[0])
    assert len(found) == len(starts), f'{notebook}: expected cells starting with {starts}, found {found}'
    return namespace


@pytest.fixture(scope='module')
def chapter2():
    return notebook_definitions('02_batch_norm.ipynb', 'def batch_norm(', 'class BatchNorm(')


@pytest.fixture(scope='module')
def chapter1():
    return notebook_definitions('01_vanishing_gradients.ipynb', 'def deep_mlp(')


@pytest.mark.parametrize('shape', [(16, 5), (4, 3, 6, 6)])
@pytest.mark.parametrize('training', [True, False])
def test_batch_norm_function_agrees(chapter2, shape, training):
    seed_everything(0)
    param_shape = (1, shape[1]) + (1,) * (len(shape) - 2)
    args = [np.random.normal(1, 2, shape), np.random.uniform(0.5, 2, param_shape),
            np.random.normal(0, 1, param_shape), np.random.normal(0, 1, param_shape),
            np.random.uniform(0.5, 2, param_shape)]
    theirs = chapter2['batch_norm'](*args, 1e-5, 0.9, training)
    ours = batchnorm.batch_norm(*args, 1e-5, 0.9, training)
    for a, b in zip(theirs, ours):
        assert float(abs(a - b).max()) < 1e-6


@pytest.mark.parametrize('shape', [(16, 5), (4, 3, 6, 6)])
def test_batch_norm_block_agrees(chapter2, shape):
    seed_everything(0)
    blocks = [chapter2['BatchNorm'](shape[1]), batchnorm.BatchNorm(shape[1])]
    for block in blocks:
        block.initialize()
        block.gamma.set_data(np.arange(1, shape[1] + 1) / shape[1])
    for _ in range(3):
        X = np.random.normal(3, 2, shape)
        outputs = []
        for block in blocks:
            with autograd.record():
                outputs.append(block(X))
        assert float(abs(outputs[0] - outputs[1]).max()) < 1e-6
    for name in ['running_mean', 'running_var']:
        a, b = (getattr(block, name).data() for block in blocks)
        assert float(abs(a - b).max()) < 1e-6
        assert float(abs(b - (0 if name == 'running_mean' else 1)).max()) > 0.1  # they moved
    X = np.random.normal(3, 2, shape)
    assert float(abs(blocks[0](X) - blocks[1](X)).max()) < 1e-6


def test_gradient_measurement_agrees(chapter1):
    X = np.random.uniform(size=(8, 12))
    y = np.arange(8, dtype='int32') % 10
    results = []
    for module in (chapter1, gradients):
        seed_everything(0)
        net = module['deep_mlp'](6, 16, 'sigmoid') if isinstance(module, dict) else \
            module.deep_mlp(6, 16, 'sigmoid')
        net.initialize(init.Xavier())
        measure = module['layer_grad_norms'] if isinstance(module, dict) else module.layer_grad_norms
        results.append(measure(net, X, y))
    assert len(results[0]) == 7
    onp.testing.assert_allclose(results[0], results[1], rtol=1e-6)
