"""Set-up for a notebook kernel in which tests/test_stale_outputs.py re-runs a chapter in seconds.

The chapter runs its own code, and the library's own functions print its settings lines
(``training.train`` runs for real and prints ``training.describe_run``'s line); only the amount of
work changes: every pass over Fashion-MNIST gives one batch, and the few slow calls that print no
settings do not run. The loaders keep their full length, so everything built from
``len(train_iter)`` (batches per epoch, a schedule's length) is what the full run computes.
"""
import d2lutils  # noqa: F401  (before MXNet, as in every chapter: it sets the threads)
from d2lutils import data, distributed


class OneBatchLoader:
    """A data loader that reports the length of ``loader`` but gives only its first batch per pass.

    Other attributes are the wrapped loader's, so code that reads them sees the real loader.
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


class NotRunInSettingsCheck(RuntimeError):
    """Raised by a slow call that prints no settings, so the settings check does not run it."""


def _not_run(name):
    def refuse(*args, **kwargs):
        raise NotRunInSettingsCheck(f'{name} does not run in the settings check (it prints no '
                                    f'settings and takes minutes)')
    return refuse


def install():
    """Cut every Fashion-MNIST loader to one batch per pass and stop the slow calls."""
    load = data.load_fashion_mnist

    def load_one_batch_per_pass(*args, **kwargs):
        return tuple(OneBatchLoader(loader) for loader in load(*args, **kwargs))

    data.load_fashion_mnist = load_one_batch_per_pass
    distributed.run_local = _not_run('distributed.run_local')
