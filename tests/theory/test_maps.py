"""Elementwise maps: Gaussian moments of quantizers and tanh against direct quadrature."""

import numpy as np
import pytest
from scipy import integrate, stats

from stelab.theory.maps import ElementMap


@pytest.mark.parametrize("spec", [
    {"kind": "quantizer", "bits": 3, "omega": 1.5, "layout": "midtread"},
    {"kind": "quantizer", "bits": 1, "omega": 1.0, "layout": "range"},
    {"kind": "tanh", "scale": 1.3},
])
def test_constants_match_direct_quadrature(spec):
    h = ElementMap.from_spec(spec)
    pts = list(h.thresholds) if h.is_step else None
    ea = integrate.quad(lambda x: x * float(h(np.array(x))) * stats.norm.pdf(x), -12, 12, points=pts, limit=400)[0]
    ec = integrate.quad(lambda x: float(h(np.array(x))) ** 2 * stats.norm.pdf(x), -12, 12, points=pts, limit=400)[0]
    mean_h, a, c = h.gaussian_moments()
    assert a == pytest.approx(ea, abs=1e-8) and c == pytest.approx(ec, abs=1e-8) and abs(mean_h) < 1e-9
