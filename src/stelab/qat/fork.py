"""Fork a pretrained Q̂-net checkpoint into the branches compared in paper A §6.

The Q̂-net is trained for a fraction f of the schedule (f = 0: fork at init); each branch starts
from that checkpoint at the same schedule position (paper A §6.1, "Identical initial training
period"). With Q̂' the Q̂-net's estimator, M and α its weight map (paper A eq. 4,
:class:`stelab.equivalence.WeightMap`), per quantized parameter:

``qhat``        unchanged continuation of the Q̂-net.
``ste``         STE-net. SGD / momentum (Table 1, Theorem 5.1): w → M(w), learning rate α·η,
                momentum buffer b → b·M'(w)/α = b/Q̂'(w). Adam (Table 2, Theorem E.1): w and η
                unchanged, m → m/Q̂'(w), v → v/Q̂'(w)² (keeps m/√v). Estimator: the STE, or the
                clipped STE of App. G where Q̂' vanishes outside a range
                (``WeightMap.ste_estimator``).
``lrtweak``     Q̂-net with every learning rate × 1.01 (the paper's "small change" reference).
``unadjusted``  the STE-net's estimator with w, η and optimiser state unchanged (claim B).

Where Q̂'(w) = 0 (outside its support) M has slope 1, so the momentum buffer becomes b/α and
the Adam moments are kept.
"""

from __future__ import annotations

import copy

import torch

from ..equivalence import WeightMap
from .models import estimator_spec, quantized_layers
from .checkpoints import load_into
from .settings import LR_TWEAK, VARIANTS


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

    ``ste_lr_scope``: ``quantized`` scales only the quantized weights' learning rate by α (the
    float parameters then follow the Q̂-net exactly); ``all`` scales every parameter's.
    """
    if variant not in VARIANTS:
        raise ValueError(f"fork: variant {variant!r} is not one of {VARIANTS}")
    if ste_lr_scope not in ("quantized", "all"):
        raise ValueError(f"qat.ste_lr_scope must be 'quantized' or 'all', got {ste_lr_scope!r}")
    run = copy.deepcopy(ckpt["run"])
    model, opt = load_into(ckpt, "cpu")
    layers = quantized_layers(model)
    run["estimators"] = {n: estimator_spec(pq.estimator) for n, (_, pq) in layers.items()}
    run["qhat_estimators"] = copy.deepcopy(run["estimators"])
    run["variant"] = variant
    run["fork_step"] = int(ckpt["step"])
    scales = dict(run.get("lr_scale", {}))
    optimizer = run["optimizer"]
    if variant == "lrtweak":
        run["lr_factor"] = run.get("lr_factor", 1.0) * lr_tweak
    if variant in ("ste", "unadjusted"):
        group_of = {g["name"]: g for g in opt.param_groups}
        alphas = []
        for name, (p, pq) in layers.items():
            wm = WeightMap(pq.estimator, pq.quantizer)
            run["estimators"][name] = estimator_spec(wm.ste_estimator(optimizer))
            if variant == "unadjusted":
                continue
            state = opt.state.get(p, {})
            w = p.detach().clone()
            g = pq.estimator.grad(w, pq.quantizer)
            with torch.no_grad():
                if optimizer == "adam":
                    inv = torch.where(g > 0, 1.0 / g.clamp_min(torch.finfo(g.dtype).tiny), torch.ones_like(g))
                    if "exp_avg" in state:
                        state["exp_avg"].mul_(inv)
                        state["exp_avg_sq"].mul_(inv * inv)
                else:
                    p.copy_(_fix_bins(wm(w).to(w.dtype), w, pq.quantizer))
                    if state.get("momentum_buffer") is not None:
                        state["momentum_buffer"].mul_(wm.derivative(w) / wm.alpha)
                    factor = wm.learning_rate_factor(optimizer)
                    alphas.append(factor)
                    scales[name] = scales.get(name, 1.0) * factor
                    group_of[name]["lr_scale"] = scales[name]
        if alphas and ste_lr_scope == "all":
            if len(set(alphas)) != 1:
                raise ValueError("qat.ste_lr_scope: 'all' needs one α for every quantized layer")
            for name, g in group_of.items():
                if name not in layers:
                    scales[name] = scales.get(name, 1.0) * alphas[0]
                    g["lr_scale"] = scales[name]
    run["lr_scale"] = scales
    return {"run": run, "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(), "step": int(ckpt["step"]), "fit": ckpt.get("fit", (0.0, 0)),
            "history": list(ckpt["history"]),
            "snapshots": _before(ckpt["snapshots"], int(ckpt["step"]))}


def _before(snaps: dict, step: int) -> dict:
    """Snapshots taken before ``step``: the branch records its own (mapped) weights at the fork step."""
    keep = [i for i, s in enumerate(snaps["steps"]) if s < step]
    return {"steps": [snaps["steps"][i] for i in keep],
            "weights": {n: [w[i].clone() for i in keep] for n, w in snaps["weights"].items()}}
