"""Plotting helpers that d2l 1.0.3's MXNet module lacks, and plots that compare equal run after run.

d2l 1.0.3 defines ``show_images`` twice for MXNet: the Fashion-MNIST section's version raises
NotImplementedError, and the later utility version that shadows it draws grey images in false colour
and has no way to label them. ``show_images`` below fills that gap.
"""
import os

SVG_SALT = 'd2lutils'


def use_stable_svg():
    """Draw every figure as SVG, identical from run to run, so nbval can compare them byte for byte.

    Matplotlib stamps each SVG with the current date and with random clip-path ids; a fixed
    ``SOURCE_DATE_EPOCH`` and ``svg.hashsalt`` remove both. ``d2l.use_svg_display()`` alone does not
    last: the inline backend re-applies its own ``figure_formats`` (PNG) when it is first activated,
    so figures drawn before any ``d2l.plot`` came out as PNG. Setting that trait makes SVG stick.
    Call it in a notebook's first cell, as every chapter does.
    """
    from d2l import mxnet as d2l
    from matplotlib_inline import backend_inline
    os.environ['SOURCE_DATE_EPOCH'] = '0'
    d2l.plt.rcParams['svg.hashsalt'] = SVG_SALT
    backend_inline.InlineBackend.instance().figure_formats = {'svg'}


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """Draw images in a grid, grey images in greys, with an optional title under each. Used in
    chapters 0 and 5.

    Parameters
    ----------
    imgs : sequence or array
        HxW or HxWxC images, MXNet or NumPy.
    num_rows, num_cols : int
        The grid.
    titles : sequence of str, optional
        One title per image.
    scale : float
        Inches per image.

    Returns
    -------
    numpy.ndarray of matplotlib Axes
    """
    from d2l import mxnet as d2l
    _, axes = d2l.plt.subplots(num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale),
                               squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        img = img.asnumpy() if hasattr(img, 'asnumpy') else img
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap='gray_r' if img.ndim == 2 else None)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles:
            ax.set_title(titles[i], fontsize=9)
    for ax in axes[len(imgs):]:
        ax.axis('off')
    return axes
