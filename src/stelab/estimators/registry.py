"""Gradient estimators Q̂: the registry, look-up, validation, and the quantize-with-Q̂' autograd op.

The forward pass is always the quantizer Q (:mod:`stelab.quantizers`); an estimator only
replaces Q's zero-almost-everywhere derivative by Q̂'(x) (paper A, arXiv 2405.05171, §2,
eq. 2–3, App. B, Fig. 1). The interface lives in :mod:`stelab.estimators.base`, the registry's
estimators in :mod:`stelab.estimators.zoo`, user-defined ones in :mod:`stelab.estimators.user`.

Registry (``x`` is the latent weight, Δ and the levels come from the quantizer, eq. 1):

=============  ================================================================================
``ste``        Q̂' = 1 (§2; Bengio et al. 2013).
``pwl``        clipped STE: Q̂' = 1 on [lo, hi] (default the representable range), 0 outside (§2).
``htge``       tanh family (Pei et al. 2023; App. B, H): on the cell between two levels with
               threshold τ, Q̂' = (t/2)·sech²(t(x − τ)/Δ)/tanh(t/2); t = kΔ with k = k0/m
               (k0 = 5.5 for 2 bits, §6.1) or k given directly. Outside [w_min, w_max] Q̂' = 0
               (authors' code, ``outside: zero``) or the cells continue periodically
               (``outside: periodic``).
``dsq``        the same function in DSQ's parametrisation (Gong et al. 2019; App. H):
               tanh(t/2) = 1 − α_dsq.
``mad``        Q̂' = 1 for |x| ≤ s, s/|x| outside (Sakr et al. 2022; App. B); s defaults to the
               range bound.
``ede``        binary error-decay estimator (Qin et al. 2020; App. B): Q̂' = k·t·(1 − tanh²(t·x/m)),
               t = T_min·10^{(e/E)·log10(T_max/T_min)}, k = max(1/t, 1), scheduled per epoch e of E.
``approx_sign``  Bi-Real net (Liu et al. 2018; App. B): Q̂' = 2 − 2|x|/m on |x| ≤ m, 0 outside.
``sigmoid_sum``  quantization networks (Yang et al. 2019; App. B): Q̂ = w_min + Σ_i Δ·σ(T(x − τ_i)/Δ),
               Q̂' = Σ_i T·σ_i(1 − σ_i) with a dimensionless temperature T.
=============  ================================================================================

A dotted path ``"package.module:function"`` names a user-defined estimator instead
(:class:`~stelab.estimators.user.UserEstimator`). A user estimator is checked like the others,
under a time limit (:func:`stelab.config.bounded.check_timeout_s`), and once more on every backward
pass, where a wrong output shape or a non-finite Q̂' stops training with an error naming the
estimator (the estimator's fault, not a divergence of the run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time

import torch

from .base import Estimator
from .zoo import DSQ, EDE, MAD, PWL, STE, ApproxSign, SigmoidSum, TanhFamily
from ..quantizers import UniformQuantizer
from .user import UserEstimator, is_dotted_path

REGISTRY: dict[str, type[Estimator]] = {
    "ste": STE,
    "pwl": PWL,
    "htge": TanhFamily,
    "dsq": DSQ,
    "mad": MAD,
    "ede": EDE,
    "approx_sign": ApproxSign,
    "sigmoid_sum": SigmoidSum,
}

#: points of the validation grid over [w_min − Δ, w_max + Δ] (levels and thresholds are added).
VALIDATION_POINTS = 8193


def parse_estimator_spec(text: str) -> dict:
    """``"NAME[,key=value,...]"`` (e.g. ``"htge,k0=5.5"``) → ``{"name": NAME, key: value, ...}``.

    Values that read as numbers become floats. The string form lets a config overlay replace an
    estimator whole (a mapping would be merged key by key into the default's).
    """
    name, *items = text.strip().split(",")
    spec: dict = {"name": name.strip()}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"estimator {text!r}: parameter {item!r} is not key=value")
        try:
            spec[key.strip()] = float(value)
        except ValueError:
            spec[key.strip()] = value.strip()
    return spec


def get_estimator(spec) -> Estimator:
    """Build an estimator from ``"NAME[,key=value,...]"`` or a dict ``{"name": ..., **params}`` (config form).

    Parameters are checked against each estimator's allowed ranges. Raises ValueError naming
    the estimator and the allowed names, parameters or range (``htge: k0 must be > 0, got -1``).
    """
    if isinstance(spec, Estimator):
        return spec
    if isinstance(spec, str):
        spec = parse_estimator_spec(spec)
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"estimator spec must be a name or a mapping with 'name', got {spec!r}")
    params = {k: v for k, v in spec.items() if k != "name"}
    name = spec["name"]
    if name in REGISTRY:
        cls = REGISTRY[name]
        try:
            return cls(**params)
        except TypeError as exc:
            allowed = sorted(f.name for f in dataclasses.fields(cls) if f.init)  # fields() leaves ClassVars out
            raise ValueError(f"estimator {name!r}: bad parameters {sorted(params)}; allowed: {allowed}") from exc
    if isinstance(name, str) and is_dotted_path(name):
        kind = params.pop("kind", "grad")
        return UserEstimator(path=name, kind=kind, options=tuple(sorted(params.items())))
    raise ValueError(
        f"unknown estimator {name!r}; allowed: {sorted(REGISTRY)} or a dotted path 'package.module:function'"
    )


def estimator_spec(est: Estimator) -> dict:
    """Config form {"name": ..., **params} of an estimator (round-trips through get_estimator)."""
    params = {k: v for k, v in est.params().items() if v is not None}
    return {"name": est.name, **params}


def validate_estimator(estimator: Estimator | str | dict, quantizer: UniformQuantizer) -> Estimator:
    """Build the estimator and check that Q̂' is a usable gradient estimator for ``quantizer``.

    Q̂' is evaluated in float64 on :data:`VALIDATION_POINTS` points over [w_min − Δ, w_max + Δ]
    plus every level and threshold, and must be

    * elementwise (same shape as its input) and finite everywhere;
    * ≥ 0 everywhere (paper A App. G sets negative estimators aside);
    * > 0 inside the estimator's own support (``Estimator.support``; the whole line for user
      estimators), and, for a cyclical estimator, inside the representable range, where α and
      M of eq. 4 integrate 1/Q̂' over every inner bin (§5.1).

    Q̂' is evaluated twice, on the grid as a vector and shaped as a conv kernel ``[n, 1, 1, 1]`` (an
    estimator that is not elementwise on 4-D weights fails here, not in training's backward pass),
    each under the time limit of :func:`stelab.config.bounded.check_timeout_s`.

    Returns the estimator; raises ValueError naming it and the quantizer otherwise.
    """
    from ..config.bounded import check_timeout_s

    est = get_estimator(estimator)
    q = quantizer
    w_min, w_max = q.representable_range
    d = q.delta
    grid = torch.cat([
        torch.linspace(w_min - d, w_max + d, VALIDATION_POINTS, dtype=torch.float64),
        torch.as_tensor(q.levels, dtype=torch.float64),
        torch.as_tensor(q.thresholds, dtype=torch.float64),
    ]).sort().values
    where = f"estimator {est.describe()} on the {q.bits}-bit {q.layout} quantizer with m={q.m:g}"
    kernel = grid.reshape(-1, 1, 1, 1)
    limit = check_timeout_s()
    try:
        with _time_limit(limit):
            g, g_kernel = torch.as_tensor(est.grad(grid, q)), torch.as_tensor(est.grad(kernel, q))
    except _Expired:
        raise ValueError(f"{where}: Q̂' did not return within {limit:g} s") from None
    except (TypeError, ValueError, RuntimeError, ArithmeticError) as exc:
        raise ValueError(f"{where}: evaluating Q̂' failed ({exc})") from exc
    for out, x in ((g, grid), (g_kernel, kernel)):
        if out.shape != x.shape:
            raise ValueError(f"{where}: Q̂' returned shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}; "
                             "it must act elementwise")
    n = len(grid)
    grid = torch.cat([grid, grid])
    g = torch.cat([g.reshape(-1), g_kernel.reshape(-1)]).to(torch.float64)

    def first(mask: torch.Tensor) -> str:
        i = int(torch.nonzero(mask)[0])
        shaped = f" (the input shaped [{n}, 1, 1, 1])" if i >= n else ""
        return f"Q̂'({float(grid[i]):.6g}) = {float(g[i]):.6g}{shaped}"

    if not torch.isfinite(g).all():
        raise ValueError(f"{where}: Q̂' is not finite: {first(~torch.isfinite(g))}")
    if (g < 0).any():
        raise ValueError(f"{where}: Q̂' is negative: {first(g < 0)}; a gradient estimator must be >= 0")
    lo, hi = est.support(q)
    in_support = (grid > lo) & (grid < hi)
    if (in_support & (g <= 0)).any():
        raise ValueError(f"{where}: Q̂' vanishes inside its support ({lo:g}, {hi:g}): {first(in_support & (g <= 0))}")
    in_range = (grid > w_min) & (grid < w_max)
    if est.cyclical and (in_range & (g <= 0)).any():
        raise ValueError(f"{where}: Q̂' vanishes inside the representable range [{w_min:g}, {w_max:g}]: "
                         f"{first(in_range & (g <= 0))}; α and M (paper A eq. 4) need Q̂' > 0 on every bin")
    return est


class _Expired(Exception):
    """The time limit of :func:`_time_limit` ran out."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise :class:`_Expired` in the block after ``seconds`` (SIGALRM; in the main thread of a POSIX
    process, otherwise unbounded: the config check of user code is also bounded by its child process)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _Expired

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


class _QuantizeSTE(torch.autograd.Function):
    """Forward Q(w); backward grad · Q̂'(w) (paper A eq. 2–3: the chain rule through Q̂).

    The backward pass checks what the estimator returned: the weight's shape (a user estimator that
    is not elementwise on this weight's shape), and, for a user estimator, finite values where the
    incoming gradient is finite. Either stops training with a ValueError naming the estimator and
    the weight's shape, rather than a raw autograd error or a divergence blamed on the learning rate.
    """

    @staticmethod
    def forward(ctx, w, quantizer, estimator):
        ctx.save_for_backward(w)
        ctx.quantizer, ctx.estimator = quantizer, estimator
        return quantizer(w)

    @staticmethod
    def backward(ctx, grad_out):
        (w,) = ctx.saved_tensors
        est, q = ctx.estimator, ctx.quantizer
        where = f"estimator {est.describe()} on a weight of shape {tuple(w.shape)} ({q.bits}-bit, m={q.m:g})"
        try:
            grad = est.backward(grad_out, w, q)
        except RuntimeError as exc:
            raise ValueError(f"{where}: Q̂' failed ({exc}); it must act elementwise") from None
        if grad.shape != w.shape:
            raise ValueError(f"{where}: Q̂' returned shape {tuple(grad.shape)}; it must act elementwise")
        if isinstance(est, UserEstimator) and not torch.isfinite(grad).all() and torch.isfinite(grad_out).all():
            raise ValueError(f"{where}: Q̂' is not finite; this is the estimator's output, not a divergence of the "
                             "run (fix the estimator named by qat.estimator or qat.extra_bits)")
        return grad, None, None


def quantize(w: torch.Tensor, quantizer: UniformQuantizer, estimator: Estimator) -> torch.Tensor:
    """Quantize ``w`` in the forward pass, back-propagate through Q̂' (keeps dtype and device)."""
    return _QuantizeSTE.apply(w, quantizer, estimator)
