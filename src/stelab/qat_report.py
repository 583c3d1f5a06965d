"""From finished QAT branches to the report's data: pair metrics, tracking, scatter, Tables 3–5, lr sweep.

``compare_runs`` groups the final checkpoints of all branches by (optimizer, learning-rate
factor, seed), forms the pairs of :data:`stelab.metrics.PAIRS` and measures Ē and quantized
agreement (paper A §6.2) and the Table 5 accuracy/loss differences. ``tables`` turns those
per-seed rows into the paper's tables (mean ± sd over seeds, the paper's numbers in adjacent
columns, :mod:`stelab.paper_values`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import paper_values as pv
from .metrics import PAIRS, final_metrics, loglog_slope, pair_metrics, tracked_pair_metrics, uses_weight_map, weight_maps
from .models import quantized_layers
from .training import build, load_checkpoint

KEY = ("bits", "optimizer", "sweep_factor", "seed")
PAPER_BITS = 2  # the paper's MNIST tables are for 2-bit weights
METRICS5 = ("train_acc", "train_loss", "val_acc", "val_loss")


def _run_key(run: dict) -> tuple:
    return int(run["quantize"]["bits"]), run["optimizer"], float(run.get("sweep_factor", 1.0)), int(run["seed"])


def _quantizers(run: dict) -> dict:
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
        variant = run.get("variant", "qhat")
        slot = groups.setdefault(_run_key(run), {})
        if variant in slot:
            raise ValueError(f"{path}: a second {variant} branch for {dict(zip(KEY, _run_key(run)))}")
        ckpt["path"] = str(path)
        slot[variant] = ckpt
    return groups


def compare_runs(final_paths, snapshot_paths=(), scatter_points: int = 4000, scatter_bits: int | None = None) -> dict:
    """DataFrames ``runs``, ``pairs``, ``tracking`` and the Fig. 3 ``scatter`` arrays.

    runs:     one row per branch with its final train/val loss and accuracy (acc in %).
    pairs:    one row per (bits, optimizer, sweep_factor, seed, pair) with Ē (%), agreement (%) and the
              Q̂-net − other-net differences of the Table 5 metrics.
    tracking: Ē and agreement every tracked step after the fork (from ``snapshot_paths``).
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
            fm = final_metrics(ck["history"])
            run_rows.append({**dict(zip(KEY, key)), "variant": variant,
                             **{k: fm[k] * (100 if k.endswith("acc") else 1) for k in METRICS5}})
        if "qhat" not in branches:
            continue
        ref = branches["qhat"]
        qs = _quantizers(ref["run"])
        maps = weight_maps(ref["run"]["estimators"], qs) if "estimators" in ref["run"] else None
        w_ref = _latent(ref)
        m_ref = final_metrics(ref["history"])
        for pair, (_, other) in PAIRS.items():
            if other not in branches:
                continue
            use_map = uses_weight_map(pair, key[1])
            pm = pair_metrics(w_ref, _latent(branches[other]), qs, maps if use_map else None)
            diff = {f"diff_{k}": (m_ref[k] - v) * (100 if k.endswith("acc") else 1)
                    for k, v in final_metrics(branches[other]["history"]).items()}
            pair_rows.append({**dict(zip(KEY, key)), "pair": pair, "E_bar": pm["E_bar"],
                              "agreement": pm["agreement"], "n_weights": pm["n_weights"], **diff})
    runs = pd.DataFrame(run_rows)
    pairs = pd.DataFrame(pair_rows)
    tracking = track_pairs(groups, snapshot_paths)
    scatter = scatter_arrays(groups, scatter_points, scatter_bits)
    return {"runs": runs, "pairs": pairs, "tracking": tracking, "scatter": scatter}


def track_pairs(groups: dict, snapshot_paths) -> pd.DataFrame:
    """Ē and agreement over training for every pair whose two snapshot files are given."""
    snaps: dict = {}
    for path in snapshot_paths:
        s = torch.load(path, map_location="cpu", weights_only=False)
        snaps.setdefault(_run_key(s["run"]), {})[s["run"].get("variant", "qhat")] = s
    rows = []
    for key, by_variant in sorted(snaps.items()):
        if "qhat" not in by_variant:
            continue
        run = by_variant["qhat"]["run"]
        qs = _quantizers(run)
        maps = weight_maps(run["estimators"], qs)
        for pair, (_, other) in PAIRS.items():
            if other not in by_variant:
                continue
            use_map = uses_weight_map(pair, key[1])
            for r in tracked_pair_metrics(by_variant["qhat"], by_variant[other], qs,
                                          maps if use_map else None, from_step=int(run.get("fork_step", 0))):
                rows.append({**dict(zip(KEY, key)), "pair": pair, **r})
    return pd.DataFrame(rows, columns=[*KEY, "pair", "step", "E_bar", "agreement", "n_weights"])


def scatter_arrays(groups: dict, n_points: int, bits: int | None = None) -> dict:
    """Fig. 3 data (see :func:`compare_runs`); the sample of weights is fixed by a seed-0 generator."""
    out = {}
    keys = sorted(k for k in groups if k[2] == 1.0 and "qhat" in groups[k])
    have = sorted({k[0] for k in keys})
    if bits is None and have:
        bits = PAPER_BITS if PAPER_BITS in have else have[0]
    keys = [k for k in keys if k[0] == bits]
    for optimizer in sorted({k[1] for k in keys}):
        key = min(k for k in keys if k[1] == optimizer)
        branches = groups[key]
        run = branches["qhat"]["run"]
        qs = _quantizers(run)
        maps = weight_maps(run["estimators"], qs)
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


# ---------------------------------------------------------------- tables


def _mean_sd(df: pd.DataFrame, by, cols) -> pd.DataFrame:
    g = df.groupby(list(by), sort=False)[list(cols)]
    mean, sd, n = g.mean(), g.std(ddof=1), g.count()
    out = mean.add_suffix("_mean").join(sd.add_suffix("_sd")).join(n[[cols[0]]].rename(columns={cols[0]: "n_seeds"}))
    return out.reset_index()


_OPT_ORDER = {"momentum": 0, "sgd": 1, "adam": 2}
_PAIR_ORDER = {"baseline": 0, "lrtweak": 1, "unadjusted": 2}


def _paper(table: dict, bits, optimizer, key, field):
    """The paper's number for a row (its MNIST tables are 2-bit), NaN otherwise."""
    return table.get((optimizer, key), {}).get(field, np.nan) if int(bits) == PAPER_BITS else np.nan


def table4(pairs: pd.DataFrame) -> pd.DataFrame:
    """Table 4: Ē and quantized agreement per (bits, optimizer, pair), mean and sd over seeds, paper beside."""
    main = pairs[pairs["sweep_factor"] == 1.0]
    t = _mean_sd(main, ("bits", "optimizer", "pair"), ("E_bar", "agreement"))
    several = t["bits"].nunique() > 1
    t["experiment"] = [f"{p} ({pv.OPTIMIZER_LABEL.get(o, o)})" + (f", {b} bit" if several else "")
                       for b, o, p in zip(t["bits"], t["optimizer"], t["pair"])]
    t["E_bar_paper"] = [_paper(pv.TABLE4_MNIST, b, o, p, "E_bar") for b, o, p in zip(t["bits"], t["optimizer"], t["pair"])]
    t["agreement_paper"] = [_paper(pv.TABLE4_MNIST, b, o, p, "agreement")
                            for b, o, p in zip(t["bits"], t["optimizer"], t["pair"])]
    t = t.sort_values(["bits", "optimizer", "pair"], key=lambda c: c.map(_PAIR_ORDER) if c.name == "pair" else (
        c.map(_OPT_ORDER) if c.name == "optimizer" else c))
    return t[["experiment", "bits", "optimizer", "pair", "E_bar_mean", "E_bar_sd", "E_bar_paper",
              "agreement_mean", "agreement_sd", "agreement_paper", "n_seeds"]].reset_index(drop=True)


def table3(pairs: pd.DataFrame, optimizer: str = "momentum") -> pd.DataFrame:
    """Table 3: Ē of the SGD + momentum pairs with description, interpretation and ratio to baseline (per bits)."""
    t = table4(pairs)
    t = t[t["optimizer"] == optimizer].copy()
    base = t[t["pair"] == "baseline"].set_index("bits")["E_bar_mean"]
    t["ratio_to_baseline"] = [e / base[b] if b in base.index else np.nan for b, e in zip(t["bits"], t["E_bar_mean"])]
    t["description"] = [pv.TABLE3_TEXT[p][0] for p in t["pair"]]
    t["interpretation"] = [pv.TABLE3_TEXT[p][1] for p in t["pair"]]
    return t[["bits", "pair", "description", "E_bar_mean", "E_bar_sd", "E_bar_paper", "ratio_to_baseline",
              "interpretation", "n_seeds"]].reset_index(drop=True)


def table5(runs: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Table 5: final train/val accuracy (%) and loss of STE-net and Q̂-net, and their difference (Q̂ − STE)."""
    rows = []
    main_runs = runs[runs["sweep_factor"] == 1.0]
    main_pairs = pairs[(pairs["sweep_factor"] == 1.0) & (pairs["pair"] == "baseline")]
    several = main_runs["bits"].nunique() > 1
    for bits in sorted(set(main_runs["bits"])):
        for optimizer in [o for o in _OPT_ORDER if o in set(main_runs["optimizer"])]:
            label = pv.OPTIMIZER_LABEL.get(optimizer, optimizer) + (f", {bits} bit" if several else "")
            r = main_runs[(main_runs["optimizer"] == optimizer) & (main_runs["bits"] == bits)]
            sources = [("ste", f"STE ({label})", r[r["variant"] == "ste"], ""),
                       ("qhat", f"Q̂ ({label})", r[r["variant"] == "qhat"], ""),
                       ("diff", f"Diff ({label})",
                        main_pairs[(main_pairs["optimizer"] == optimizer) & (main_pairs["bits"] == bits)], "diff_")]
            for net, name, df, prefix in sources:
                if df.empty:
                    continue
                row = {"row": name, "bits": int(bits), "optimizer": optimizer, "net": net, "n_seeds": len(df)}
                for k in METRICS5:
                    vals = df[prefix + k].astype(float)
                    row[f"{k}_mean"] = vals.mean()
                    row[f"{k}_sd"] = vals.std(ddof=1) if len(vals) > 1 else np.nan
                    row[f"{k}_paper"] = _paper(pv.TABLE5_MNIST, bits, optimizer, net, k)
                rows.append(row)
    return pd.DataFrame(rows)


def lr_sweep(pairs: pd.DataFrame, pair: str = "baseline") -> tuple[pd.DataFrame, dict]:
    """Ē of ``pair`` against η (mean ± sd over seeds per factor) and the log-log slope.

    Only (bits, optimizer) combinations run at two or more learning-rate factors enter the sweep;
    ``fits`` is keyed by optimizer (suffixed by the bit width when several were swept).
    """
    df = pairs[pairs["pair"] == pair]
    swept = df.groupby(["bits", "optimizer"])["sweep_factor"].nunique()
    keep = set(swept[swept >= 2].index)
    df = df[[(b, o) in keep for b, o in zip(df["bits"], df["optimizer"])]]
    t = _mean_sd(df, ("bits", "optimizer", "sweep_factor"), ("E_bar", "agreement"))
    t = t.sort_values(["bits", "optimizer", "sweep_factor"]).reset_index(drop=True)
    several = t["bits"].nunique() > 1
    fits = {}
    for (bits, optimizer), g in t.groupby(["bits", "optimizer"]):
        if (g["E_bar_mean"] > 0).all():
            slope, intercept = loglog_slope(g["sweep_factor"], g["E_bar_mean"])
            fits[f"{optimizer}, {bits} bit" if several else optimizer] = {
                "slope": slope, "intercept": intercept, "n_factors": int(len(g)), "bits": int(bits)}
    return t, fits


def fmt_pm(mean, sd, digits: int = 3) -> str:
    """'mean ± sd' (sd omitted when undefined)."""
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" if pd.isna(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def display_table(t: pd.DataFrame, columns: dict, digits: dict | None = None) -> pd.DataFrame:
    """Human-readable table: ``columns`` maps a display name to a column or a (mean, sd) column pair."""
    digits = digits or {}
    out = {}
    for label, col in columns.items():
        d = digits.get(label, 3)
        if isinstance(col, tuple):
            out[label] = [fmt_pm(m, s, d) for m, s in zip(t[col[0]], t[col[1]])]
        elif pd.api.types.is_float_dtype(t[col]):
            out[label] = ["–" if pd.isna(v) else f"{v:.{d}f}" for v in t[col]]
        else:
            out[label] = list(t[col])
    return pd.DataFrame(out)


TABLE3_DISPLAY = {"Bits": "bits", "Experiment": "pair", "Description": "description", "Ē (%)": ("E_bar_mean", "E_bar_sd"),
                  "Ē paper (%)": "E_bar_paper", "× baseline": "ratio_to_baseline", "Interpretation": "interpretation"}
TABLE4_DISPLAY = {"Experiment": "experiment", "Ē (%)": ("E_bar_mean", "E_bar_sd"), "Ē paper (%)": "E_bar_paper",
                  "Agreement (%)": ("agreement_mean", "agreement_sd"), "Agreement paper (%)": "agreement_paper"}
TABLE5_DISPLAY = {"": "row", "Train acc (%)": ("train_acc_mean", "train_acc_sd"), "paper": "train_acc_paper",
                  "Train loss": ("train_loss_mean", "train_loss_sd"), "paper ": "train_loss_paper",
                  "Val acc (%)": ("val_acc_mean", "val_acc_sd"), "paper  ": "val_acc_paper",
                  "Val loss": ("val_loss_mean", "val_loss_sd"), "paper   ": "val_loss_paper"}
TABLE5_DIGITS = {"Train acc (%)": 2, "paper": 2, "Val acc (%)": 2, "paper  ": 2, "Train loss": 4, "paper ": 4,
                 "Val loss": 4, "paper   ": 4}


def claims(t4: pd.DataFrame, comparable: float = 2.0, much_larger: float = 2.0) -> pd.DataFrame:
    """Paper A's claims per optimizer from Table 4 (mean Ē over seeds).

    A: Ē(baseline) is comparable to Ē(lr-tweak), i.e. their ratio lies in [1/comparable, comparable].
    B: Ē(unadjusted) ≥ much_larger × Ē(baseline) (SGD only; Adam has no unadjusted pair in the paper).
    """
    rows = []
    for (bits, optimizer), g in t4.groupby(["bits", "optimizer"], sort=False):
        e = dict(zip(g["pair"], g["E_bar_mean"]))
        row = {"bits": bits, "optimizer": optimizer}
        if "baseline" in e and "lrtweak" in e:
            r = e["baseline"] / e["lrtweak"]
            row.update(ratio_baseline_to_lrtweak=r, claim_A=bool(1 / comparable <= r <= comparable))
        if "baseline" in e and "unadjusted" in e:
            r = e["unadjusted"] / e["baseline"]
            row.update(ratio_unadjusted_to_baseline=r, claim_B=bool(r >= much_larger))
        rows.append(row)
    return pd.DataFrame(rows)
