"""Chapter 5's notebook keeps the book's rules that nbval alone does not check."""
import pathlib

import nbformat

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / 'chapters' / '05_training_resnet.ipynb'


def code_cells():
    return [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == 'code']


def test_d2lutils_is_imported_before_mxnet():
    first = code_cells()[0].splitlines()
    d2lutils_line = next(i for i, line in enumerate(first) if line.startswith('import d2lutils'))
    mxnet_lines = [i for i, line in enumerate(first) if 'mxnet' in line and 'import' in line]
    assert mxnet_lines and d2lutils_line < min(mxnet_lines)


def test_training_cells_print_the_profile_and_ignore_their_output():
    training_cells = [s for s in code_cells() if 'training.train(' in s]
    assert training_cells
    for source in training_cells:
        assert source.startswith('# NBVAL_IGNORE_OUTPUT'), source[:60]
    main_run = [s for s in training_cells if 'profile=profile' in s]
    assert len(main_run) == 1 and 'out_of_memory_advice' in main_run[0]


def test_kernel_is_python3():
    assert nbformat.read(NOTEBOOK, as_version=4).metadata.kernelspec.name == 'python3'
