"""Set-up for the kernel in which tests/test_stale_outputs.py re-runs the chapters' settings cells.

The cells run their own code, and the library's own functions print the settings lines
(``training.train`` itself runs and prints ``training.describe_run``'s line and its epoch lines);
only the work shrinks: every pass over Fashion-MNIST gives one batch, and ``training.train`` fits a
one-layer network in place of the chapter's. The loaders keep their full length, so everything built
from ``len(train_iter)`` (batches per epoch, a schedule's length) is what the full run computes.
"""
import d2lutils  # noqa: F401  (before MXNet, as in every chapter: it sets the threads)
from mxnet import init
from mxnet.gluon import nn

from d2lutils import data, training


class OneBatchLoader:
    """A data loader that reports the length of ``loader`` but gives only its first batch per pass.

    Other attributes are the wrapped loader's.
    """

    def __init__(self, loader):
        self._loader = loader
        self._first = None

    def __len__(self):
        return len(self._loader)

    def __iter__(self):
        if self._first is None:
            self._first = next(iter(self._loader))
        yield self._first

    def __getattr__(self, name):
        return getattr(self.__dict__['_loader'], name)


def install():
    """Cut every Fashion-MNIST loader to one batch per pass; make ``training.train`` cheap."""
    load, train = data.load_fashion_mnist, training.train

    def load_one_batch_per_pass(*args, **kwargs):
        return tuple(OneBatchLoader(loader) for loader in load(*args, **kwargs))

    def train_a_small_network(net, train_iter, test_iter, num_epochs, lr, devices=None, **kwargs):
        """``train``'s own checks, lines and History, with a one-layer network fitted in place of
        ``net``; ``net`` gets initialized weights, as after a run, for the cells that read them."""
        contexts = training.as_device_list(devices)
        X = next(iter(train_iter))[0].as_in_ctx(contexts[0])
        net.initialize(init.Xavier(), ctx=contexts, force_reinit=True)
        small = nn.Dense(net(X).shape[1])
        return train(small, train_iter, test_iter, num_epochs, lr, devices, **kwargs)

    data.load_fashion_mnist = load_one_batch_per_pass
    training.train = train_a_small_network
