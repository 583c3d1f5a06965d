import numpy as np
import pytest
import torch

from stelab.quantizers import UniformQuantizer, he_uniform_bound


def test_range_layout_two_bits_has_no_zero_level():
    q = UniformQuantizer(2, 0.9)
    np.testing.assert_allclose(q.levels, [-0.9, -0.3, 0.3, 0.9])
    np.testing.assert_allclose(q.thresholds, [-0.6, 0.0, 0.6], atol=1e-12)
    assert q.delta == pytest.approx(0.6)


def test_forward_q_maps_to_nearest_level_and_clips():
    q = UniformQuantizer(2, 1.0)
    x = torch.tensor([-5.0, -0.7, -0.6001, 0.01, 0.5, 0.7, 3.0], dtype=torch.float64)
    levels = torch.tensor(q.levels, dtype=x.dtype)
    nearest = levels[(x.unsqueeze(-1) - levels).abs().argmin(-1)]
    assert torch.equal(q(x), nearest)


def test_one_bit_is_sign_like():
    q = UniformQuantizer(1, 2.0)
    np.testing.assert_allclose(q.levels, [-2.0, 2.0])
    np.testing.assert_allclose(q.thresholds, [0.0])
    assert q(torch.tensor([-0.1, 0.1])).tolist() == [-2.0, 2.0]


def test_signed_int_layout_matches_paper_appendix_a():
    q = UniformQuantizer(3, 1.0, "signed_int")
    d = q.delta
    np.testing.assert_allclose(q.levels, d * np.arange(-4, 4))
    x = np.linspace(-3, 3, 1001)
    np.testing.assert_allclose(q(x), d * np.round(np.clip(x / d, -4, 3)))


def test_midtread_layout_is_symmetric_with_zero():
    q = UniformQuantizer(3, 1.5, "midtread")
    np.testing.assert_allclose(q.levels, np.linspace(-1.5, 1.5, 7))


@pytest.mark.parametrize("layout", ["range", "signed_int", "midtread"])
def test_numpy_and_torch_agree_and_keep_dtype(layout):
    q = UniformQuantizer(4, 0.7, layout)
    x = np.random.default_rng(0).normal(size=1000)
    t = torch.tensor(x, dtype=torch.float32)
    assert q(t).dtype == torch.float32
    np.testing.assert_allclose(q(t).numpy(), q(x).astype(np.float32), atol=1e-6)


def test_bins_and_index_are_consistent():
    q = UniformQuantizer(3, 1.0)
    x = torch.linspace(-2, 2, 4001, dtype=torch.float64)
    assert torch.equal(q.bin_index(x), q.index(x))
    assert torch.equal(torch.tensor(q.levels)[q.index(x)], q(x))


@pytest.mark.parametrize("kwargs, key", [({"bits": 0}, "bits"), ({"bits": 2, "m": -1.0}, "m"),
                                         ({"bits": 2, "layout": "log"}, "layout"),
                                         ({"bits": 1, "layout": "midtread"}, "midtread")])
def test_bad_arguments_name_the_problem(kwargs, key):
    with pytest.raises(ValueError, match=key):
        UniformQuantizer(**kwargs)


def test_he_uniform_bound():
    assert he_uniform_bound(6) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        he_uniform_bound(0)
