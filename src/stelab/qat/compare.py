"""Comparison of finished QAT branches: pair metrics, Ē over training, and the Fig. 3 scatter.

Paper A (arXiv 2405.05171) §6.2–6.3 and App. J. ``compare_runs`` groups the final checkpoints
of all branches by (bits, optimizer, learning-rate factor, seed), forms the pairs of
:data:`stelab.qat.settings.PAIRS` and measures Ē (eq. 5, normalised by the range length),
``E_bar_path`` (the authors' code: normalised by the distance the pair's other net travelled,
:class:`stelab.qat.metrics.PathLength`) and quantized agreement (Tables 3–4) and the Table 5
accuracy/loss differences; the weights of the Fig. 3 scatter come from the same checkpoints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import paper_values as pv
from .checkpoints import build, load_checkpoint, load_snapshots
from .identity import numerics_differences
from .metrics import (final_metrics, in_percent, metric_differences, pair_metrics, tracked_pair_metrics,
                      uses_weight_map, weight_maps)
from .models import quantized_layers
from .rows import KEY
from .settings import PAIRS, RunSettings


def _run_key(run: RunSettings) -> tuple:
    return int(run.quantize["bits"]), run.optimizer, float(run.sweep_factor), int(run.seed)


def _pairs_present(variants, optimizer: str):
    """(pair, other variant, whether Ē maps the Q̂-net's weights by M) for every pair with both branches."""
    for pair, (_, other) in PAIRS.items():
        if other in variants:
            yield pair, other, uses_weight_map(pair, optimizer)


def _diverged(ckpt: dict) -> bool:
    """Whether the run was kept although it diverged (:mod:`stelab.qat.divergence`)."""
    return ckpt.get("diverged") is not None


def _quantizers(run: RunSettings) -> dict:
    model, _ = build(run)
    return {n: pq.quantizer for n, (_, pq) in quantized_layers(model).items()}


def _latent(ckpt: dict) -> dict:
    model, _ = build(ckpt["run"])
    model.load_state_dict(ckpt["model"])
    return {n: p.detach().clone() for n, (p, _) in quantized_layers(model).items()}


def load_branches(paths) -> dict:
    """{(bits, optimizer, sweep_factor, seed): {variant: checkpoint}} from final branch checkpoints."""
    groups: dict = {}
    for path in paths:
        ckpt = load_checkpoint(path)
        run = ckpt["run"]
        slot = groups.setdefault(_run_key(run), {})
        if run.variant in slot:
            raise ValueError(f"{path}: a second {run.variant} branch for {dict(zip(KEY, _run_key(run)))}")
        ckpt["path"] = str(path)
        slot[run.variant] = ckpt
    return groups


def compare_runs(final_paths, snapshot_paths=(), scatter_points: int = 4000, scatter_bits: int | None = None) -> dict:
    """DataFrames ``runs``, ``pairs``, ``tracking`` and the Fig. 3 ``scatter`` arrays.

    runs:     one row per branch with its final train/val loss and accuracy (acc in %) and
              ``diverged`` (kept by qat.on_divergence: keep although it diverged).
    pairs:    one row per (bits, optimizer, sweep_factor, seed, pair) with Ē (%), E_bar_path (%), agreement (%),
              the Q̂-net − other-net differences of the Table 5 metrics and ``diverged`` (either branch).
    tracking: Ē, E_bar_path and agreement every tracked step after the fork (from ``snapshot_paths``).
    scatter:  for the lowest seed at factor 1 and ``scatter_bits`` (default: 2 if run, else the
              fewest bits), per optimizer, ``{opt}_{adjusted|unadjusted}_{x|y}``:
              the Q̂-net weight (mapped by M when the pair uses it) and the other net's weight,
              both divided by the layer's range half-length; ``scatter_points`` sampled weights;
              ``thresholds``: the rounding thresholds in the same units.
    """
    groups = load_branches(final_paths)
    run_rows, pair_rows = [], []
    for key, branches in sorted(groups.items()):
        for variant, ck in sorted(branches.items()):
            run_rows.append({**dict(zip(KEY, key)), "variant": variant, "diverged": _diverged(ck),
                             **in_percent(final_metrics(ck["history"]))})
        if "qhat" not in branches:
            continue
        ref = branches["qhat"]
        qs = _quantizers(ref["run"])
        maps = weight_maps(ref["run"].estimators, qs) if ref["run"].estimators is not None else None
        w_ref = _latent(ref)
        m_ref = final_metrics(ref["history"])
        for pair, other, use_map in _pairs_present(branches, key[1]):
            _check_same_numerics(pair, key, ref, branches[other])
            pm = pair_metrics(w_ref, _latent(branches[other]), qs, maps if use_map else None,
                              _path_total(branches[other]))
            diff = in_percent(metric_differences(m_ref, final_metrics(branches[other]["history"])))
            diff = {f"diff_{k}": v for k, v in diff.items()}
            pair_rows.append({**dict(zip(KEY, key)), "pair": pair,
                              "diverged": _diverged(ref) or _diverged(branches[other]), "E_bar": pm["E_bar"],
                              "E_bar_m": pm["E_bar_m"], "E_bar_path": pm["E_bar_path"], "agreement": pm["agreement"],
                              "n_weights": pm["n_weights"], **diff})
    runs = pd.DataFrame(run_rows)
    pairs = pd.DataFrame(pair_rows)
    tracking = track_pairs(groups, snapshot_paths)
    scatter = scatter_arrays(groups, scatter_points, scatter_bits)
    return {"runs": runs, "pairs": pairs, "tracking": tracking, "scatter": scatter}


def _check_same_numerics(pair: str, key: tuple, ref: dict, other: dict) -> None:
    """A pair's two branches ran with one thread count, device and software versions, or ValueError naming
    the pair and the fields: otherwise rounding differences of the setup would enter Ē."""
    differences = numerics_differences(ref.get("identity"), other.get("identity"))
    if differences:
        raise ValueError(f"pair {pair} of {dict(zip(KEY, key))} ({ref['path']} and {other['path']}): the runs differ "
                         f"in {'; '.join(differences)}; rerun one of them so that both share threads, device and "
                         "versions")


def _path_total(ckpt: dict) -> float | None:
    """The distance a branch's quantized weights travelled (None for a checkpoint without it)."""
    return ckpt["path_length"]["total"] if "path_length" in ckpt else None


def track_pairs(groups: dict, snapshot_paths) -> pd.DataFrame:
    """Ē, E_bar_path and agreement over training for every pair whose two snapshot files are given
    (E_bar_path from the other branch's path length at each step, read from its final checkpoint in ``groups``)."""
    snaps: dict = {}
    for path in snapshot_paths:
        s = load_snapshots(path)
        snaps.setdefault(_run_key(s["run"]), {})[s["run"].variant] = s
    rows = []
    for key, by_variant in sorted(snaps.items()):
        if "qhat" not in by_variant:
            continue
        run = by_variant["qhat"]["run"]
        qs = _quantizers(run)
        maps = weight_maps(run.estimators, qs)
        for pair, other, use_map in _pairs_present(by_variant, key[1]):
            path = groups.get(key, {}).get(other, {}).get("path_length")
            for r in tracked_pair_metrics(by_variant["qhat"], by_variant[other], qs,
                                          maps if use_map else None, from_step=int(run.fork_step), path_b=path):
                rows.append({**dict(zip(KEY, key)), "pair": pair, **r})
    return pd.DataFrame(rows, columns=[*KEY, "pair", "step", "E_bar", "E_bar_m", "E_bar_path", "agreement",
                                       "n_weights"])


def scatter_arrays(groups: dict, n_points: int, bits: int | None = None) -> dict:
    """Fig. 3 data (see :func:`compare_runs`); the sample of weights is fixed by a seed-0 generator."""
    out = {}
    keys = sorted(k for k in groups if k[2] == 1.0 and "qhat" in groups[k])
    have = sorted({k[0] for k in keys})
    if bits is None and have:
        bits = pv.PAPER_BITS if pv.PAPER_BITS in have else have[0]
    keys = [k for k in keys if k[0] == bits]
    for optimizer in sorted({k[1] for k in keys}):
        key = min(k for k in keys if k[1] == optimizer)
        branches = groups[key]
        run = branches["qhat"]["run"]
        qs = _quantizers(run)
        maps = weight_maps(run.estimators, qs)
        w_ref = _latent(branches["qhat"])
        for label, pair in (("adjusted", "baseline"), ("unadjusted", "unadjusted")):
            other = PAIRS[pair][1]
            if other not in branches:
                continue
            w_other = _latent(branches[other])
            xs, ys = [], []
            for name, q in qs.items():
                half = (q.representable_range[1] - q.representable_range[0]) / 2
                a = maps[name](w_ref[name].double()) if uses_weight_map(pair, optimizer) else w_ref[name].double()
                xs.append((a / half).reshape(-1))
                ys.append((w_other[name].double() / half).reshape(-1))
            x, y = torch.cat(xs), torch.cat(ys)
            pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n_points]
            out[f"{optimizer}_{label}_x"] = x[pick].numpy()
            out[f"{optimizer}_{label}_y"] = y[pick].numpy()
        q = next(iter(qs.values()))
        half = (q.representable_range[1] - q.representable_range[0]) / 2
        out["thresholds"] = np.asarray(q.thresholds) / half
    return out

