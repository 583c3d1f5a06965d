"""Stationary states of the limit dynamics: paper B's fixed-point and stability analysis.

Paper B (arXiv 2510.10693) quantifies by a fixed-point analysis how far the quantized model ends
from the unquantized linear model, and analyses stability. The formulas below are this
workflow's own derivation (the texts of paper B held by this project state no equations),
checked against long PDE solves, particles of the limit SDE and finite-d SGD.

Stationary density (zero flux of the Fokker–Planck equation, s > 0)::

    μ*(ŵ | w*) ∝ s(ŵ)^{-2} exp(Φ(ŵ)/D),  Φ′ = η(a w* − c g(ŵ))/s(ŵ),  D = ½ η² c (ε* + σ²),

piecewise exponential for the STE and a step g (exact per cell: thresholds on cell faces).
For the STE with a step g the drift is constant beyond the outermost threshold, so the two
tails outside the grid [−L, L] are exact exponentials and are integrated analytically
(``tail_mass``): ε* is that of the whole line, not of a reflecting box (at η = 2.5 a box
with L = 8 biases ε* by ~0.02). Self-consistency ε* = F(ε*), F(ε) the error of μ* at
diffusion D(ε), is solved by a bracketing root finder (Brent). Alongside:

* exact decomposition  ε* = ρ(1 − a²/c) + c·E_{w*}[Var(g(ŵ) | w*)]  (input-quantization error
  plus weight-quantization dither; holds because the STE stationarity gives E[g | w*] = a w*/c).
  It follows from the identity w*² − 2a w* E[g] + c E[g²] = w*²(1 − a²/c) + c Var(g) +
  c(E[g] − a w*/c)²; teacher values that saturate add their last term (``saturation``);
* small-noise closed form  a w*/c = L_k + pΔ  ⇒  ε* ≈ ρ(1 − a²/c) + c p(1 − p)Δ²;
* saturation: if a w* lies beyond c·L_max (or below c·L_min; for tanh beyond ±c·scale) no
  stationary state exists and ŵ escapes, ε* = w*² − 2a w* L_sat + c L_sat² for that teacher value;
* ``mean_g_gap`` = max |E[g | w*] − a w*/c| checks the STE stationarity (nan for other surrogates,
  whose stationarity is E[s(ŵ)(a w* − c g(ŵ)) | w*] = 0 instead);
* linear g: ε* = (2ρ(1 − a²/c) + ηcσ²)/(2 − ηc), stable iff ηc < 2; unquantized reference
  ε*_0 = ησ²/(2 − η).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from .fokker_planck import model_grid
from .model import Model


def unquantized_fixed_point(eta: float, sigma: float) -> float:
    """ε*_0 = ησ²/(2 − η) of ε′ = −2ηε + η²(ε + σ²) (inf when η ≥ 2)."""
    return eta * sigma**2 / (2.0 - eta) if eta < 2 else math.inf


def linear_fixed_point(model: Model, eta: float | None = None) -> float:
    """ε* of the closed linear ODE: (2ρ(1 − a²/c) + ηcσ²)/(2 − ηc) (inf when ηc ≥ 2)."""
    eta = model.eta if eta is None else eta
    a, c, rho = model.a, model.c, model.rho
    if eta * c >= 2:
        return math.inf
    return (2 * rho * (1 - a * a / c) + eta * c * model.sigma**2) / (2 - eta * c)


def linear_stable(model: Model, eta: float | None = None) -> bool:
    """Stability of linear g: ηc < 2 (module docstring)."""
    return (model.eta if eta is None else eta) * model.c < 2


def _g_range(model: Model):
    """(inf g, sup g) of a monotone bounded weight map (quantizer levels, ±scale of tanh), else None."""
    if model.g.is_step:
        return float(model.g.levels[0]), float(model.g.levels[-1])
    if model.g.kind == "tanh":
        return -model.g.bound, model.g.bound
    return None


def _saturation(model: Model, w: float):
    """The saturating value of g for teacher value w, or None if a stationary state exists.

    The drift η s(ŵ)(a w* − c g(ŵ)) keeps one sign when a w*/c lies outside (inf g, sup g): ŵ
    escapes (for tanh only logarithmically slowly, s = g′ → 0) and g(ŵ) tends to the bound."""
    rng = _g_range(model)
    if rng is None:
        return None
    t = model.a * w / model.c
    if t >= rng[1]:
        return rng[1]
    if t <= rng[0]:
        return rng[0]
    return None


def small_noise(model: Model) -> float:
    """Small-noise closed form ρ(1 − a²/c) + c Σ P*(w*) p(1 − p)Δ² (step g), saturation included."""
    if not model.g.is_step:
        raise ValueError("theory: the small-noise closed form needs a quantizer weight map")
    a, c = model.a, model.c
    lv = model.g.levels
    total = 0.0
    for w, pw in zip(model.teacher.values, model.teacher.probs):
        sat = _saturation(model, w)
        if sat is not None:
            total += pw * (w * w - 2 * a * w * sat + c * sat * sat)
            continue
        t = a * w / c
        k = min(int(np.searchsorted(lv, t, side="right")) - 1, len(lv) - 2)
        dlt = lv[k + 1] - lv[k]
        p = (t - lv[k]) / dlt
        total += pw * (w * w * (1 - a * a / c) + c * p * (1 - p) * dlt**2)
    return float(total)


class Stationary:
    """Stationary densities on the PDE grid (plus exact exponential tails) and the self-consistent ε*."""

    def __init__(self, model: Model, L: float = 8.0, dx: float = 0.002, eta: float | None = None):
        self.model = model
        self.eta = model.eta if eta is None else float(eta)
        self.grid = model_grid(model, L, dx)
        x = self.grid.centres
        self.x, self.h = x, self.grid.widths
        self.s = model.s(x)
        if np.any(self.s <= 0):
            raise ValueError("theory: a stationary density needs s > 0 on the whole grid "
                             "(clipped or compactly supported surrogates trap weights outside)")
        self.gx = model.g(x)
        self.sat = [_saturation(model, w) for w in model.teacher.values]
        th = model.g.thresholds
        # Beyond ±L the STE drift η(a w* − c L_min/max) is constant: exact exponential tails.
        self.tails = bool(model.s.is_one and model.g.is_step and len(th) and np.max(np.abs(th)) < L)

    def _log_masses(self, eps: float, k: int):
        """log-masses (unnormalised) of the cells and of the left/right tails (−inf without tails)."""
        m = self.model
        D = 0.5 * self.eta**2 * m.c * (eps + m.sigma**2)
        w = m.teacher.values[k]
        kappa = self.eta * (m.a * w - m.c * self.gx) / (D * self.s)  # Φ′/D per unit length, / s
        z = kappa * self.h
        phi_left = np.concatenate([[0.0], np.cumsum(z)[:-1]])
        az = np.maximum(np.abs(z), 1e-300)
        with np.errstate(divide="ignore"):
            log_e = np.where(z > 0, z, 0.0) + np.log(-np.expm1(-az)) - np.log(az)  # log((eᶻ − 1)/z)
        log_e = np.where(az < 1e-8, 0.5 * z, log_e)
        logm = phi_left + log_e + np.log(self.h) - 2.0 * np.log(self.s)
        tl = tr = -np.inf
        # tails: ∫_{−∞}^{−L} e^{κ₀(u+L)} du = 1/κ₀,  ∫_L^∞ e^{Φ(L)/D + κ_end(u−L)} du = e^{Φ(L)/D}/(−κ_end)
        if self.tails:
            if kappa[0] > 0:
                tl = -np.log(kappa[0])
            if kappa[-1] < 0:
                tr = phi_left[-1] + z[-1] - np.log(-kappa[-1])
        return logm, tl, tr

    def _probs(self, eps: float, k: int):
        """Normalised (cell masses, left-tail mass, right-tail mass)."""
        logm, tl, tr = self._log_masses(eps, k)
        lse = special.logsumexp(np.concatenate([logm, [tl, tr]]))
        return np.exp(logm - lse), float(np.exp(tl - lse)), float(np.exp(tr - lse))

    def density(self, eps: float, k: int) -> np.ndarray:
        """Cell-averaged μ*(· | w*_k) at ε on the grid (its integral is 1 − tail masses)."""
        return self._probs(eps, k)[0] / self.h

    def tail_mass(self, eps: float) -> float:
        """Mass outside [−L, L] at ε (averaged over P*; 0 without analytic tails or when saturated)."""
        tm = [0.0 if sat is not None else sum(self._probs(eps, k)[1:]) for k, sat in enumerate(self.sat)]
        return float(self.model.teacher.probs @ np.asarray(tm))

    def _expect(self, eps: float, *fs) -> np.ndarray:
        """Row i, column k: E[fs[i](w*_k, g)] under μ*(· | w*_k) (the saturated value where no stationary
        state exists)."""
        out = np.empty((len(fs), len(self.sat)))
        g_lo, g_hi = self.gx[0], self.gx[-1]  # g on the tails (constant beyond the outermost thresholds)
        for k, (w, sat) in enumerate(zip(self.model.teacher.values, self.sat)):
            if sat is not None:
                out[:, k] = [f(w, sat) for f in fs]
                continue
            p, tl, tr = self._probs(eps, k)
            out[:, k] = [p @ f(w, self.gx) + tl * f(w, g_lo) + tr * f(w, g_hi) for f in fs]
        return out

    def moments(self, eps: float):
        """Per teacher value: (E[g], E[g²]) under μ*, saturated values where no stationary state exists."""
        eg, eg2 = self._expect(eps, lambda w, g: g, lambda w, g: g * g)
        return eg, eg2

    def F(self, eps: float) -> float:
        """ε of the stationary law at ε, E[w*² − 2a w* g + c g²], summed as E[(w* − a g)²] + (c − a²) E[g²]
        (c ≥ a²): non-negative terms, so no cancellation where ε* is tiny (σ = 0, w* next to a level)."""
        m = self.model
        a, excess = m.a, max(m.c - m.a * m.a, 0.0)  # c − a² ≥ 0 (Cauchy–Schwarz); −2e-16 by rounding for h = id
        (per,) = self._expect(eps, lambda w, g: np.square(w - a * g) + excess * (g * g))
        return float(m.teacher.probs @ per)

    def solve(self, lo: float = 1e-12, hi: float = 1.0) -> dict:
        """Self-consistent ε* with its decomposition; ``status`` 'ok', 'saturated' or 'unstable'."""
        m = self.model
        G = lambda e: self.F(e) - e  # noqa: E731
        for _ in range(40):
            if G(hi) < 0:
                break
            hi *= 2
        else:
            return {"eps_star": math.inf, "status": "unstable"}
        if G(lo) <= 0:
            eps = lo
        else:
            eps = optimize.brentq(G, lo, hi, xtol=1e-13, rtol=1e-12)
        eg, eg2 = self.moments(eps)
        wv, wp = m.teacher.values, m.teacher.probs
        var = np.maximum(eg2 - eg**2, 0.0)
        saturated = np.array([s is not None for s in self.sat])
        bias = np.where(saturated, m.c * np.square(eg - m.a * wv / m.c), 0.0)
        input_error = float(wp @ (np.square(wv) * (1 - m.a**2 / m.c)))
        return {
            "eps_star": float(eps),
            "status": "saturated" if saturated.any() else "ok",
            "input_error": input_error,
            "dither": float(m.c * (wp @ var)),
            "saturation": float(wp @ bias),
            "decomposition": float(input_error + m.c * (wp @ var) + wp @ bias),
            "mean_g_gap": (float(np.max(np.abs(eg - m.a * wv / m.c)[~saturated]))
                           if m.s.is_one and not saturated.all() else math.nan),
            "tail_mass": self.tail_mass(eps),
        }


def fixed_point(model: Model, eta: float | None = None, L: float = 8.0, dx: float = 0.002) -> dict:
    """All fixed-point quantities of the module docstring for one model (and optionally another η)."""
    eta = model.eta if eta is None else float(eta)
    row = {"eta": eta, "sigma": model.sigma, "a": model.a, "c": model.c}
    if model.g.is_linear and model.s.is_one:
        e = linear_fixed_point(model, eta)
        row.update(eps_star=e, status="ok" if math.isfinite(e) else "unstable",
                   input_error=model.rho * (1 - model.a**2 / model.c))
    else:
        row.update(Stationary(model, L, dx, eta).solve())
    if model.g.is_step and model.s.is_one:
        row["small_noise"] = small_noise(model)
    row["eps_star_0"] = unquantized_fixed_point(eta, model.sigma)
    row["deviation"] = row["eps_star"] - row["eps_star_0"]
    return row
