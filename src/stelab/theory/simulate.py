"""Finite-d online SGD of paper B's (arXiv 2510.10693) teacher–student model, vectorised over seeds.

Each seed ``k`` owns independent streams spawned from ``SeedSequence(k)``: one for the
teacher weights, one for the initial latent weights, one for the inputs x, one for the label
noise ξ. A run is therefore bit-identical for a seed whatever other seeds run beside it and
whatever the block size. Per step (O(d) work per seed)::

    e = d^{-1/2} (w*·x − g(ŵ)·h(x)) + σξ,     ŵ ← ŵ + (η/√d) e s(ŵ) h(x)

Inputs are drawn in blocks of ``block`` steps (teacher outputs and h(x) computed for the
whole block at once); the weight update itself is sequential. ε is evaluated with the
exact formula of :mod:`stelab.theory.model` over the d coordinates at the recorded steps.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from ..progress import Progress
from .model import Model


@dataclass
class SimResult:
    """ε(τ) for each seed (rows) on ``tau``; weight snapshots (seeds × d) at ``snapshot_taus``."""

    tau: np.ndarray
    eps: np.ndarray
    seeds: list
    d: int
    w_star: np.ndarray
    snapshots: dict = field(default_factory=dict)

    def to_npz_dict(self, error_scale: float = 1.0) -> dict:
        out = {"tau": self.tau, "eps": error_scale * self.eps, "seeds": np.asarray(self.seeds),
               "d": np.asarray(self.d), "w_star": self.w_star}
        snap_taus = sorted(self.snapshots)
        out["snapshot_taus"] = np.asarray(snap_taus, dtype=np.float64)
        for i, t in enumerate(snap_taus):
            out[f"snapshot_{i}"] = self.snapshots[t]
        return out


def seed_streams(seed: int):
    """Independent generators (teacher, init, inputs, noise) for one seed."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4)]


def record_steps(taus, d: int) -> np.ndarray:
    """Unique sorted step indices round(τ·d) for the requested times (always including 0)."""
    steps = np.unique(np.round(np.asarray(taus, dtype=np.float64) * d).astype(np.int64))
    return np.union1d([0], steps[steps >= 0])


def simulate(model: Model, d: int, tau_max: float, seeds, taus=None, snapshot_taus=(), block: int = 256,
             progress: bool = False, init_transform=None, eta: float | None = None) -> SimResult:
    """Run online SGD for every seed at once until τ_max.

    ``taus``: times at which ε is recorded (default 200 points, linear). ``init_transform``
    maps the initial latent weights (e.g. the M-transform of the bridge experiment);
    ``eta`` overrides the model's learning rate. ``progress``: report the steps done
    (:class:`stelab.progress.Progress`).
    """
    seeds = [int(s) for s in seeds]
    n_seeds = len(seeds)
    eta = model.eta if eta is None else float(eta)
    n_steps = int(round(tau_max * d))
    if taus is None:
        taus = np.linspace(0.0, tau_max, 201)
    rec = record_steps(np.clip(taus, 0, tau_max), d)
    snap_steps = {int(round(t * d)): float(t) for t in snapshot_taus}
    streams = [seed_streams(s) for s in seeds]
    w_star = np.stack([model.teacher.sample(st[0], d) for st in streams])
    w = np.stack([model.init.sample(st[1], d) for st in streams])
    if init_transform is not None:
        w = np.asarray(init_transform(w), dtype=np.float64)
    g, h, s = model.g, model.h, model.s
    sq = 1.0 / np.sqrt(d)
    coef = eta * sq
    sigma = model.sigma

    eps_rec = np.empty((n_seeds, len(rec)))
    snapshots = {}
    next_rec = 0

    def record(step):
        nonlocal next_rec
        while next_rec < len(rec) and rec[next_rec] == step:
            eps_rec[:, next_rec] = model.error_terms(w_star, g(w)).mean(axis=1)
            next_rec += 1
        if step in snap_steps:
            snapshots[snap_steps[step]] = w.copy()

    record(0)
    step = 0
    with Progress(f"simulate d={d}, {n_seeds} seed(s)", n_steps) if progress else nullcontext() as bar:
        while step < n_steps:
            k = min(block, n_steps - step)
            x = np.stack([st[2].standard_normal((k, d)) for st in streams], axis=1)  # k × seeds × d
            y = np.einsum("ksd,sd->ks", x, w_star) * sq
            if sigma > 0:
                y += sigma * np.stack([st[3].standard_normal(k) for st in streams], axis=1)
            hx = h(x)
            del x
            for j in range(k):
                hj = hx[j]
                e = y[j] - np.einsum("sd,sd->s", g(w), hj) * sq
                if s.is_one:
                    w += (coef * e)[:, None] * hj
                else:
                    w += (coef * e)[:, None] * hj * s(w)
                step += 1
                if step == rec[min(next_rec, len(rec) - 1)] or step in snap_steps:
                    record(step)
            if bar is not None:
                bar.update(k)
    return SimResult(rec / d, eps_rec, seeds, d, w_star, snapshots)
