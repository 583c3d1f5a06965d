"""Tables and curves of the estimator zoo: Theorem 5.1 constants, App. H, Fig. 1 and M(w).

Everything is computed from the estimators' own definitions (:mod:`stelab.estimators`,
:mod:`stelab.equivalence`; paper A is arXiv 2405.05171); the paper's printed values only appear
beside ours. Every estimator is validated (:func:`~stelab.estimators.validate_estimator`) on
every quantizer it is evaluated on before anything is computed, and no constant is written as NaN.
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from ..equivalence import WeightMap, estimator_constants
from ..estimators import get_estimator, validate_estimator
from ..quantizers import UniformQuantizer
from .paper_values import APP_H_DSQ, APP_H_HTGE


def _estimator_spec(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "bits"}


def table_cases(estimators: dict, layers: list[dict]) -> list[tuple[str, dict, UniformQuantizer]]:
    """(label, estimator spec, quantizer) of every row of :func:`constants_table`.

    An estimator spec may carry ``bits: [...]`` to restrict it to those bit widths (the binary
    estimators ede and approx_sign use ``bits: [1]``); when no layer has such a width, the
    estimator gets a range quantizer with m = 1 at each of its widths.
    """
    cases = []
    for label, spec in estimators.items():
        only = spec.get("bits")
        for layer in layers:
            if only is None or layer["bits"] in only:
                q = UniformQuantizer(layer["bits"], layer.get("m", 1.0), layer.get("layout", "range"))
                cases.append((label, _estimator_spec(spec), q))
        if only is not None and not any(layer["bits"] in only for layer in layers):
            cases.extend((label, _estimator_spec(spec), UniformQuantizer(bits, 1.0, "range")) for bits in only)
    return cases


def curve_cases(estimators: dict, bits: int) -> list[tuple[str, dict, UniformQuantizer]]:
    """(label, estimator spec, quantizer) of every panel of :func:`estimator_curves`: a range quantizer
    with m = 1 at ``bits``, or at the estimator's first own bit width."""
    return [(label, _estimator_spec(spec), UniformQuantizer(spec["bits"][0] if spec.get("bits") else bits, 1.0))
            for label, spec in estimators.items()]


#: how an error names an estimator of the config's constants section (a command line names its option instead)
CONFIG_KEY = "constants.estimators.{label}"


def validate_cases(cases: list[tuple[str, dict, UniformQuantizer]], named: str = CONFIG_KEY) -> None:
    """:func:`~stelab.estimators.validate_estimator` on every case; the error names the estimator as ``named``
    with its label (the config key, or e.g. ``--estimator {label}``)."""
    for label, spec, q in cases:
        try:
            validate_estimator(spec, q)
        except ValueError as exc:
            raise ValueError(f"{named.format(label=label)}: {exc}") from None


def constants_table(estimators: dict, layers: list[dict], named: str = CONFIG_KEY) -> pd.DataFrame:
    """One row per (named estimator, layer setting) with L−, L+, L′, α, L′L+/(2L−²) and checks
    (:func:`~stelab.equivalence.estimator_constants`, which validates each estimator first; rows as in
    :func:`table_cases`). Errors name the estimator as ``named`` (see :func:`validate_cases`)."""
    rows = []
    for label, spec, q in table_cases(estimators, layers):
        try:
            rows.append({"label": label, **estimator_constants(spec, q)})
        except ValueError as exc:
            raise ValueError(f"{named.format(label=label)}: {exc}") from None
    return pd.DataFrame(rows)


def app_h_table() -> pd.DataFrame:
    """Paper A App. H recomputed: L′L+/(2L−²) of k·sech²(k·w) on [−Δ/2, Δ/2], Δ = 2/(2^b − 1),
    and DSQ's bound at α_dsq ∈ {0.25, 0.11}, next to the printed values.

    The tanh estimator with sharpness t = kΔ on a range quantizer with m = 1 has exactly these
    bins (its Q̂' is k·sech²(k·(w − τ)) up to a constant factor, which the ratio ignores). For
    DSQ the paper evaluates |Q̂''| at the bin edge with k = 1 (so kΔ/2 = atanh(1 − α_dsq));
    both that value and the true Lipschitz constant (max |Q̂''|) are listed.
    """
    rows = []
    for (bits, k), printed in APP_H_HTGE.items():
        c = estimator_constants({"name": "htge", "k": k}, UniformQuantizer(bits, 1.0))
        rows.append({
            "case": f"HTGE b={bits}, k={k}",
            "quantity": "L′L+/(2L−²)",
            "ours": c["convexity_coeff"],
            "ours_edge_L′": c["convexity_coeff_edge"],
            "paper": printed,
        })
    for alpha_dsq, printed in APP_H_DSQ.items():
        t = 2 * math.atanh(1 - alpha_dsq)
        q = UniformQuantizer(2, 1.5 * t)
        c = estimator_constants({"name": "dsq", "alpha_dsq": alpha_dsq}, q)
        rows.append({
            "case": f"DSQ α_dsq={alpha_dsq}, k=1",
            "quantity": "L′L+/(2L−²)",
            "ours": c["convexity_coeff"],
            "ours_edge_L′": c["convexity_coeff_edge"],
            "paper": printed,
        })
    return pd.DataFrame(rows)


def estimator_curves(estimators: dict, bits: int, n: int = 1201) -> pd.DataFrame:
    """Long-form Q̂(w), Q̂'(w), Q(w) and M(w) on [−1.5m, 1.5m] for each estimator (Fig. 1 and M plots;
    quantizers as in :func:`curve_cases`). ``Qhat`` is empty where Q̂ has no closed form."""
    cases = curve_cases(estimators, bits)
    validate_cases(cases)
    frames = []
    for label, spec, q in cases:
        est = get_estimator(spec)
        w = torch.linspace(-1.5, 1.5, n, dtype=torch.float64)
        value = est.value(w, q)
        wm = WeightMap(est, q)
        frames.append(pd.DataFrame({
            "label": label,
            "estimator": est.describe(),
            "bits": q.bits,
            "w": w.numpy(),
            "Q": q(w).numpy(),
            "Qhat": (value.detach() if value is not None else torch.full_like(w, math.nan)).numpy(),
            "dQhat": est.grad(w, q).numpy(),
            "M": wm(w).numpy(),
            "alpha": wm.alpha,
        }))
    return pd.concat(frames, ignore_index=True)
