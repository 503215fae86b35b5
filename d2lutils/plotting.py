"""Plotting helpers that d2l 1.0.3's MXNet module lacks, and plots that compare equal run after run.

d2l 1.0.3 defines ``show_images`` twice for MXNet: the Fashion-MNIST section's version raises
NotImplementedError, and the later utility version that shadows it draws grey images in false colour
and has no way to label them. ``show_images`` below fills that gap.
"""
import os
from typing import Annotated

from d2lutils import arguments
from d2lutils.arguments import Check, checked

SVG_SALT = 'd2lutils'


@checked
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


@checked
def show_images(imgs: Annotated[object, Check(arguments.sequence,
                                              allowed='a list or array of images (HxW or HxWxC)')],
                num_rows: Annotated[int, Check(arguments.positive_int)],
                num_cols: Annotated[int, Check(arguments.positive_int)],
                titles: Annotated[object, Check(arguments.sequence, allowed='a list of titles',
                                                none_means='no titles')] = None,
                scale: Annotated[float, Check(arguments.positive_finite, example='1.5')] = 1.5):
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
    if len(imgs) > num_rows * num_cols:
        raise arguments.ArgumentError(
            f'imgs holds {len(imgs)} images, more than the {num_rows}x{num_cols} grid can show: '
            f'the rest would be left out. Pass imgs[:{num_rows * num_cols}], or a larger grid.')
    if titles is not None and len(titles) < min(len(imgs), num_rows * num_cols):
        raise arguments.ArgumentError(f'titles must give one title per image ({len(imgs)}); got '
                                      f'{len(titles)}.')
    for i, img in enumerate(imgs):
        if getattr(img, 'ndim', None) not in (2, 3):
            raise arguments.ArgumentError(
                f'imgs must hold images of shape HxW or HxWxC; image {i} is '
                f'{arguments._shown(img)}{" of shape " + str(img.shape) if hasattr(img, "shape") else ""}.')
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
