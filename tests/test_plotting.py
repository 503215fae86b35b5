"""Plots: SVG that sticks and repeats byte for byte; show_images draws grey images in greys."""
import io
import os

import numpy as onp

from d2lutils import plotting


def test_stable_svg_fixes_format_date_and_ids(monkeypatch):
    from d2l import mxnet as d2l
    from matplotlib_inline import backend_inline
    monkeypatch.delenv('SOURCE_DATE_EPOCH', raising=False)
    backend_inline.InlineBackend.instance().figure_formats = {'png'}
    plotting.use_stable_svg()
    assert backend_inline.InlineBackend.instance().figure_formats == {'svg'}
    assert os.environ['SOURCE_DATE_EPOCH'] == '0'

    def draw():
        fig, ax = d2l.plt.subplots()
        ax.plot([0, 1], [1, 0])
        ax.imshow(onp.eye(4))
        out = io.StringIO()
        fig.savefig(out, format='svg')
        d2l.plt.close(fig)
        return out.getvalue()
    assert draw() == draw()


def test_show_images_titles_grey_and_blank_spare_axes():
    from d2l import mxnet as d2l
    images = onp.zeros((5, 28, 28, 1), dtype=onp.uint8)
    axes = plotting.show_images(images, 2, 3, titles=list('abcde'))
    assert [ax.get_title() for ax in axes[:5]] == list('abcde')
    assert axes[0].images[0].get_cmap().name == 'gray_r'
    assert not axes[5].axison  # the sixth cell of the grid has no image and no frame
    d2l.plt.close('all')
