"""Fork a pretrained Q̂-net checkpoint into the branches compared in paper A (arXiv 2405.05171) §6.

The Q̂-net is trained for a fraction f of the schedule (f = 0: fork at init); each branch starts
from that checkpoint at the same schedule position (paper A §6.1, "Identical initial training
period"). With Q̂' the Q̂-net's estimator, M and α its weight map (paper A eq. 4,
:class:`stelab.equivalence.WeightMap`), per quantized parameter:

``qhat``        unchanged continuation of the Q̂-net.
``ste``         STE-net. SGD / momentum (Table 1, Theorem 5.1, App. D): w → M(w), learning rate α·η,
                momentum buffer b → b·M'(w)/α = b/Q̂'(w). Adam (Table 2, Theorem 5.2, App. E): w and η
                unchanged, m → m/Q̂'(w), v → v/Q̂'(w)² (keeps m/√v). Estimator: the STE, or the
                clipped STE of App. G where Q̂' vanishes outside a range
                (``WeightMap.ste_estimator``).
``lrtweak``     Q̂-net with every learning rate × qat.lr_tweak (default 1.01, Table 3's "small change"
                reference).
``unadjusted``  the STE-net's estimator with w, η and optimiser state unchanged (claim B).

Where Q̂'(w) = 0 (outside its support) M has slope 1, so the momentum buffer becomes b/α and
the Adam moments are kept. The branch's run is the Q̂-net's with the fork's fields replaced
(:class:`stelab.qat.settings.RunSettings`: variant, fork_step, lr_factor, lr_scale, estimators).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ..equivalence import WeightMap
from ..estimators import estimator_spec
from .checkpoints import load_into
from .models import quantized_layers
from .settings import LR_TWEAK, STE_LR_SCOPES, VARIANTS


def _fix_bins(mapped: torch.Tensor, original: torch.Tensor, q) -> torch.Tensor:
    """Keep the original weight wherever the mapped one lands on a different level in float32.

    M fixes every threshold exactly in real arithmetic, so a mismatch only arises for weights
    within the float32 rounding of the quantizer's own level computation round((w − offset)/Δ)
    (about one ulp of m, far coarser than an ulp of w near the threshold 0) of a threshold τ.
    There |M(w) − τ| and |w − τ| are both below that rounding, so keeping w moves the branch by
    at most ~2 ulp(m) and makes Q(M(w)) == Q(w) hold bit for bit (a ResNet-50 has millions of
    kernels, some within that distance of a threshold).
    """
    return torch.where(q.index(mapped) != q.index(original), original, mapped)


def fork(ckpt: dict, variant: str, lr_tweak: float = LR_TWEAK, ste_lr_scope: str = "quantized") -> dict:
    """Branch checkpoint ``variant`` (one of :data:`VARIANTS`) derived from the pretrained ``ckpt``.

    ``ste_lr_scope`` (one of :data:`STE_LR_SCOPES`): ``quantized`` scales only the quantized
    weights' learning rate by α (the float parameters then follow the Q̂-net exactly); ``all``
    scales every parameter's.
    """
    if variant not in VARIANTS:
        raise ValueError(f"fork: variant {variant!r} is not one of {VARIANTS}")
    if ste_lr_scope not in STE_LR_SCOPES:
        raise ValueError(f"qat.ste_lr_scope must be one of {STE_LR_SCOPES}, got {ste_lr_scope!r}")
    run = ckpt["run"]
    model, opt = load_into(ckpt, "cpu")
    layers = quantized_layers(model)
    qhat_estimators = {n: estimator_spec(pq.estimator) for n, (_, pq) in layers.items()}
    estimators = dict(qhat_estimators)
    scales = dict(run.lr_scale)
    lr_factor = run.lr_factor * lr_tweak if variant == "lrtweak" else run.lr_factor
    if variant in ("ste", "unadjusted"):
        group_of = {g["name"]: g for g in opt.param_groups}
        alphas = []
        for name, (p, pq) in layers.items():
            wm = WeightMap(pq.estimator, pq.quantizer)
            estimators[name] = estimator_spec(wm.ste_estimator(run.optimizer))
            if variant == "unadjusted":
                continue
            state = opt.state.get(p, {})
            w = p.detach().clone()
            g = pq.estimator.grad(w, pq.quantizer)
            with torch.no_grad():
                if run.optimizer == "adam":
                    inv = torch.where(g > 0, 1.0 / g.clamp_min(torch.finfo(g.dtype).tiny), torch.ones_like(g))
                    if "exp_avg" in state:
                        state["exp_avg"].mul_(inv)
                        state["exp_avg_sq"].mul_(inv * inv)
                else:
                    p.copy_(_fix_bins(wm(w).to(w.dtype), w, pq.quantizer))
                    if state.get("momentum_buffer") is not None:
                        state["momentum_buffer"].mul_(wm.derivative(w) / wm.alpha)
                    factor = wm.learning_rate_factor(run.optimizer)
                    alphas.append(factor)
                    scales[name] = scales.get(name, 1.0) * factor
                    group_of[name]["lr_scale"] = scales[name]
        if alphas and ste_lr_scope == "all":
            # α depends on the estimator and the bit width only; each layer's quadrature on its own range m
            # differs from the others' in the last bits, so "one α" means equal to rounding, not bit for bit.
            if not math.isclose(min(alphas), max(alphas), rel_tol=1e-9):
                raise ValueError(f"qat.ste_lr_scope: 'all' needs one α for every quantized layer, got "
                                 f"{min(alphas):.6g} to {max(alphas):.6g}")
            for name, g in group_of.items():
                if name not in layers:
                    scales[name] = scales.get(name, 1.0) * alphas[0]
                    g["lr_scale"] = scales[name]
    branch = dataclasses.replace(run, variant=variant, fork_step=int(ckpt["step"]), lr_factor=lr_factor,
                                 lr_scale=scales, estimators=estimators, qhat_estimators=qhat_estimators)
    return {"run": branch, "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(), "step": int(ckpt["step"]), "fit": ckpt.get("fit", (0.0, 0)),
            "history": list(ckpt["history"]),
            "snapshots": _before(ckpt["snapshots"], int(ckpt["step"]))}


def _before(snaps: dict, step: int) -> dict:
    """Snapshots taken before ``step``: the branch records its own (mapped) weights at the fork step."""
    keep = [i for i, s in enumerate(snaps["steps"]) if s < step]
    return {"steps": [snaps["steps"][i] for i in keep],
            "weights": {n: [w[i].clone() for i in keep] for n, w in snaps["weights"].items()}}
