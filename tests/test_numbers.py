"""Numbers checked by a route that shares no code with the code that produces them (issue 17).

Every expected value here comes from the definitions, written out again in NumPy/SciPy: Q̂' of each
estimator (paper A, arXiv 2405.05171, §2, App. B, App. H), α and M of eq. 4 by adaptive quadrature
(``scipy.integrate.quad``), the App. H constants by maximising the written-out Q̂' and Q̂'' on a
dense grid, and App. H's own closed forms as a second route. Nothing is taken from ``stelab`` but the
function under test and its inputs. The estimators and quantizers against their own formulas:
tests/test_numbers_formulas.py.
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
from stelab.equivalence import WeightMap
from stelab.quantizers import UniformQuantizer

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
