import pytest

from d2lutils import profiles


@pytest.fixture
def one_gpu(monkeypatch):
    """MXNet sees one GPU (the 'gpu' profile is refused where it sees none)."""
    import mxnet as mx
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 1)


def test_env_var_overrides_default(monkeypatch, one_gpu):
    monkeypatch.setenv(profiles.ENV_VAR, 'gpu')
    assert profiles.get_profile().name == 'gpu'


@pytest.mark.parametrize('how', ['argument', 'env'])
def test_gpu_profile_without_a_gpu_is_refused_naming_the_cpu_profile(monkeypatch, how):
    import mxnet as mx
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    monkeypatch.setenv(profiles.ENV_VAR, 'gpu' if how == 'env' else 'quick')
    with pytest.raises(ValueError) as err:
        profiles.get_profile('gpu' if how == 'argument' else None)
    message = str(err.value)
    assert "'gpu'" in message and "'cpu'" in message and 'D2LUTILS_PROFILE=cpu' in message


def test_argument_wins_over_env_var(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, 'gpu')
    assert profiles.get_profile('quick').name == 'quick'


def test_default_follows_the_hardware(monkeypatch):
    import mxnet as mx
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    expected = 'gpu' if mx.context.num_gpus() else 'cpu'
    assert profiles.get_profile().name == expected
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 1)
    assert profiles.get_profile().name == 'gpu'


def test_unknown_name_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, 'fast')
    with pytest.raises(ValueError, match="'fast'.*cpu, gpu, quick"):
        profiles.get_profile()


def test_gpu_profile_is_the_classic_setting():
    gpu = profiles.PROFILES['gpu']
    assert (gpu.resize, gpu.batch_size, gpu.lr, gpu.num_epochs) == (96, 256, 0.05, 10)


def test_only_quick_uses_subsets():
    for name, profile in profiles.PROFILES.items():
        uses_subset = profile.train_subset is not None or profile.test_subset is not None
        assert uses_subset == (name == 'quick'), name


def test_printed_profile_names_itself():
    text = str(profiles.PROFILES['quick'])
    assert "'quick'" in text and '1,024' in text
