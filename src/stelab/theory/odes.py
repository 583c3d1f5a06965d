"""Macroscopic ODE limits and the particle cross-check.

Paper B (arXiv 2510.10693) shows that the macroscopic state of STE training follows a
deterministic ODE as d → ∞. The equations below are this workflow's own derivations (the texts
of paper B held by this project state no equations): an exact closed ODE for linear g, an
approximate Gaussian closure, the small-η transport limit and a particle solver of the limit SDE.

* :func:`linear_ode` — closed ODE for a linear weight map g(ŵ) = ŵ with the STE
  (m = E[w*ŵ], q = E[ŵ²], ρ = E[w*²])::

      m′ = η(aρ − c m),  q′ = 2η(a m − c q) + η² c (ε + σ²),  ε = ρ − 2a m + c q.

  Linear, so solved exactly with a matrix exponential. With a = c = 1 it reduces to
  ε′ = −2ηε + η²(ε + σ²) (stable iff η < 2, fixed point ησ²/(2 − η)).
* :func:`gaussian_closure` — ŵ | w* ~ N(m, v) per teacher value::

      m′ = η E[s(a w* − c g)],  v′ = 2η E[(ŵ − m) s (a w* − c g)] + η² c (ε + σ²) E[s²],

  which for the STE and a step g is m′ = η(a w* − c E[g]), v′ = −2η c v E[g′] + η² c (ε + σ²)
  (Stein's lemma; E[g′] = Σ_k Δ_k φ_v(θ_k) from the level jumps). Exact Gaussian bin sums
  for step g with the STE, Gauss–Hermite quadrature otherwise.
* :func:`transport_limit` — small-η limit, t = ητ: dŵ/dt = s(ŵ)(a w* − c g(ŵ)). Equal-mass
  particles move deterministically; a particle reaching a threshold where the velocity
  changes sign slides on it (Filippov): it dithers between the two levels with the weight λ
  that makes the mean velocity vanish, which gives E[g | w*] = a w*/c for the STE.
* :func:`particles` — Euler–Maruyama on N copies of the limit SDE
  dŵ = η s (a w* − c g) dτ + η s √(c (ε_τ + σ²)) dB_τ, ε_τ from the ensemble.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
from scipy import integrate, linalg, special

from ..progress import Progress
from .laws import normal_pdf
from .model import Model

_EDGE = 1e-9  # a step map's two sides of a threshold θ are read at θ ∓ _EDGE


def linear_ode(model: Model, taus, eta: float | None = None) -> dict:
    """Exact solution of the closed (m, q) ODE for g = identity with the STE."""
    if not model.g.is_linear or not model.s.is_one:
        raise ValueError("theory: the closed ODE needs weight_map identity and surrogate ste")
    eta = model.eta if eta is None else float(eta)
    a, c, rho, s2 = model.a, model.c, model.rho, model.sigma**2
    # z = (m, q, 1):  z' = A z
    A = np.array([
        [-eta * c, 0.0, eta * a * rho],
        [2 * eta * a - 2 * eta**2 * c * a, -2 * eta * c + eta**2 * c * c, eta**2 * c * (rho + s2)],
        [0.0, 0.0, 0.0],
    ])
    mean_w = float(model.teacher.probs @ model.teacher.values)
    z0 = np.array([mean_w * model.init.mean, model.init.mean**2 + model.init.var, 1.0])
    taus = np.asarray(taus, dtype=np.float64)
    z = np.stack([linalg.expm(A * t) @ z0 for t in taus])
    eps = rho - 2 * a * z[:, 0] + c * z[:, 1]
    return {"tau": taus, "eps": eps, "m": z[:, 0], "q": z[:, 1]}


def _closure_step_moments(model: Model, m, v):
    """E[g], E[g²], E[g′] for ŵ ~ N(m, v) and step g (arrays over teacher values)."""
    sd = np.sqrt(np.maximum(v, 1e-300))
    th = model.g.thresholds
    lv = model.g.levels
    z = (th[None, :] - m[:, None]) / sd[:, None]
    cdf = np.concatenate([np.zeros((len(m), 1)), special.ndtr(z), np.ones((len(m), 1))], axis=1)
    p = np.diff(cdf, axis=1)
    eg, eg2 = p @ lv, p @ np.square(lv)
    egp = (normal_pdf(z) / sd[:, None]) @ np.diff(lv)
    return eg, eg2, egp


def gaussian_closure(model: Model, taus, eta: float | None = None, nodes: int = 801) -> dict:
    """Integrate the Gaussian-closure ODE (one (m, v) pair per teacher value).

    Outside the exact case the expectations use ``nodes`` equispaced points on ±8 standard
    deviations (robust to the jumps of g and s, unlike Gauss–Hermite).
    """
    eta = model.eta if eta is None else float(eta)
    a, c, s2 = model.a, model.c, model.sigma**2
    wv, wp = model.teacher.values, model.teacher.probs
    z = np.linspace(-8.0, 8.0, nodes)
    zw = normal_pdf(z)
    zw = zw / zw.sum()
    exact = model.g.is_step and model.s.is_one
    nt = len(wv)

    def moments(m, v):
        if model.g.is_step:
            eg, eg2, _ = _closure_step_moments(model, m, v)
            return eg, eg2
        w = m[:, None] + np.sqrt(np.maximum(v, 0.0))[:, None] * z[None, :]
        gw = model.g(w)
        return gw @ zw, np.square(gw) @ zw

    def eps_of(m, v):
        eg, eg2 = moments(m, v)
        return float(wp @ (np.square(wv) - 2 * a * wv * eg + c * eg2))

    def rhs(_, y):
        m, v = y[:nt], np.maximum(y[nt:], 1e-14)
        eps = eps_of(m, v)
        if exact:
            eg, _, egp = _closure_step_moments(model, m, v)
            dm = eta * (a * wv - c * eg)
            dv = -2 * eta * c * v * egp + eta**2 * c * (eps + s2)
        else:
            sd = np.sqrt(v)
            w = m[:, None] + sd[:, None] * z[None, :]
            s = model.s(w)
            drift = s * (a * wv[:, None] - c * model.g(w))
            dm = eta * (drift @ zw)
            dv = 2 * eta * ((sd[:, None] * z[None, :] * drift) @ zw) + eta**2 * c * (eps + s2) * (np.square(s) @ zw)
        return np.concatenate([dm, dv])

    taus = np.asarray(taus, dtype=np.float64)
    y0 = np.concatenate([np.full(nt, model.init.mean), np.full(nt, model.init.var)])
    method, rtol = ("LSODA", 1e-8) if exact else ("RK45", 1e-6)
    sol = integrate.solve_ivp(rhs, (0.0, float(taus[-1])), y0, t_eval=taus, method=method, rtol=rtol, atol=1e-9)
    if not sol.success:
        raise ValueError(f"theory: Gaussian closure failed: {sol.message}")
    m, v = sol.y[:nt], np.maximum(sol.y[nt:], 1e-14)
    eps = np.array([eps_of(m[:, i], v[:, i]) for i in range(len(taus))])
    return {"tau": taus, "eps": eps, "m": m, "v": v}


def transport_limit(model: Model, taus, eta: float | None = None, n_particles: int = 4000,
                    dt: float = 2e-3) -> dict:
    """Small-η limit on the τ grid ``taus`` (t = ητ): deterministic transport with sliding."""
    eta = model.eta if eta is None else float(eta)
    a, c = model.a, model.c
    wv, wp = model.teacher.values, model.teacher.probs
    g, s = model.g, model.s
    x = np.repeat(model.init.quantiles(n_particles)[None, :], len(wv), axis=0)
    target = (a * wv)[:, None] * np.ones_like(x)
    slide_lo = np.full(x.shape, np.nan)  # lower level of the bin pair a sliding particle dithers in
    slide_hi = np.full(x.shape, np.nan)
    slide_lam = np.zeros(x.shape)
    th = g.thresholds

    def vel(u):
        return s(u) * (target - c * g(u))

    def turning_threshold(x0, x1, up):
        """The first threshold met between x0 and x1 (in the direction of motion) beyond which the
        velocity points back; (θ, v(θ−), v(θ+), found) per particle. A step may pass thresholds where
        the velocity keeps its sign before it reaches that one."""
        lo, hi = np.minimum(x0, x1), np.maximum(x0, x1)
        ths = th.reshape((-1,) + (1,) * x0.ndim)
        fm_all, fp_all = vel(ths - _EDGE), vel(ths + _EDGE)
        stops = (ths > lo) & (ths <= hi) & np.where(up, fp_all <= 0, fm_all >= 0)
        k = np.where(up, np.argmax(stops, axis=0), len(th) - 1 - np.argmax(stops[::-1], axis=0))
        pick = k[None]
        return (th[k], np.take_along_axis(fm_all, pick, 0)[0], np.take_along_axis(fp_all, pick, 0)[0],
                stops.any(axis=0))

    def error():
        gw = g(x)
        sl = ~np.isnan(slide_lo)
        eg = np.where(sl, slide_lam * slide_hi + (1 - slide_lam) * slide_lo, gw)
        eg2 = np.where(sl, slide_lam * slide_hi**2 + (1 - slide_lam) * slide_lo**2, gw**2)
        per = np.square(wv)[:, None] - 2 * a * wv[:, None] * eg + c * eg2
        return float(wp @ per.mean(axis=1))

    ts = eta * np.asarray(taus, dtype=np.float64)
    out = np.empty(len(ts))
    t = 0.0
    for i, t_target in enumerate(ts):
        while t < t_target - 1e-12:
            h = min(dt, t_target - t)
            free = np.isnan(slide_lo)
            f0 = vel(x)
            xn = np.where(free, x + h * f0, x)
            f1 = vel(xn)
            cross = free & (f0 * f1 < 0)
            if cross.any():
                if g.is_step:
                    xs, fm, fp, inside = turning_threshold(x, xn, f0 > 0)
                    inside &= cross
                    lam = np.where(fm - fp != 0, fm / np.where(fm - fp == 0, 1, fm - fp), 0.5)
                    xn = np.where(inside, xs, xn)
                    slide_lo = np.where(inside, g(xs - _EDGE), slide_lo)
                    slide_hi = np.where(inside, g(xs + _EDGE), slide_hi)
                    slide_lam = np.where(inside, np.clip(lam, 0, 1), slide_lam)
                    rest = cross & ~inside
                else:
                    rest = cross
                root = x + h * f0 * f0 / np.where(f0 - f1 == 0, 1, f0 - f1)
                xn = np.where(rest, root, xn)
            x = xn
            t += h
        out[i] = error()
    return {"tau": np.asarray(taus, dtype=np.float64), "eps": out, "t": ts}


def particles(model: Model, tau_max: float, taus, n: int = 20000, dt: float = 0.01, seed: int = 0,
              eta: float | None = None, snapshot_taus=(), progress: bool = False) -> dict:
    """Euler–Maruyama on n copies of the limit SDE (teacher values in proportion to P*);
    ``progress`` reports the steps done (:class:`stelab.progress.Progress`)."""
    eta = model.eta if eta is None else float(eta)
    a, c, s2 = model.a, model.c, model.sigma**2
    init_rng, noise_rng = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2)]
    counts = np.maximum(np.round(model.teacher.probs * n).astype(int), 1)
    w_star = np.repeat(model.teacher.values, counts)
    weights = np.repeat(model.teacher.probs / counts, counts)
    x = model.init.sample(init_rng, len(w_star))
    n_steps = int(round(tau_max / dt))
    rec = {int(round(t / dt)) for t in taus}
    snaps = {int(round(t / dt)): float(t) for t in snapshot_taus}
    tt, ee, snapshots = [], [], {}

    def eps_now():
        return float(weights @ model.error_terms(w_star, model.g(x)))

    with Progress("particles", n_steps) if progress else nullcontext() as bar:
        for k in range(n_steps + 1):
            eps = eps_now()
            if k in rec:
                tt.append(k * dt)
                ee.append(eps)
            if k in snaps:
                snapshots[snaps[k]] = x.copy()
            if k == n_steps:
                break
            sx = model.s(x)
            x = x + eta * sx * (a * w_star - c * model.g(x)) * dt \
                + eta * sx * np.sqrt(c * (eps + s2) * dt) * noise_rng.standard_normal(len(x))
            if bar is not None:
                bar.update()
    return {"tau": np.array(tt), "eps": np.array(ee), "w_star": w_star, "snapshots": snapshots}
