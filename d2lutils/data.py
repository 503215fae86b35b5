"""Fashion-MNIST from local files first, as Gluon ``DataLoader``s in MXNet's NumPy mode.

Gluon's own ``FashionMNIST`` downloads the data and checks the *compressed* files against its mirror's
hashes, so it rejects perfectly good copies (Debian's package, for one) and fails without a network.
This loader reads the four IDX files itself, checks the *decompressed* bytes, and asks Gluon to
download only when no local copy exists.
"""
import dataclasses
import gzip
import hashlib
import math
import numbers
import os
import pathlib
import warnings
from typing import Annotated

import numpy as onp
from mxnet import base, gluon, np, npx
from mxnet.gluon.data import vision

from d2lutils import arguments
from d2lutils.arguments import Check, checked
from d2lutils.profiles import Profile

ENV_VAR = 'D2LUTILS_DATA'
DEBIAN_DIR = pathlib.Path('/usr/share/datasets/fashion-mnist')

TEXT_LABELS = ('t-shirt', 'trouser', 'pullover', 'dress', 'coat',
               'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot')

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049

# The parameters the public functions share, declared once.
Root = Annotated[str | os.PathLike | None, Check(arguments.folder)]
Resize = Annotated[int | None, Check(arguments.positive_int, none_means='keep 28x28')]


@dataclasses.dataclass(frozen=True)
class IdxFile:
    """What one of the four files must hold: its IDX magic number, item count and SHA-256."""
    name: str
    magic: int
    count: int
    sha256: str


# SHA-256 of the decompressed files of the original release (identical in Debian's package).
FILES = {
    ('train', 'images'): IdxFile('train-images-idx3-ubyte', IMAGES_MAGIC, 60000,
                                 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888'),
    ('train', 'labels'): IdxFile('train-labels-idx1-ubyte', LABELS_MAGIC, 60000,
                                 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9'),
    ('test', 'images'): IdxFile('t10k-images-idx3-ubyte', IMAGES_MAGIC, 10000,
                                '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b'),
    ('test', 'labels'): IdxFile('t10k-labels-idx1-ubyte', LABELS_MAGIC, 10000,
                                '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34'),
}

FIXES = ("Fix it in one of two ways:\n"
         "  1. On Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
         f"  2. Put the four files (gzipped or not) in a folder and set {ENV_VAR}=/that/folder")


class DataError(RuntimeError):
    """Fashion-MNIST could not be found or read, or a file of it is damaged."""


class DataNotFoundError(DataError):
    """No folder searched holds all four files: the one case in which a download may help."""


def mxnet_data_dir():
    """Where Gluon keeps the files it downloads ($MXNET_HOME/datasets/fashion-mnist)."""
    return pathlib.Path(base.data_dir()) / 'datasets' / 'fashion-mnist'


def candidate_dirs(root=None):
    """The folders searched, in order, each with a note on where it came from.

    A ``root`` or ``$D2LUTILS_DATA`` that names a file is refused: the reader meant a folder.
    """
    places = []
    if root is not None:
        places.append((arguments.folder('root', root), 'the root argument'))
    if os.environ.get(ENV_VAR):
        places.append((arguments.folder(f'${ENV_VAR}', os.environ[ENV_VAR]), f'${ENV_VAR}'))
    places.append((mxnet_data_dir(), "MXNet's data folder"))
    places.append((DEBIAN_DIR, "Debian's dataset-fashion-mnist package"))
    return places


def _file_in(folder, idx_file):
    """The file's path in ``folder``, gzipped or not, or None."""
    for suffix in ('.gz', ''):
        path = folder / (idx_file.name + suffix)
        try:
            if path.is_file():
                return path
        except PermissionError as err:  # a folder this user may not search
            raise DataError(f'{folder} cannot be searched: permission denied. Give your user '
                            f'access to it (e.g. chmod a+rx {folder}), or copy the four files to '
                            f'a folder you can read and set {ENV_VAR} to it.') from err
    return None


@checked
def find_fashion_mnist(root: Root = None):
    """Return the first folder that holds all four files; warn about named folders that did not.
    Used in chapter 0.

    Parameters
    ----------
    root : str or pathlib.Path, optional
        A folder to look in first; then the places ``candidate_dirs`` lists.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        Naming every place looked at, when none has all four files.
    """
    looked = []
    for folder, source in candidate_dirs(root):
        missing = [f.name for f in FILES.values() if _file_in(folder, f) is None]
        if not missing:
            for earlier, earlier_source, earlier_missing in looked:
                if earlier_source in ('the root argument', f'${ENV_VAR}'):
                    warnings.warn(f'Fashion-MNIST is not complete in {earlier} ({earlier_source}: '
                                  f'missing {", ".join(earlier_missing)}); using {folder} instead.')
            return folder
        looked.append((folder, source, missing))
    lines = '\n'.join(f'  - {folder} ({source}): missing {", ".join(missing)}'
                      for folder, source, missing in looked)
    raise DataNotFoundError(f'Fashion-MNIST was not found. Looked in:\n{lines}\n{FIXES}')


def read_idx(path, expected):
    """Read one IDX file and check its header, its size and its checksum against ``expected``.

    Returns a uint8 array: (count, rows, cols) for images, (count,) for labels.
    """
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == '.gz' else open
    try:
        with opener(path, 'rb') as f:
            raw = f.read()
    except PermissionError as err:  # the file may be perfectly good: do not advise deleting it
        raise DataError(f'{path} cannot be read: permission denied. Give your user read access '
                        f'(e.g. chmod a+r {path}), or copy the four files to a folder you can '
                        f'read and set {ENV_VAR} to it.') from err
    except (OSError, EOFError) as err:
        raise DataError(f'{path} cannot be read ({err}); it is truncated or not a gzip file. '
                        f'Delete it and install the data again.\n{FIXES}') from err
    if len(raw) < 8:
        raise DataError(f'{path} is too short to be an IDX file ({len(raw)} bytes).\n{FIXES}')
    magic, count = int.from_bytes(raw[0:4], 'big'), int.from_bytes(raw[4:8], 'big')
    if magic != expected.magic or count != expected.count:
        raise DataError(f'{path} has the wrong IDX header: magic {magic}, {count} items; expected '
                        f'magic {expected.magic}, {expected.count} items.\n{FIXES}')
    shape = (count, int.from_bytes(raw[8:12], 'big'), int.from_bytes(raw[12:16], 'big')) \
        if magic == IMAGES_MAGIC else (count,)
    header = 16 if magic == IMAGES_MAGIC else 8
    if len(raw) != header + int(onp.prod(shape)):
        raise DataError(f'{path} holds {len(raw) - header} bytes of data; its header announces '
                        f'{int(onp.prod(shape))}. The file is truncated or damaged.\n{FIXES}')
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected.sha256:
        raise DataError(f'{path} is damaged: the SHA-256 of its contents is {digest}, expected '
                        f'{expected.sha256}.\n{FIXES}')
    return onp.frombuffer(raw, dtype=onp.uint8, offset=header).reshape(shape)


def _download_with_gluon(root=None):
    """Last resort: let Gluon fetch the data into its folder; explain what to do when it cannot."""
    try:
        for train in (True, False):
            vision.FashionMNIST(root=str(mxnet_data_dir()), train=train)
    except Exception as err:  # Gluon raises several kinds (URLError, OSError, ...) when offline.
        places = '\n'.join(f'  - {folder} ({source})' for folder, source in candidate_dirs(root))
        raise DataError(f'Fashion-MNIST was not found locally and could not be downloaded '
                        f'({type(err).__name__}: {err}). Looked in:\n{places}\n{FIXES}') from err


@checked
def read_fashion_mnist(split: Annotated[str, Check(arguments.one_of, choices=('train', 'test'))] = 'train',
                       root: Root = None):
    """Return (images, labels) of one split as uint8 NumPy arrays: (N, 28, 28) and (N,). Used in
    chapters 0, 1, 2, 4 and 5.

    Parameters
    ----------
    split : str
        'train' or 'test'.
    root : str or pathlib.Path, optional
        A folder to look in first (see ``find_fashion_mnist``). Local copies are used when present;
        otherwise Gluon downloads.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
    """
    try:
        folder = find_fashion_mnist(root)
    except DataNotFoundError:
        _download_with_gluon(root)
        folder = find_fashion_mnist(root)
    images = read_idx(_file_in(folder, FILES[split, 'images']), FILES[split, 'images'])
    labels = read_idx(_file_in(folder, FILES[split, 'labels']), FILES[split, 'labels'])
    return images, labels


def _class_index(i):
    """``i`` as a Python int if it is a whole number (Python, NumPy or a 0-d MXNet array), else None."""
    if isinstance(i, (bool, onp.bool_)):
        return None
    if isinstance(i, numbers.Integral):
        return int(i)
    if getattr(i, 'ndim', None) == 0 and hasattr(i, 'item'):
        value = i.item()
        if isinstance(value, numbers.Real) and not isinstance(value, bool) \
                and math.isfinite(value) and float(value).is_integer():
            return int(value)
    return None


def class_indices(name, value):
    """The check of ``text_labels``'s argument: whole numbers from 0 to 9, as a list of ints."""
    allowed = f'class indices from 0 to {len(TEXT_LABELS) - 1}, e.g. [0, 9] or an array of labels'
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, '__iter__'):
        raise arguments.ArgumentError(f'{name} must be {allowed}; got {arguments._shown(value)}.')
    indices = []
    for i in value:
        index = _class_index(i)
        if index is None or not 0 <= index < len(TEXT_LABELS):  # -1 would give the last class
            raise arguments.ArgumentError(f'{name} must be {allowed}; one of them is '
                                          f'{arguments._shown(i)}.')
        indices.append(index)
    return indices


@checked
def text_labels(indices: Annotated[list, Check(class_indices)]):
    """The text label of each class index, e.g. 9 -> 'ankle boot'. Used in chapter 0.

    Parameters
    ----------
    indices : iterable of int
        Class indices 0-9 (plain integers, NumPy or MXNet arrays).

    Returns
    -------
    list of str
    """
    return [TEXT_LABELS[index] for index in indices]


def subset_indices(total, size, seed=0):
    """A fixed random choice of ``size`` of ``total`` examples, so a quick run sees every class.

    ``None`` means all of them; a size outside 1..``total`` is refused.
    """
    size = arguments.subset_size('size', size, total)
    if size is None or size == total:
        return onp.arange(total)
    return onp.sort(onp.random.RandomState(seed).permutation(total)[:size])


@checked
def make_batchify(resize: Resize = None):
    """Turn a list of (uint8 28x28x1 image, label) pairs into a float32 NCHW batch in [0, 1].
    Used in chapter 5.

    Resizing a whole batch at once is much faster than Gluon's per-image ``transforms.Resize``.

    Parameters
    ----------
    resize : int, optional
        Side of the square images the batch holds; None keeps 28x28.

    Returns
    -------
    callable
        The ``batchify_fn`` for a Gluon ``DataLoader``: a list of pairs -> (images, labels).
    """

    def batchify(samples):
        images = onp.stack([s[0] for s in samples])
        labels = onp.array([s[1] for s in samples], dtype=onp.int32)
        X = np.array(images, dtype='float32') / 255
        if resize:
            X = npx.image.resize(X, (resize, resize))
        return X.transpose(0, 3, 1, 2), np.array(labels)
    return batchify


@checked
def load_fashion_mnist(
        batch_size: Annotated[int, Check(arguments.positive_int)],
        resize: Resize = None,
        train_subset: Annotated[int | None, Check(arguments.subset_size,
                                                  total=FILES['train', 'labels'].count)] = None,
        test_subset: Annotated[int | None, Check(arguments.subset_size,
                                                 total=FILES['test', 'labels'].count)] = None,
        shuffle: Annotated[bool, Check(arguments.flag)] = True,
        root: Root = None):
    """Return (train_iter, test_iter): Gluon DataLoaders of Fashion-MNIST, float32 NCHW images.
    Used in chapters 0, 1, 2, 3b and 5.

    Every argument is checked before any file is read.

    Parameters
    ----------
    batch_size : int
        Examples per batch.
    resize : int, optional
        Side the 28x28 images are scaled to (ResNet's classic setting uses 96); None keeps them.
    train_subset, test_subset : int, optional
        Take a fixed random subset of this size, for quick runs; None takes the whole split.
    shuffle : bool
        Shuffle the training set every epoch (seed NumPy to make the order reproducible).
    root : str or pathlib.Path, optional
        A folder to look in first (see ``find_fashion_mnist``).

    Returns
    -------
    (gluon.data.DataLoader, gluon.data.DataLoader)
    """
    loaders = []
    for split, size, shuffle_split in (('train', train_subset, shuffle), ('test', test_subset, False)):
        images, labels = read_fashion_mnist(split, root)
        keep = subset_indices(len(labels), size)
        dataset = gluon.data.ArrayDataset(images[keep, :, :, None], labels[keep])
        loaders.append(gluon.data.DataLoader(dataset, batch_size, shuffle=shuffle_split,
                                             batchify_fn=make_batchify(resize)))
    return tuple(loaders)


@checked
def load_with_profile(
        profile: Annotated[Profile, Check(
            arguments.instance_of, cls='d2lutils.profiles.Profile',
            allowed="a run profile such as d2lutils.get_profile('cpu')")],
        shuffle: Annotated[bool, Check(arguments.flag)] = True,
        root: Root = None):
    """The data loaders a run profile asks for (batch size, image size, subset sizes).
    Used in chapter 5 and the pre-activation exercise.

    Parameters
    ----------
    profile : Profile
        A run profile (``d2lutils.get_profile()``).
    shuffle, root
        As in ``load_fashion_mnist``.

    Returns
    -------
    (gluon.data.DataLoader, gluon.data.DataLoader)
        ``(train_iter, test_iter)``.
    """
    return load_fashion_mnist(profile.batch_size, resize=profile.resize,
                              train_subset=profile.train_subset, test_subset=profile.test_subset,
                              shuffle=shuffle, root=root)
