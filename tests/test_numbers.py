"""Numbers checked by a route that shares no code with the code that produces them (issue 17).

Every expected value here comes from the definitions, written out again in NumPy/SciPy: Q̂' of each
estimator (paper A, arXiv 2405.05171, §2, App. B, App. H), α and M of eq. 4 by adaptive quadrature
(``scipy.integrate.quad``), the App. H constants by maximising the written-out Q̂' and Q̂'' on a
dense grid, and App. H's own closed forms as a second route. Nothing is taken from ``stelab`` but the
function under test and its inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import integrate, optimize

from stelab.cli import main
from stelab.constants.table import app_h_table, constants_table, estimator_curves, table_cases
from stelab.equivalence import WeightMap, estimator_constants
from stelab.estimators import get_estimator, quantize, validate_estimator
from stelab.quantizers import UniformQuantizer, he_uniform_bound

# --- the definitions, written out -------------------------------------------------------------


def range_levels(bits: int, m: float) -> np.ndarray:
    """Paper A's range layout: levels −m + nΔ, n = 0 … 2^b − 1, Δ = 2m/(2^b − 1)."""
    n = 2**bits - 1
    return -m + (2 * m / n) * np.arange(n + 1)


def htge_prime(x, bits: int, m: float, t: float, outside: str = "zero"):
    """(t/2)·sech²(t(x − τ)/Δ)/tanh(t/2) with τ the threshold of x's level-to-level cell."""
    x = np.asarray(x, dtype=np.float64)
    delta = 2 * m / (2**bits - 1)
    cell = np.floor((x + m) / delta)
    tau = -m + (cell + 0.5) * delta
    g = (t / 2) / np.tanh(t / 2) / np.cosh(t * (x - tau) / delta) ** 2
    if outside == "zero":
        g = np.where((x >= -m) & (x <= m), g, 0.0)
    return g


def alpha_by_quadrature(qprime, lo: float, hi: float) -> float:
    """α = Δ / ∫_{lo}^{hi} ds / Q̂'(s) over one inner bin [lo, hi] (eq. 4)."""
    value, err = integrate.quad(lambda s: 1.0 / float(qprime(s)), lo, hi, epsabs=1e-14, epsrel=1e-13, limit=200)
    assert err < 1e-10
    return (hi - lo) / value


def m_by_quadrature(qprime, alpha: float, tau_b: float, w: float, kinks=()) -> float:
    """M(w) = τ_b + α ∫_{τ_b}^{w} ds / Q̂'(s) (eq. 4), the integral split at ``kinks`` (where Q̂' is not smooth)."""
    lo, hi = min(tau_b, w), max(tau_b, w)
    cuts = [lo, *sorted(k for k in kinks if lo < k < hi), hi]
    value = sum(integrate.quad(lambda s: 1.0 / float(qprime(s)), a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                for a, b in zip(cuts[:-1], cuts[1:]))
    return tau_b + alpha * (value if w >= tau_b else -value)


def sech2_constants(k: float, half_width: float):
    """L−, L+, L′ of Q̂'(w) = k·sech²(k·w) on [−h, h] from a dense grid plus a bounded maximiser of |Q̂''|."""
    w = np.linspace(-half_width, half_width, 200_001)
    qp = k / np.cosh(k * w) ** 2
    qpp = lambda v: abs(-2 * k * k * np.tanh(k * v) / np.cosh(k * v) ** 2)  # noqa: E731
    grid_best = float(np.max(qpp(w)))
    res = optimize.minimize_scalar(lambda v: -qpp(v), bounds=(0.0, half_width), method="bounded",
                                   options={"xatol": 1e-13})
    return float(qp.min()), float(qp.max()), max(grid_best, -float(res.fun))


# --- App. H, through app_h_table itself -------------------------------------------------------


@pytest.fixture
def app_h():
    """Computed in each test (not once per module): mutation testing attributes the code a test runs to it."""
    return app_h_table()


def test_app_h_table_htge_rows_match_the_definitions(app_h):
    """k·sech²(k·w) on [−Δ/2, Δ/2], Δ = 2/(2^b − 1), Pei et al.'s k per bit width: L′L+/(2L−²) from a
    dense grid and, second route, App. H's closed forms L+ = k, L− = k/cosh²(kΔ/2), L′ at
    w* = min(Δ/2, log(2 + √3)/(2k))."""
    rows = app_h[app_h["case"].str.startswith("HTGE")]
    assert len(rows) == 4
    for bits, k in [(8, 8), (4, 6), (3, 4), (2, 2)]:
        row = rows[rows["case"] == f"HTGE b={bits}, k={k}"]
        assert len(row) == 1, (bits, k)
        half = 1.0 / (2**bits - 1)
        l_minus, l_plus, l_prime = sech2_constants(k, half)
        by_grid = l_prime * l_plus / (2 * l_minus**2)
        w_star = min(half, math.log(2 + math.sqrt(3)) / (2 * k))
        closed = (2 * k * k * math.tanh(k * w_star) / math.cosh(k * w_star) ** 2) * k / (
            2 * (k / math.cosh(k * half) ** 2) ** 2)
        assert by_grid == pytest.approx(closed, rel=1e-7)
        assert float(row["ours"].iloc[0]) == pytest.approx(closed, rel=1e-6), (bits, k)
        # |Q̂''| at the edge of the bin, App. H's DSQ evaluation applied to the HTGE rows
        edge = 2 * k * k * math.tanh(k * half) / math.cosh(k * half) ** 2 * k / (2 * (k / math.cosh(k * half) ** 2) ** 2)
        assert float(row["ours_edge_L′"].iloc[0]) == pytest.approx(edge, rel=1e-6), (bits, k)


def test_app_h_table_dsq_rows_match_the_closed_form(app_h):
    """DSQ with k = 1: tanh(kΔ/2) = 1 − α_dsq, and App. H's bound (1 − α)/(2α − α²) is L′L+/(2L−²) with
    L′ taken at the bin edge; the true Lipschitz constant (interior maximum of |Q̂''|) is larger."""
    rows = app_h[app_h["case"].str.startswith("DSQ")]
    assert len(rows) == 2
    for a in (0.25, 0.11):
        row = rows[rows["case"] == f"DSQ α_dsq={a}, k=1"]
        assert len(row) == 1, a
        assert float(row["ours_edge_L′"].iloc[0]) == pytest.approx((1 - a) / (2 * a - a * a), rel=1e-6)
        half = math.atanh(1 - a)  # Δ/2 with k = 1
        l_minus, l_plus, l_prime = sech2_constants(1.0, half)
        assert float(row["ours"].iloc[0]) == pytest.approx(l_prime * l_plus / (2 * l_minus**2), rel=1e-6)


def test_app_h_table_places_the_printed_values_beside_ours(app_h):
    """The ``paper`` column holds App. H's printed numbers (typed from the paper in tests/test_paper_values.py)."""
    printed = {"HTGE b=8, k=8": 0.25, "HTGE b=4, k=6": 2.66, "HTGE b=3, k=4": 2.82, "HTGE b=2, k=2": 1.77,
               "DSQ α_dsq=0.25, k=1": 1.71, "DSQ α_dsq=0.11, k=1": 4.28}
    assert dict(zip(app_h["case"], app_h["paper"])) == printed
    assert set(app_h["quantity"]) == {"L′L+/(2L−²)"}


def test_constants_command_writes_app_h_from_the_definitions(tmp_path):
    """``stelab constants --app-h``: the file the landing page's verdict reads holds the recomputed values."""
    out = tmp_path / "app_h.tsv"
    assert main(["constants", "--estimator", "ste", "--bits", "2", "--app-h", str(out)]) == 0
    df = pd.read_csv(out, sep="\t")
    row = df[df["case"] == "HTGE b=3, k=4"].iloc[0]
    l_minus, l_plus, l_prime = sech2_constants(4.0, 1 / 7)
    assert float(row["ours"]) == pytest.approx(l_prime * l_plus / (2 * l_minus**2), rel=1e-6)
    assert float(row["paper"]) == 2.82


# --- the constants table: L−, L+, L′, α from the definitions -----------------------------------


@pytest.mark.parametrize("bits, m, k0", [(2, 1.0, 5.5), (3, 0.4, 5.5), (4, 0.25, 18.0)])
def test_constants_table_htge_row_from_the_definition(bits, m, k0):
    df = constants_table({"h": {"name": "htge", "k0": k0}}, [{"bits": bits, "m": m}])
    (row,) = df.to_dict("records")
    delta = 2 * m / (2**bits - 1)
    t = k0 / m * delta
    x = np.linspace(-m, m, 400_001)
    g = htge_prime(x, bits, m, t)
    assert row["L_plus"] == pytest.approx(g.max(), rel=1e-8)
    assert row["L_minus"] == pytest.approx(g.min(), rel=1e-6)
    # Q̂'' of (t/2)/tanh(t/2)·sech²(t s/Δ): |.| = (t/Δ)·(t/2)/tanh(t/2)·2 tanh(u)/cosh²(u), u = t s/Δ, |s| ≤ Δ/2
    u = min(t / 2, math.log(2 + math.sqrt(3)) / 2)
    l_prime = (t / delta) * (t / 2) / math.tanh(t / 2) * 2 * math.tanh(u) / math.cosh(u) ** 2
    assert row["L_prime"] == pytest.approx(l_prime, rel=1e-6)
    th = range_levels(bits, m)[:-1] + delta / 2
    alpha = alpha_by_quadrature(lambda s: htge_prime(s, bits, m, t), th[0], th[1])
    assert row["alpha"] == pytest.approx(alpha, rel=1e-10)
    assert row["convexity_coeff"] == pytest.approx(l_prime * row["L_plus"] / (2 * row["L_minus"] ** 2), rel=1e-12)
    assert (row["bits"], row["m"], row["delta"], row["w_min"], row["w_max"], row["n_levels"]) == pytest.approx(
        (bits, m, delta, -m, m, 2**bits))
    assert row["assumption_5_1_1"] == "range only (App. G)" and row["cyclical"]


def test_constants_table_rows_follow_the_bits_restriction():
    """``bits: [1]`` keeps a binary estimator off multi-bit layers and gives it its own m = 1 quantizer."""
    cases = table_cases({"s": {"name": "ste"}, "a": {"name": "approx_sign", "bits": [1]}},
                        [{"bits": 2, "m": 0.5}, {"bits": 4, "m": 0.3, "layout": "signed_int"}])
    got = [(label, spec, q.bits, q.m, q.layout) for label, spec, q in cases]
    assert got == [("s", {"name": "ste"}, 2, 0.5, "range"), ("s", {"name": "ste"}, 4, 0.3, "signed_int"),
                   ("a", {"name": "approx_sign"}, 1, 1.0, "range")]


def test_table_and_curve_cases_defaults():
    """A layer without m or layout is a range quantizer with m = 1; a curve panel takes the estimator's own
    first bit width when it has one."""
    ((_, _, q),) = table_cases({"s": {"name": "ste"}}, [{"bits": 3}])
    assert (q.bits, q.m, q.layout) == (3, 1.0, "range")
    from stelab.constants.table import curve_cases

    got = [(label, spec, q.bits, q.m, q.layout) for label, spec, q in curve_cases(
        {"a": {"name": "approx_sign", "bits": [1, 2]}, "h": {"name": "htge", "k0": 2.0}}, 4)]
    assert got == [("a", {"name": "approx_sign"}, 1, 1.0, "range"), ("h", {"name": "htge", "k0": 2.0}, 4, 1.0, "range")]


def test_estimator_curves_layout():
    df = estimator_curves({"s": {"name": "ste"}, "a": {"name": "approx_sign", "bits": [1]}}, 2)
    assert list(df.columns) == ["label", "estimator", "bits", "w", "Q", "Qhat", "dQhat", "M", "alpha"]
    assert list(df.index) == list(range(2 * 1201))
    assert list(df.groupby("label", sort=False)["bits"].first().items()) == [("s", 2), ("a", 1)]
    assert set(df["estimator"]) == {"ste", "approx_sign"}
    np.testing.assert_allclose(df.loc[df["label"] == "a", "Q"], np.where(df.loc[df["label"] == "a", "w"] >= 0, 1, -1))


# --- α: quadrature of the definition, with the closed forms as a second route ---------------


@pytest.mark.parametrize("bits, m, k0", [(2, 1.0, 5.5), (2, 0.37, 5.5), (3, 1.0, 2.0), (4, 0.6, 18.0), (8, 1.0, 5.5)])
def test_alpha_of_htge_by_quadrature_and_closed_form(bits, m, k0):
    delta = 2 * m / (2**bits - 1)
    t = k0 / m * delta
    th = range_levels(bits, m)[:-1] + delta / 2
    j = len(th) // 2 - 1  # an inner bin away from the first: α does not depend on the bin
    by_quad = alpha_by_quadrature(lambda s: htge_prime(s, bits, m, t), th[j], th[j + 1])
    closed = t * t / (math.tanh(t / 2) * (t + math.sinh(t)))
    assert by_quad == pytest.approx(closed, rel=1e-11)
    wm = WeightMap({"name": "htge", "k0": k0}, UniformQuantizer(bits, m))
    assert wm.alpha == pytest.approx(by_quad, rel=1e-11)
    assert wm.alpha_quadrature() == pytest.approx(by_quad, rel=1e-10)


def test_alpha_of_the_papers_setting_to_ten_digits():
    """htge, 2 bits, k0 = 5.5 (paper A §6.1): t = 11/3, α = 0.6095232945 (quadrature of eq. 4 at 30 digits)."""
    wm = WeightMap({"name": "htge", "k0": 5.5}, UniformQuantizer(2, 0.8))
    assert wm.alpha == pytest.approx(0.609523294517, abs=1e-11)
    assert wm.alpha_quadrature() == pytest.approx(0.609523294517, abs=1e-11)


@pytest.mark.parametrize("alpha_dsq", [0.11, 0.2, 0.25])
def test_alpha_of_dsq_by_quadrature(alpha_dsq):
    t = 2 * math.atanh(1 - alpha_dsq)
    q = UniformQuantizer(3, 0.9)
    th = q.thresholds
    by_quad = alpha_by_quadrature(lambda s: htge_prime(s, 3, 0.9, t), th[2], th[3])
    assert WeightMap({"name": "dsq", "alpha_dsq": alpha_dsq}, q).alpha == pytest.approx(by_quad, rel=1e-11)


@pytest.mark.parametrize("depth", [0.25, 0.6, 0.9])
def test_alpha_of_a_user_estimator_by_quadrature_and_closed_form(depth):
    """1 − d·cos(2π(x − τ₀)/Δ): ∫ over a bin of 1/Q̂' is Δ/√(1 − d²), so α = √(1 − d²)."""
    q = UniformQuantizer(2, 1.0)
    tau0, delta = float(q.thresholds[0]), q.delta
    qp = lambda s: 1 - depth * math.cos(2 * math.pi * (s - tau0) / delta)  # noqa: E731
    by_quad = alpha_by_quadrature(qp, tau0, tau0 + delta)
    assert by_quad == pytest.approx(math.sqrt(1 - depth * depth), rel=1e-11)
    wm = WeightMap({"name": "user_estimators:raised_cosine", "depth": depth}, q)
    assert wm.alpha == pytest.approx(by_quad, rel=1e-10)


def test_alpha_is_one_where_q_hat_prime_is_one_on_the_bins():
    for spec in ("ste", "pwl", "mad", {"name": "mad", "s": 0.5}):
        assert WeightMap(spec, UniformQuantizer(3, 0.5)).alpha == pytest.approx(1.0, abs=1e-14), spec


# --- M(w) of estimator_curves: closed forms (STE, PWL) and quadrature (HTGE) ----------------


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_curves_of_ste_and_pwl_are_the_identity_map(bits):
    """Q̂' = 1 on every bin: α = 1 and M(w) = w everywhere (App. G: slope 1 where PWL vanishes)."""
    df = estimator_curves({"ste": {"name": "ste"}, "pwl": {"name": "pwl"}}, bits, n=241)
    w = np.linspace(-1.5, 1.5, 241)
    for label in ("ste", "pwl"):
        part = df[df["label"] == label]
        np.testing.assert_allclose(part["w"], w, rtol=0, atol=1e-15)
        np.testing.assert_allclose(part["M"], w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(part["alpha"], 1.0, rtol=0, atol=1e-13)
        assert (part["bits"] == bits).all()
    ste, pwl = df[df["label"] == "ste"], df[df["label"] == "pwl"]
    w = ste["w"].to_numpy()
    np.testing.assert_array_equal(ste["dQhat"], np.ones_like(w))
    np.testing.assert_array_equal(ste["Qhat"], w)
    np.testing.assert_array_equal(pwl["dQhat"], ((w >= -1) & (w <= 1)).astype(float))
    np.testing.assert_array_equal(pwl["Qhat"], np.clip(w, -1, 1))


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_curves_of_htge_by_quadrature(bits):
    """HTGE (k0 = 5.5, m = 1): Q, Q̂' and M(w) = τ_b + α∫ds/Q̂' by quadrature on [w_min, w_max]; slope 1
    beyond the range where Q̂' = 0 (``outside: zero``), the periodic continuation otherwise."""
    df = estimator_curves({"htge": {"name": "htge", "k0": 5.5},
                           "htge_p": {"name": "htge", "k0": 5.5, "outside": "periodic"}}, bits, n=241)
    delta = 2 / (2**bits - 1)
    t = 5.5 * delta
    levels = range_levels(bits, 1.0)
    th = levels[:-1] + delta / 2
    part = df[df["label"] == "htge"]
    w = part["w"].to_numpy()
    nearest = levels[np.abs(w[:, None] - levels[None, :]).argmin(1)]
    away = np.min(np.abs(w[:, None] - th[None, :]), 1) > 1e-9
    np.testing.assert_array_equal(part["Q"].to_numpy()[away], nearest[away])
    np.testing.assert_allclose(part["dQhat"], htge_prime(w, bits, 1.0, t), rtol=1e-12, atol=1e-14)
    alpha = alpha_by_quadrature(lambda s: htge_prime(s, bits, 1.0, t), th[0], th[1])
    assert part["alpha"].iloc[0] == pytest.approx(alpha, rel=1e-10)
    inside = np.abs(w) <= 1.0
    j = np.clip(np.searchsorted(th, w, side="right") - 1, 0, len(th) - 1)  # nearest threshold at or below
    expected = np.array([m_by_quadrature(lambda s: htge_prime(s, bits, 1.0, t), alpha, th[i], x)
                         for i, x in zip(j[inside], w[inside])])
    np.testing.assert_allclose(part["M"].to_numpy()[inside], expected, rtol=0, atol=1e-10)
    m_hi = m_by_quadrature(lambda s: htge_prime(s, bits, 1.0, t), alpha, th[-1], 1.0)
    m_lo = m_by_quadrature(lambda s: htge_prime(s, bits, 1.0, t), alpha, th[0], -1.0)
    above, below = w > 1.0, w < -1.0
    np.testing.assert_allclose(part["M"].to_numpy()[above], m_hi + (w[above] - 1.0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(part["M"].to_numpy()[below], m_lo + (w[below] + 1.0), rtol=0, atol=1e-10)
    # Q̂: the tanh staircase through the levels (Pei et al.'s forward), Q outside the range
    u = (w + 1) / delta
    cell = np.floor(u)
    qhat = -1 + delta * (cell + 0.5 + 0.5 * np.tanh(t * (u - cell - 0.5)) / np.tanh(t / 2))
    qhat = np.where(inside, qhat, np.clip(np.round(u), 0, 2**bits - 1) * delta - 1)
    np.testing.assert_allclose(part["Qhat"], qhat, rtol=0, atol=1e-12)

    periodic = df[df["label"] == "htge_p"]
    np.testing.assert_allclose(periodic["dQhat"], htge_prime(w, bits, 1.0, t, outside="periodic"), rtol=1e-12)
    cells = -1 + delta * np.arange(-2 * 2**bits, 3 * 2**bits)  # the levels, continued periodically: Q̂''s kinks
    expected = [m_by_quadrature(lambda s: htge_prime(s, bits, 1.0, t, "periodic"), alpha,
                                th[0] if x < th[0] else th[-1] if x > th[-1] else th[i], x, cells)
                for i, x in zip(j, w)]
    np.testing.assert_allclose(periodic["M"], expected, rtol=0, atol=1e-10)


def test_m_of_a_user_estimator_in_closed_form():
    """1 − d·cos(2πs/Δ), s = x − τ₀: ∫₀^s du/(1 − d cos(2πu/Δ)) = (Δ/(π√(1−d²)))·atan(√((1+d)/(1−d))·tan(πs/Δ))
    on |s| < Δ/2, so M(τ₀ + s) = τ₀ + (Δ/π)·atan(√((1+d)/(1−d))·tan(πs/Δ)) with α = √(1 − d²)."""
    d = 0.6
    q = UniformQuantizer(3, 1.0)
    wm = WeightMap({"name": "user_estimators:raised_cosine", "depth": d}, q)
    delta = q.delta
    for tau in q.thresholds[1:-1]:
        s = np.linspace(-0.49, 0.49, 99) * delta
        expected = tau + (delta / math.pi) * np.arctan(math.sqrt((1 + d) / (1 - d)) * np.tan(math.pi * s / delta))
        got = wm(torch.as_tensor(tau + s, dtype=torch.float64)).numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11)


def test_m_fixes_every_level_centre_only_for_symmetric_estimators():
    """HTGE is symmetric about each level: M maps every inner level onto itself (a check that fails if
    the period map is shifted by any fraction of a bin)."""
    q = UniformQuantizer(4, 1.0)
    wm = WeightMap({"name": "htge", "k0": 5.5}, q)
    inner = torch.as_tensor(q.levels[1:-1], dtype=torch.float64)
    torch.testing.assert_close(wm(inner), inner, rtol=0, atol=1e-12)


def test_m_inverse_and_derivative_against_quadrature():
    q = UniformQuantizer(2, 1.0)
    t = 5.5 * q.delta
    wm = WeightMap({"name": "htge", "k0": 5.5}, q)
    th = q.thresholds
    alpha = alpha_by_quadrature(lambda s: htge_prime(s, 2, 1.0, t), th[0], th[1])
    for x in (-0.95, -0.6, -0.2, 0.05, 0.45, 0.9):
        tau = th[int(np.clip(np.searchsorted(th, x) - 1, 0, 2))]
        y = m_by_quadrature(lambda s: htge_prime(s, 2, 1.0, t), alpha, tau, x)
        back = float(wm.inverse(torch.tensor([y], dtype=torch.float64)))
        assert back == pytest.approx(x, abs=1e-10)
        assert float(wm.derivative(torch.tensor([x], dtype=torch.float64))) == pytest.approx(
            alpha / htge_prime(x, 2, 1.0, t), rel=1e-12)
    assert float(wm.derivative(torch.tensor([1.3], dtype=torch.float64))) == 1.0  # Q̂' = 0: slope 1 (App. G)


# --- the estimators against their formulas ----------------------------------------------------


def test_mad_against_sakr_et_al():
    q = UniformQuantizer(2, 0.8)
    x = np.array([-3.0, -0.81, -0.8, -0.1, 0.0, 0.4, 0.8, 0.95, 2.5])
    for s in (None, 0.5):
        est = get_estimator({"name": "mad"} if s is None else {"name": "mad", "s": s})
        b = 0.8 if s is None else s
        big = np.maximum(np.abs(x), b)
        grad = np.where(np.abs(x) <= b, 1.0, b / big)
        value = np.where(np.abs(x) <= b, x, np.sign(x) * b * (1 + np.log(big / b)))
        xt = torch.tensor(x, dtype=torch.float64)
        np.testing.assert_allclose(est.grad(xt, q).numpy(), grad, rtol=1e-14)
        np.testing.assert_allclose(est.value(xt, q).numpy(), value, rtol=1e-14)
        assert est.kinks(q) == pytest.approx((-b, b))


def test_ede_and_approx_sign_against_their_papers():
    q = UniformQuantizer(1, 0.5)
    x = np.linspace(-1.0, 1.0, 41)
    xt = torch.tensor(x, dtype=torch.float64)
    t, k = 0.1 * 10 ** (0.3 * 2), max(1 / (0.1 * 10 ** 0.6), 1.0)  # epoch 3 of 10, T_min 0.1, T_max 10
    ede = get_estimator("ede").at_epoch(3, 10)
    assert (ede.t, ede.k) == pytest.approx((t, k), rel=1e-12)
    np.testing.assert_allclose(ede.grad(xt, q).numpy(), k * t * (1 - np.tanh(t * x / 0.5) ** 2), rtol=1e-12)
    np.testing.assert_allclose(ede.value(xt, q).numpy(), 0.5 * k * np.tanh(t * x / 0.5), rtol=1e-12)
    default = get_estimator("ede")
    np.testing.assert_allclose(default.grad(xt, q).numpy(), 10 * 0.1 * (1 - np.tanh(0.1 * x / 0.5) ** 2), rtol=1e-12)
    fixed = get_estimator({"name": "ede", "t": 2.0, "k": 3.0})
    np.testing.assert_allclose(fixed.grad(xt, q).numpy(), 6 * (1 - np.tanh(2 * x / 0.5) ** 2), rtol=1e-12)
    sign = get_estimator("approx_sign")
    u = x / 0.5
    np.testing.assert_allclose(sign.grad(xt, q).numpy(), np.where(np.abs(u) <= 1, 2 - 2 * np.abs(u), 0), atol=1e-15)
    uc = np.clip(u, -1, 1)
    np.testing.assert_allclose(sign.value(xt, q).numpy(), 0.5 * (2 * uc - np.sign(uc) * uc * uc), atol=1e-15)
    assert sign.support(q) == (-0.5, 0.5) and sign.kinks(q) == (-0.5, 0.0, 0.5)
    assert not sign.cyclical and not ede.cyclical and get_estimator("htge,k0=1").cyclical


def test_sigmoid_sum_against_yang_et_al():
    q = UniformQuantizer(2, 1.0)
    est = get_estimator({"name": "sigmoid_sum", "temperature": 4.0})
    x = np.linspace(-1.6, 1.6, 33)
    th = np.array([-2 / 3, 0.0, 2 / 3])
    sig = 1 / (1 + np.exp(-4.0 * (x[:, None] - th[None, :]) / (2 / 3)))
    xt = torch.tensor(x, dtype=torch.float64)
    np.testing.assert_allclose(est.grad(xt, q).numpy(), (4.0 * sig * (1 - sig)).sum(1), rtol=1e-12)
    np.testing.assert_allclose(est.value(xt, q).numpy(), -1 + (2 / 3) * sig.sum(1), rtol=1e-12, atol=1e-15)
    assert get_estimator("sigmoid_sum").temperature == 5.0


def test_sigmoid_sum_on_an_asymmetric_layout_and_a_weight_matrix():
    """signed_int levels are not symmetric about 0 (a sign slip in the thresholds shows); a 2-D kernel keeps
    its shape and float32 dtype."""
    q = UniformQuantizer(2, 1.0, "signed_int")  # levels −1, −0.5, 0, 0.5; thresholds −0.75, −0.25, 0.25
    est = get_estimator({"name": "sigmoid_sum", "temperature": 3.0})
    x = np.linspace(-1.2, 0.9, 12).reshape(3, 4)
    sig = 1 / (1 + np.exp(-3.0 * (x[..., None] - np.array([-0.75, -0.25, 0.25])) / 0.5))
    xt = torch.tensor(x, dtype=torch.float32)
    g, v = est.grad(xt, q), est.value(xt, q)
    assert g.shape == (3, 4) and v.shape == (3, 4) and g.dtype == v.dtype == torch.float32
    np.testing.assert_allclose(g.numpy(), (3.0 * sig * (1 - sig)).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(v.numpy(), -1 + 0.5 * sig.sum(-1), rtol=1e-5, atol=1e-6)


def test_ede_schedule_over_a_single_epoch_and_registry_round_trip():
    from stelab.estimators import estimator_spec

    one = get_estimator("ede").at_epoch(1, 1)  # the end of a one-epoch schedule: T_max
    assert (one.t, one.k) == pytest.approx((10.0, 1.0))
    for spec in ({"name": "htge", "k0": 5.5, "outside": "periodic"}, {"name": "pwl", "lo": -0.5, "hi": 0.5},
                 {"name": "ste"}, {"name": "sigmoid_sum", "temperature": 2.0}):
        est = get_estimator(spec)
        assert estimator_spec(est) == {**spec, **({"outside": "zero"} if spec["name"] == "htge" and
                                                  "outside" not in spec else {})}
        assert get_estimator(estimator_spec(est)) == est


def test_htge_sharpness_from_k0_k_or_t():
    q = UniformQuantizer(2, 0.5)
    assert get_estimator({"name": "htge", "k0": 5.5}).sharpness(q) == pytest.approx(5.5 / 0.5 * (1 / 3))
    assert get_estimator({"name": "htge", "k": 3.0}).sharpness(q) == pytest.approx(3.0 * (1 / 3))
    assert get_estimator({"name": "htge", "t": 1.7}).sharpness(q) == 1.7
    dsq = get_estimator({"name": "dsq", "alpha_dsq": 0.2})
    assert dsq.sharpness(q) == pytest.approx(2 * math.atanh(0.8), rel=1e-14)
    assert math.tanh(dsq.sharpness(q) / 2) == pytest.approx(1 - 0.2, rel=1e-14)


def test_pwl_bounds_and_support():
    q = UniformQuantizer(2, 1.0)
    est = get_estimator({"name": "pwl", "lo": -0.5, "hi": 2.0})
    assert est.bounds(q) == (-0.5, 2.0) and est.support(q) == (-0.5, 2.0) and est.kinks(q) == (-0.5, 2.0)
    x = torch.tensor([-0.6, -0.5, 0.0, 2.0, 2.1], dtype=torch.float64)
    assert est.grad(x, q).tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert est.value(x, q).tolist() == [-0.5, -0.5, 0.0, 2.0, 2.0]
    assert get_estimator("pwl").bounds(UniformQuantizer(3, 0.7)) == (-0.7, 0.7)
    assert get_estimator({"name": "pwl", "lo": -0.3}).bounds(q) == (-0.3, 1.0)


def test_estimator_support_and_kinks_that_m_relies_on():
    q = UniformQuantizer(2, 1.0)
    assert get_estimator({"name": "htge", "k0": 5.5}).support(q) == (-1.0, 1.0)
    assert get_estimator({"name": "htge", "k0": 5.5, "outside": "periodic"}).support(q) == (-math.inf, math.inf)
    assert get_estimator("ste").support(q) == (-math.inf, math.inf) and get_estimator("ste").kinks(q) == ()
    assert get_estimator("mad").kinks(q) == (-1.0, 1.0)
    assert tuple(get_estimator({"name": "htge", "k0": 5.5}).kinks(q)) == pytest.approx((-1, -1 / 3, 1 / 3, 1))


def test_quantize_op_backward_is_upstream_times_q_hat_prime():
    q = UniformQuantizer(3, 0.7)
    t = 5.5 / 0.7 * q.delta
    w = torch.linspace(-1.0, 1.0, 61, dtype=torch.float64, requires_grad=True)
    up = torch.linspace(-2, 3, 61, dtype=torch.float64)
    y = quantize(w, q, get_estimator({"name": "htge", "k0": 5.5}))
    y.backward(up)
    np.testing.assert_allclose(w.grad.numpy(), up.numpy() * htge_prime(w.detach().numpy(), 3, 0.7, t), rtol=1e-12)
    for spec in ("ste", "pwl"):
        w2 = w.detach().clone().requires_grad_(True)
        quantize(w2, q, get_estimator(spec)).backward(up)
        mask = np.ones(61) if spec == "ste" else (np.abs(w.detach().numpy()) <= 0.7)
        np.testing.assert_array_equal(w2.grad.numpy(), up.numpy() * mask)


def test_validation_grid_reaches_one_bin_beyond_the_range():
    """A Q̂' that vanishes only on (w_max, w_max + Δ] is still caught (it claims the whole line)."""
    from stelab.estimators.base import Estimator

    class HoleBeyond(Estimator):
        def grad(self, x, q):
            return torch.where((x > 1.2) & (x < 1.5), torch.zeros_like(x), torch.ones_like(x))

    with pytest.raises(ValueError, match="vanishes inside its support"):
        validate_estimator(HoleBeyond(), UniformQuantizer(2, 1.0))


def test_string_spec_values_are_numbers_or_text():
    from stelab.estimators import parse_estimator_spec

    assert parse_estimator_spec(" htge , k0 = 5.5 , outside = periodic ") == {"name": "htge", "k0": 5.5,
                                                                             "outside": "periodic"}
    assert parse_estimator_spec("ste") == {"name": "ste"}
    assert parse_estimator_spec("m:f,expr=a=b") == {"name": "m:f", "expr": "a=b"}  # split at the first '='


@pytest.mark.parametrize("spec, message", [
    ({"name": "pwl", "lo": 0.5, "hi": 0.5}, r"^pwl: lo must be < hi, got lo=0.5, hi=0.5$"),
    ({"name": "htge", "k0": 1.0, "outside": "wrap"}, r"^htge: outside must be 'zero' or 'periodic', got 'wrap'$"),
    ({"k0": 1.0}, r"^estimator spec must be a name or a mapping with 'name', got \{'k0': 1.0\}$"),
    ({"name": "pwl", "width": 1.0}, r"^estimator 'pwl': bad parameters \['width'\]; allowed: \['hi', 'lo'\]$"),
])
def test_estimator_construction_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        get_estimator(spec)


# --- quantizers: layouts, indices, dtypes -----------------------------------------------------


@pytest.mark.parametrize("layout, bits, m, levels", [
    ("range", 3, 0.7, -0.7 + 0.2 * np.arange(8)),
    ("signed_int", 3, 1.0, 0.25 * np.arange(-4, 4)),
    ("midtread", 3, 0.9, 0.3 * np.arange(-3, 4)),
    ("range", 1, 2.0, np.array([-2.0, 2.0])),
])
def test_quantizer_levels_thresholds_index_and_describe(layout, bits, m, levels):
    q = UniformQuantizer(bits, m, layout)
    np.testing.assert_allclose(q.levels, levels, rtol=0, atol=1e-15)
    th = (levels[:-1] + levels[1:]) / 2
    np.testing.assert_allclose(q.thresholds, th, rtol=0, atol=1e-15)
    assert q.n_levels == len(levels)
    x = np.concatenate([levels, th + 1e-9, th - 1e-9, [levels[0] - 5, levels[-1] + 5]])
    expected_index = np.abs(x[:, None] - levels[None, :]).argmin(1)
    idx = q.index(x)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, expected_index)
    np.testing.assert_array_equal(q.index(torch.tensor(x)).numpy(), expected_index)
    np.testing.assert_allclose(q(x), levels[expected_index], rtol=0, atol=1e-15)
    # bins are closed on the left: a weight exactly on a threshold belongs to the bin above
    on = torch.tensor(q.thresholds, dtype=torch.float32)
    np.testing.assert_array_equal(q.bin_index(on).numpy(), np.arange(1, len(levels)))
    np.testing.assert_array_equal(q.bin_index(q.thresholds), np.arange(1, len(levels)))
    below = torch.tensor(th - 1e-6, dtype=torch.float32)
    np.testing.assert_array_equal(q.bin_index(below).numpy(), np.arange(0, len(levels) - 1))
    assert q.describe() == {"bits": bits, "m": m, "layout": layout, "delta": pytest.approx(levels[1] - levels[0]),
                            "w_min": pytest.approx(levels[0]), "w_max": pytest.approx(levels[-1]),
                            "n_levels": len(levels)}


def test_quantizer_accepts_its_smallest_valid_arguments():
    assert UniformQuantizer(2, 1.0, "midtread").n_levels == 3
    assert UniformQuantizer(1, 1e-12).delta == pytest.approx(2e-12)
    with pytest.raises(ValueError, match="m .*positive"):
        UniformQuantizer(2, 0.0)
    with pytest.raises(ValueError, match="m .*positive"):
        UniformQuantizer(2, math.inf)
    with pytest.raises(ValueError, match="bits"):
        UniformQuantizer(2.0, 1.0)
    assert UniformQuantizer(np.int64(3), 1.0).n_levels == 8
    with pytest.raises(ValueError, match=r"^the midtread layout needs bits >= 2"):
        UniformQuantizer(1, 1.0, "midtread")
    with pytest.raises(ValueError, match=r"^fan_in must be >= 1, got 0$"):
        he_uniform_bound(0)
    assert he_uniform_bound(1) == pytest.approx(math.sqrt(6.0))
    assert he_uniform_bound(24) == pytest.approx(0.5)


def test_quantizer_keeps_torch_dtype_and_float64_numpy():
    q = UniformQuantizer(2, 1.0)
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        x = torch.linspace(-2, 2, 9, dtype=dtype)
        assert q(x).dtype == dtype and q.bin_index(x).dtype == torch.int64 and q.index(x).dtype == torch.int64
    assert q(np.linspace(-2, 2, 9)).dtype == np.float64
