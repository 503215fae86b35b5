"""The loader on IDX files the tests write: headers, truncation, checksums, search order, errors."""
import gzip
import hashlib

import numpy as onp
import pytest

from d2lutils import data

N_TRAIN, N_TEST = 40, 20


def idx_bytes(array):
    """Encode a uint8 array as an IDX file (images: 3 dims, labels: 1 dim)."""
    magic = data.IMAGES_MAGIC if array.ndim == 3 else data.LABELS_MAGIC
    header = magic.to_bytes(4, 'big') + b''.join(n.to_bytes(4, 'big') for n in array.shape)
    return header + array.astype(onp.uint8).tobytes()


def write_dataset(folder, gz=True):
    """Write a small, valid Fashion-MNIST look-alike; return the FILES table that describes it."""
    rng = onp.random.RandomState(0)
    folder.mkdir(parents=True, exist_ok=True)
    table = {}
    for split, n in (('train', N_TRAIN), ('test', N_TEST)):
        for kind, array in (('images', rng.randint(0, 256, (n, 28, 28))),
                            ('labels', onp.arange(n) % 10)):
            raw = idx_bytes(array)
            real = data.FILES[split, kind]
            name = real.name + ('.gz' if gz else '')
            (folder / name).write_bytes(gzip.compress(raw) if gz else raw)
            table[split, kind] = data.IdxFile(real.name, real.magic, n,
                                              hashlib.sha256(raw).hexdigest())
    return table


@pytest.fixture
def small_dataset(no_data_anywhere, monkeypatch):
    table = write_dataset(no_data_anywhere / 'mine')
    monkeypatch.setattr(data, 'FILES', table)
    return no_data_anywhere / 'mine'


def test_reads_what_it_wrote(small_dataset):
    images, labels = data.read_fashion_mnist('train', root=small_dataset)
    assert images.shape == (N_TRAIN, 28, 28) and images.dtype == onp.uint8
    assert labels.tolist() == [i % 10 for i in range(N_TRAIN)]


def test_uncompressed_files_work_too(no_data_anywhere, monkeypatch):
    monkeypatch.setattr(data, 'FILES', write_dataset(no_data_anywhere / 'raw', gz=False))
    images, _ = data.read_fashion_mnist('test', root=no_data_anywhere / 'raw')
    assert images.shape == (N_TEST, 28, 28)


def test_search_order_argument_env_mxnet_debian(no_data_anywhere, monkeypatch):
    monkeypatch.setattr(data, 'FILES', write_dataset(no_data_anywhere / 'debian'))
    assert data.find_fashion_mnist() == no_data_anywhere / 'debian'
    write_dataset(no_data_anywhere / 'mxnet-home')
    assert data.find_fashion_mnist() == no_data_anywhere / 'mxnet-home'
    write_dataset(no_data_anywhere / 'env')
    monkeypatch.setenv(data.ENV_VAR, str(no_data_anywhere / 'env'))
    assert data.find_fashion_mnist() == no_data_anywhere / 'env'
    write_dataset(no_data_anywhere / 'arg')
    assert data.find_fashion_mnist(no_data_anywhere / 'arg') == no_data_anywhere / 'arg'


def test_named_folder_without_data_is_reported_not_silently_skipped(small_dataset, monkeypatch):
    monkeypatch.setattr(data, 'DEBIAN_DIR', small_dataset)
    with pytest.warns(UserWarning, match='empty-folder.*using'):
        found = data.find_fashion_mnist(small_dataset.parent / 'empty-folder')
    assert found == small_dataset


def test_missing_data_names_every_place_and_both_fixes(no_data_anywhere, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(no_data_anywhere / 'env'))

    def offline(*args, **kwargs):
        raise OSError('network is unreachable')
    import mxnet.gluon.data.vision as vision
    monkeypatch.setattr(vision, 'FashionMNIST', offline)
    with pytest.raises(data.DataError) as err:
        data.read_fashion_mnist('train', root=no_data_anywhere / 'arg')
    message = str(err.value)
    for place in ('arg', 'env', 'mxnet-home', 'debian'):
        assert str(no_data_anywhere / place) in message
    assert 'network is unreachable' in message
    assert 'apt-get install dataset-fashion-mnist' in message and data.ENV_VAR in message


def test_truncated_gzip_is_named(small_dataset):
    path = small_dataset / 'train-images-idx3-ubyte.gz'
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(data.DataError, match=r'train-images-idx3-ubyte\.gz.*truncated'):
        data.read_fashion_mnist('train', root=small_dataset)


def test_truncated_contents_are_named(small_dataset):
    path = small_dataset / 'train-labels-idx1-ubyte.gz'
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-5]))
    with pytest.raises(data.DataError, match=r'train-labels-idx1-ubyte\.gz holds 35 bytes'):
        data.read_fashion_mnist('train', root=small_dataset)


def test_wrong_header_is_named(small_dataset):
    path = small_dataset / 't10k-labels-idx1-ubyte.gz'
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[3] = 0x03  # magic 2051 (images) in a labels file
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(data.DataError, match='t10k-labels.*wrong IDX header'):
        data.read_fashion_mnist('test', root=small_dataset)


def test_flipped_pixel_fails_the_checksum(small_dataset):
    path = small_dataset / 't10k-images-idx3-ubyte.gz'
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(data.DataError, match='t10k-images.*SHA-256'):
        data.read_fashion_mnist('test', root=small_dataset)


def test_loaders_give_nchw_float_batches_resized_and_subset(small_dataset):
    train_iter, test_iter = data.load_fashion_mnist(8, resize=32, train_subset=16,
                                                    root=small_dataset)
    X, y = next(iter(train_iter))
    assert X.shape == (8, 1, 32, 32) and str(X.dtype) == 'float32'
    assert 0 <= float(X.min()) and float(X.max()) <= 1
    assert len(train_iter) == 2 and len(test_iter) == 3  # 16/8 and ceil(20/8)


def test_subset_is_fixed_and_spread():
    first, again = data.subset_indices(60000, 100), data.subset_indices(60000, 100)
    assert (first == again).all() and len(set(first.tolist())) == 100
    assert first.max() > 30000  # not simply the first hundred


def test_text_labels():
    assert data.text_labels([0, 9]) == ['t-shirt', 'ankle boot']


@pytest.mark.skipif(not (data.DEBIAN_DIR / 'train-images-idx3-ubyte.gz').exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_real_data_passes_its_checks():
    images, labels = data.read_fashion_mnist('test')
    assert images.shape == (10000, 28, 28)
    assert onp.bincount(labels).tolist() == [1000] * 10


def test_only_missing_data_starts_a_download(small_dataset, monkeypatch):
    """A file that exists but cannot be read is the reader's to fix; downloading would not help."""
    import builtins
    import mxnet.gluon.data.vision as vision
    downloads = []
    monkeypatch.setattr(vision, 'FashionMNIST', lambda *args, **kwargs: downloads.append(args))
    real_open, locked = builtins.open, str(small_dataset / 't10k-images-idx3-ubyte.gz')

    def refusing_open(file, *args, **kwargs):
        if str(file) == locked:
            raise PermissionError(13, 'Permission denied', locked)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, 'open', refusing_open)
    with pytest.raises(data.DataError, match='permission denied'):
        data.read_fashion_mnist('test', root=small_dataset)
    assert downloads == []
    with pytest.raises(data.DataNotFoundError):
        data.find_fashion_mnist(small_dataset.parent / 'nothing-here')
