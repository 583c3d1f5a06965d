"""Nonlinear Fokker–Planck limit of the STE dynamics, one density μ_τ(ŵ | w*) per teacher value.

Paper B (arXiv 2510.10693) shows that as d → ∞ each latent weight follows a stochastic process
whose law obeys a PDE (its density figure compares μ_τ(ŵ | w* = 1) with simulations). The
equation below, written for any surrogate s, is this workflow's own derivation (the texts of
paper B held by this project state no equations), as are the numerics::

    ∂_τ μ = −∂_ŵ[A μ] + ∂²_ŵ[D s² μ],   A = η s (a w* − c g(ŵ)),   D = ½ η² c (ε_τ + σ²),

with ε_τ = Σ_{w*} P*(w*) ∫ (w*² − 2a w* g + c g²) μ_τ(ŵ | w*) dŵ (:mod:`stelab.theory.model`).

Numerics:

* conservative finite volumes on [−L, L] with zero-flux ends; every threshold of g and every
  jump of s (clip edges, estimator support ends) lies on a cell face, so g is constant on a
  cell and the cusps of μ at thresholds are resolved (segments between such points are cut
  into equal cells of width ≤ dx);
* face flux J = α μ_i − β μ_{i+1} in the Scharfetter–Gummel form for the variable
  ν = D s² μ: with P = h A_f / (D s²)_f, α = (D s²)_i B(−P)/h, β = (D s²)_{i+1} B(P)/h,
  B(z) = z / (eᶻ − 1) (exact for piecewise-constant drift; the classic SG flux for the STE);
* at faces where s jumps or vanishes, upwind with cell-centred drift plus the Itô diffusion
  flux: α = A_i⁺ + (D s²)_i/h, β = A_{i+1}⁻ + (D s²)_{i+1}/h (face-evaluated drift would
  reflect mass at a clip edge);
* θ-scheme in time (θ = ½: Crank–Nicolson) with ε, hence D, updated every step (second-order
  extrapolation to the half step), a few backward-Euler half steps first (Rannacher start-up
  damps the stiff modes so that μ stays non-negative), and one tridiagonal banded solve per
  teacher value and step. Σ_i h_i μ_i is conserved to rounding because each column of the
  operator sums to zero.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_banded

from ..progress import Progress
from .model import Model

PDE_DEFAULTS = {"L": 8.0, "dx": 0.002, "dt": 0.01, "theta": 0.5, "startup_steps": 4}


@dataclass
class Grid:
    faces: np.ndarray

    @property
    def centres(self) -> np.ndarray:
        return 0.5 * (self.faces[1:] + self.faces[:-1])

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.faces)

    @property
    def n(self) -> int:
        return len(self.faces) - 1


def make_grid(L: float, dx: float, breakpoints=()) -> Grid:
    """Faces on [−L, L] containing every breakpoint inside; cells of width ≤ dx per segment."""
    if not (L > 0 and dx > 0):
        raise ValueError(f"pde: need L > 0 and dx > 0, got L={L}, dx={dx}")
    bp = np.asarray(breakpoints, dtype=np.float64)
    knots = np.unique(np.concatenate([[-L, L], bp[(bp > -L) & (bp < L)]]))
    faces = [knots[:1]]
    for lo, hi in zip(knots[:-1], knots[1:]):
        n = max(1, int(np.ceil((hi - lo) / dx - 1e-9)))
        faces.append(np.linspace(lo, hi, n + 1)[1:])
    return Grid(np.concatenate(faces))


def model_grid(model: Model, L: float, dx: float) -> Grid:
    return make_grid(L, dx, np.concatenate([model.g.thresholds, model.s.breakpoints()]))


def _bernoulli(z):
    """B(z) = z / (eᶻ − 1), B(0) = 1, overflow-safe for finite z."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = z / np.expm1(z)
    return np.where(np.abs(z) < 1e-8, 1.0 - 0.5 * z, out)


@dataclass
class PDEResult:
    tau: np.ndarray
    eps: np.ndarray
    faces: np.ndarray
    teacher_values: np.ndarray
    teacher_probs: np.ndarray
    snapshots: dict = field(default_factory=dict)
    mass_drift: float = 0.0
    min_density: float = 0.0
    final: np.ndarray | None = None

    @property
    def centres(self):
        return 0.5 * (self.faces[1:] + self.faces[:-1])

    def to_npz_dict(self, error_scale: float = 1.0) -> dict:
        snap_taus = sorted(self.snapshots)
        out = {"tau": self.tau, "eps": error_scale * self.eps, "faces": self.faces,
               "teacher_values": self.teacher_values, "teacher_probs": self.teacher_probs,
               "mass_drift": np.asarray(self.mass_drift), "min_density": np.asarray(self.min_density),
               "snapshot_taus": np.asarray(snap_taus, dtype=np.float64)}
        for i, t in enumerate(snap_taus):
            out[f"snapshot_{i}"] = self.snapshots[t]
        return out


class FokkerPlanck:
    """The discretised operator for one model; ``run`` integrates in time."""

    def __init__(self, model: Model, L: float = 8.0, dx: float = 0.002, eta: float | None = None):
        self.model = model
        self.eta = model.eta if eta is None else float(eta)
        self.grid = model_grid(model, L, dx)
        x, h = self.grid.centres, self.grid.widths
        self.h = h
        self.hf = np.diff(x)
        self.wv = model.teacher.values[:, None]
        self.wp = model.teacher.probs
        gx = model.g(x)
        s = model.s(x)
        self.s2 = np.square(s)[None, :]
        self.A = self.eta * s[None, :] * (model.a * self.wv - model.c * gx[None, :])
        self.err_w = model.error_terms(self.wv, gx[None, :]) * h[None, :]
        jumps = model.s.breakpoints()
        on_jump = np.isin(np.round(self.grid.faces[1:-1], 12), np.round(jumps, 12))
        self.upwind = on_jump | (s[:-1] <= 0) | (s[1:] <= 0)
        # Face coefficients with D factored out: P = K / D, α = D cl B(−P) + up⁺, β = D cr B(P) + up⁻.
        s2l, s2r = self.s2[:, :-1], self.s2[:, 1:]
        Af = 0.5 * (self.A[:, :-1] + self.A[:, 1:])
        s2f = np.maximum(0.5 * (s2l + s2r), 1e-300)
        self.K = np.where(self.upwind, 0.0, self.hf * Af / s2f)
        self.cl, self.cr = s2l / self.hf, s2r / self.hf
        self.up_l = np.where(self.upwind, np.maximum(self.A[:, :-1], 0.0), 0.0)
        self.up_r = np.where(self.upwind, np.maximum(-self.A[:, 1:], 0.0), 0.0)

    def initial_density(self) -> np.ndarray:
        mass = np.diff(self.model.init.cdf(self.grid.faces))
        mass = mass / mass.sum()
        return np.repeat((mass / self.h)[None, :], len(self.wp), axis=0)

    def error(self, mu: np.ndarray) -> float:
        return float(self.wp @ np.sum(self.err_w * mu, axis=1))

    def diffusion(self, eps: float) -> float:
        return max(0.5 * self.eta**2 * self.model.c * (eps + self.model.sigma**2), 1e-200)

    def face_rates(self, eps: float):
        """(α, β) per face: J_{i+½} = α μ_i − β μ_{i+1} (teacher × faces)."""
        D = self.diffusion(eps)
        P = self.K / D
        return D * self.cl * _bernoulli(-P) + self.up_l, D * self.cr * _bernoulli(P) + self.up_r

    def apply(self, mu, alpha, beta):
        """L μ (teacher × cells)."""
        J = alpha * mu[:, :-1] - beta * mu[:, 1:]
        out = np.zeros_like(mu)
        out[:, :-1] -= J
        out[:, 1:] += J
        return out / self.h

    def step(self, mu, eps_mid: float, dt: float, theta: float):
        alpha, beta = self.face_rates(eps_mid)
        rhs = mu + (1.0 - theta) * dt * self.apply(mu, alpha, beta) if theta < 1.0 else mu
        n = self.grid.n
        out = np.empty_like(mu)
        ab = np.zeros((3, n))
        for t in range(mu.shape[0]):
            ab[1, :] = 1.0
            ab[1, :-1] += theta * dt * alpha[t] / self.h[:-1]
            ab[1, 1:] += theta * dt * beta[t] / self.h[1:]
            ab[0, 1:] = -theta * dt * beta[t] / self.h[:-1]
            ab[2, :-1] = -theta * dt * alpha[t] / self.h[1:]
            out[t] = solve_banded((1, 1), ab, rhs[t], check_finite=False, overwrite_b=True)
        return out

    def run(self, tau_max: float, dt: float = 0.01, theta: float = 0.5, startup_steps: int = 4,
            snapshot_taus=(), mu0=None, progress: bool = False) -> PDEResult:
        """Integrate from μ₀ (or ``mu0``, cell averages per teacher value) to τ_max in steps of ``dt``,
        keeping μ at ``snapshot_taus``; ``progress`` reports the steps done (:class:`stelab.progress.Progress`)."""
        if not dt > 0 or not 0.5 <= theta <= 1.0:
            raise ValueError(f"pde: need dt > 0 and 0.5 <= theta <= 1, got dt={dt}, theta={theta}")
        mu = self.initial_density() if mu0 is None else np.array(mu0, dtype=np.float64)
        n_steps = int(round(tau_max / dt))
        snaps = {int(round(t / dt)): float(t) for t in snapshot_taus}
        mass0 = mu @ self.h
        eps = np.empty(n_steps + 1)
        eps[0] = self.error(mu)
        snapshots = {}
        if 0 in snaps:
            snapshots[snaps[0]] = mu.copy()
        drift, mn = 0.0, float(mu.min())
        with Progress("pde", n_steps) if progress else nullcontext() as bar:
            for n in range(n_steps):
                e_prev = eps[n - 1] if n > 0 else eps[0]
                if n < startup_steps // 2:
                    half = dt / 2
                    mu = self.step(mu, eps[n], half, 1.0)
                    mu = self.step(mu, self.error(mu), half, 1.0)
                else:
                    mu = self.step(mu, max(1.5 * eps[n] - 0.5 * e_prev, 0.0), dt, theta)
                eps[n + 1] = self.error(mu)
                if (n + 1) in snaps:
                    snapshots[snaps[n + 1]] = mu.copy()
                if (n + 1) % 50 == 0 or n + 1 == n_steps:
                    drift = max(drift, float(np.max(np.abs(mu @ self.h - mass0))))
                    mn = min(mn, float(mu.min()))
                if bar is not None:
                    bar.update()
        return PDEResult(np.arange(n_steps + 1) * dt, eps, self.grid.faces, self.model.teacher.values,
                         self.wp, snapshots, drift, mn, final=mu)


def solve_pde(model: Model, tau_max: float, snapshot_taus=(), eta: float | None = None, mu0=None,
              progress: bool = False, **pde) -> PDEResult:
    """Solve the Fokker–Planck limit to τ_max with the options of ``theory.pde`` (see PDE_DEFAULTS)."""
    opts = {**PDE_DEFAULTS, **pde}
    unknown = set(opts) - set(PDE_DEFAULTS)
    if unknown:
        raise ValueError(f"theory.pde: unknown keys {sorted(unknown)}; allowed {sorted(PDE_DEFAULTS)}")
    fp = FokkerPlanck(model, opts["L"], opts["dx"], eta=eta)
    return fp.run(tau_max, opts["dt"], opts["theta"], int(opts["startup_steps"]), snapshot_taus, mu0, progress)
