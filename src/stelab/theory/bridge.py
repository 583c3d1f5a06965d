"""The bridge to paper A (arXiv 2405.05171) in the linear model: Q̂-net vs STE-net.

This workflow's own experiment (not in paper B, arXiv 2510.10693): paper A shows that training
with a custom gradient estimator Q̂ at learning rate η from w₀ (the Q̂-net) is equivalent, as
η → 0, to training with the STE (or the clipped STE of its App. G) at learning rate αη from
M(w₀) (the STE-net; M, α from :class:`stelab.equivalence.WeightMap`). Here both nets are run
as finite-d simulations and as Fokker–Planck limits of paper B's teacher–student model, and
compared on the common clock t = ητ_Q̂: the gap between the ε curves, and the KS distance
between the law of M(ŵ) under the Q̂-net and of ŵ under the STE-net at the final time.
torch is imported inside the functions (only this experiment needs it).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .model import Model


def bridge_setup(case: dict):
    """(model, eta, init_map) for the Q̂-net (estimator Q̂, lr η, w₀) or the STE-net
    (STE or clipped STE per App. G, lr αη, M(w₀)) of paper A's Table 1 in this linear model."""
    import torch

    from ..equivalence import WeightMap
    from ..estimators import get_estimator

    br = case["bridge"]
    spec = copy.deepcopy(case["model"])
    probe = Model.from_spec(spec)
    if not probe.g.is_step:
        raise ValueError("theory.experiments.bridge: needs a quantizer weight map")
    est = get_estimator(br["estimator"])
    wm = WeightMap(est, probe.g.quantizer)
    if br["net"] == "qhat":
        spec["surrogate"] = {"estimator": br["estimator"]}
        return Model.from_spec(spec), probe.eta, None, wm
    ste = wm.ste_estimator(br.get("optimizer", "sgd"))
    spec["surrogate"] = {"estimator": {"name": ste.name, **{k: v for k, v in ste.params().items() if v is not None}}}
    eta = probe.eta * wm.learning_rate_factor(br.get("optimizer", "sgd"))

    def init_map(w):
        return wm(torch.from_numpy(np.asarray(w, dtype=np.float64))).numpy()

    return Model.from_spec(spec), eta, init_map, wm


def ste_net_initial_density(model: Model, fp, wm) -> np.ndarray:
    """Cell averages of the law of M(ŵ₀), ŵ₀ ~ μ₀ (STE-net start of the bridge)."""
    import torch

    pre = wm.inverse(torch.from_numpy(fp.grid.faces.copy())).numpy()
    mass = np.diff(model.init.cdf(pre))
    mass = mass / mass.sum()
    return np.repeat((mass / fp.h)[None, :], len(model.teacher.values), axis=0)


def _bridge_ks(case_q: dict, th_q: dict, th_s: dict) -> float:
    """KS distance between the law of M(ŵ) under the Q̂-net and the law of ŵ under the STE-net
    at the final time (the STE-net lives in M-coordinates)."""
    import torch

    _, _, _, wm = bridge_setup(case_q)
    fq, fs = np.asarray(th_q["pde_faces"]), np.asarray(th_s["pde_faces"])
    cq = np.concatenate([[0.0], np.cumsum(np.asarray(th_q["pde_final"])[0] * np.diff(fq))])
    cs = np.concatenate([[0.0], np.cumsum(np.asarray(th_s["pde_final"])[0] * np.diff(fs))])
    x = np.linspace(max(fq[0], fs[0]) * 0.75, min(fq[-1], fs[-1]) * 0.75, 3001)
    pre = wm.inverse(torch.from_numpy(x)).numpy()
    return float(np.max(np.abs(np.interp(pre, fq, cq) - np.interp(x, fs, cs))))


def bridge_rows(cases: dict, sims: dict, ths: dict) -> pd.DataFrame:
    """Gap between Q̂-net and STE-net per η on the common clock t = ητ_Q̂."""
    rows = []
    etas = sorted({c["model"]["eta"] for c in cases.values()}, reverse=True)
    for eta in etas:
        q, s = f"qhat_eta{eta:g}", f"ste_eta{eta:g}"
        if q not in cases or s not in cases:
            continue
        row = {"eta": eta, "alpha": float(sims[s]["eta"]) / eta}
        a, b = np.asarray(sims[q]["eps"]), np.asarray(sims[s]["eps"])
        diff = np.abs(a - b)  # paired runs: same seeds, same data streams
        row.update(sim_max_gap=float(diff.max()), sim_mean_gap=float(diff.mean()))
        if "pde_eps" in ths[q] and "pde_eps" in ths[s]:
            tq, eq = ths[q]["pde_tau"], ths[q]["pde_eps"]
            es = np.interp(tq, ths[s]["pde_tau"], ths[s]["pde_eps"])
            dd = np.abs(eq - es)
            row.update(pde_max_gap=float(dd.max()), pde_mean_gap=float(dd.mean()))
            row["pde_final_ks"] = _bridge_ks(cases[q], ths[q], ths[s])
        rows.append(row)
    return pd.DataFrame(rows)
