"""The QAT tables as the report pages show them (paper A, arXiv 2405.05171, §6.3, Tables 3–5): column
specs for the one renderer (:mod:`stelab.report.tables`), the readable names of optimizers and pairs,
our reading of Table 3 computed from our numbers, and the claims table with the verdict this run may
state (:func:`stelab.report.provenance.claim_verdict`).

Ē is shown in all three normalisations of :mod:`stelab.qat.metrics`, each labelled with its formula
(:data:`E_BAR_LABELS`; the figures use the same labels). The paper's numbers appear as printed
(:func:`stelab.report.tables.printed`, with the decimals its columns use).
"""

from __future__ import annotations

import math

import pandas as pd

from ..report.provenance import claim_verdict
from ..report.tables import Col
from . import paper_values as pv
from .settings import PAIR_NAMES

#: each Ē normalisation: column → label with its formula and unit
E_BAR_LABELS = {"E_bar": "Ē = mean |Δw| / 2m (% of range)",
                "E_bar_m": "Ē_m = mean |Δw| / m (%)",
                "E_bar_path": "Ē_path = Σ|Δw|/m ÷ STE path Σ|Δw_t|/m (%)"}
#: the same, short, for figure axes
E_BAR_AXIS = {"E_bar": "Ē = mean |Δw|/2m (%)", "E_bar_m": "Ē_m = mean |Δw|/m (%)",
              "E_bar_path": "Ē_path, % of path length"}
#: readable names of the optimizers and nets (the pairs': stelab.qat.settings.PAIR_NAMES)
OPTIMIZER_NAMES = {"momentum": "SGD + momentum (S)", "sgd": "SGD", "adam": "Adam (A)"}
NET_NAMES = {"ste": "STE-net", "qhat": "Q̂-net", "diff": "Q̂ − STE"}


def _e_bars(digits: int = 3) -> list[Col]:
    return [Col(label, (f"{k}_mean", f"{k}_sd"), "pm", digits) for k, label in E_BAR_LABELS.items()]


TABLE3 = [Col("Bits", "bits", "int"), Col("Experiment", "pair", "text", names=PAIR_NAMES),
          Col("Description", "description", "text"), *_e_bars(),
          Col("Ē paper (%)", "E_bar_paper", "printed"),
          Col(f"{E_BAR_LABELS[pv.COMPARED_AS].split(' =')[0]} ÷ paper", pv.OVER_PAPER, "sig"),
          Col("× baseline", "ratio_to_baseline", "sig"),
          Col("Paper's interpretation", "interpretation", "text"),
          Col("Our reading (from our Ē)", "our_reading", "text")]
TABLE4 = [Col("Experiment", "experiment", "text"), *_e_bars(), Col("Ē paper (%)", "E_bar_paper", "printed"),
          Col(f"{E_BAR_LABELS[pv.COMPARED_AS].split(' =')[0]} ÷ paper", pv.OVER_PAPER, "sig"),
          Col("Agreement (%)", ("agreement_mean", "agreement_sd"), "pm", decimals=2),
          Col("Agreement paper (%)", "agreement_paper", "printed"), Col("Seeds", "n_seeds", "int")]
TABLE5 = [Col("Net", "row", "text"),
          Col("Train acc (%)", ("train_acc_mean", "train_acc_sd"), "pm", decimals=2),
          Col("Train acc, paper (%)", "train_acc_paper", "printed", decimals=2),
          Col("Train loss (nats)", ("train_loss_mean", "train_loss_sd"), "pm", decimals=4),
          Col("Train loss, paper (nats)", "train_loss_paper", "printed", decimals=4),
          Col("Val acc (%)", ("val_acc_mean", "val_acc_sd"), "pm", decimals=2),
          Col("Val acc, paper (%)", "val_acc_paper", "printed", decimals=2),
          Col("Val loss (nats)", ("val_loss_mean", "val_loss_sd"), "pm", decimals=4),
          Col("Val loss, paper (nats)", "val_loss_paper", "printed", decimals=4), Col("Seeds", "n_seeds", "int")]
LR_SWEEP = [Col("Optimizer", "optimizer", "text", names=OPTIMIZER_NAMES), Col("Bits", "bits", "int"),
            Col("η / η₀", "sweep_factor", "printed"), *_e_bars(),
            Col("Agreement (%)", ("agreement_mean", "agreement_sd"), "pm", decimals=2),
            Col("Seeds", "n_seeds", "int")]
LR_FIT = [Col("Optimizer", "optimizer", "text", names=OPTIMIZER_NAMES),
          Col("log-log slope d log Ē / d log η", "slope", "fixed", 2),
          Col("η factors", "n_factors", "int")]
CLAIMS = [Col("Optimizer", "optimizer", "text", names=OPTIMIZER_NAMES), Col("Bits", "bits", "int"),
          Col("Claim", "claim", "text"), Col("Ratio of Ē (geometric mean)", "ratio", "sig"),
          Col("95 % interval", "interval", "text"), Col("Seeds", "n_seeds", "int"),
          Col("Paper's ratio", "paper_ratio", "sig"), Col("Verdict", "verdict", "verdict"),
          Col("Rule", "rule", "text")]
DIFFS = [Col("Optimizer", "optimizer", "text", names=OPTIMIZER_NAMES), Col("Bits", "bits", "int"),
         *[Col(f"{name} Q̂ − STE{unit}", f"{k}_diff", "fixed", d)
           for k, name, unit, d in (("train_acc", "Train acc", " (points)", 2), ("val_acc", "Val acc", " (points)", 2),
                                    ("train_loss", "Train loss", " (nats)", 4), ("val_loss", "Val loss", " (nats)", 4))],
         *[Col(f"{name} 95 % interval", f"{k}_interval", "text")
           for k, name in (("train_acc", "Train acc"), ("val_acc", "Val acc"))],
         Col("Seeds", "n_seeds", "int")]
SLICES = [Col("Slice", "slice", "text"), Col("Bits", "bits", "int"), Col("Seed", "seed", "int"),
          Col("Commit", "commit", "text"), Col("Wall time (s)", "wall_s", "sig")]


def _interval(lo, hi, digits: int = 3) -> str:
    from ..report.tables import sig

    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (lo, hi)):
        return "–"
    return f"[{sig(lo, digits)}, {sig(hi, digits)}]"


def our_reading(t3: pd.DataFrame) -> list[str]:
    """Table 3's interpretation column as our numbers say it (claims A and B of :mod:`stelab.qat.claims`):
    the point ratio of the mean Ē per bit width, against the same bounds as the claims' rule."""
    from . import claims as qc

    out = []
    base = t3[t3["pair"] == "baseline"].set_index("bits")["E_bar_mean"]
    for bits, pair, e in zip(t3["bits"], t3["pair"], t3["E_bar_mean"]):
        if pair == "baseline":
            out.append("Baseline")
        elif pair == "lrtweak" and bits in base.index and e > 0:
            r = base[bits] / e
            near = 1 / qc.COMPARABLE <= r <= qc.COMPARABLE
            out.append(f"Ē(baseline) = {r:.2f} × Ē(lr-tweak): "
                       + ("as impactful as the 1 % η change (A)" if near
                          else f"not within ×{qc.COMPARABLE:g} of the 1 % η change (A not seen)"))
        elif pair == "unadjusted" and bits in base.index and base[bits] > 0:
            r = e / base[bits]
            out.append(f"Ē(unadjusted) = {r:.1f} × Ē(baseline): "
                       + ("without M the nets drift apart (B)" if r >= qc.MUCH_LARGER
                          else f"less than ×{qc.MUCH_LARGER:g} (B not seen)"))
        else:
            out.append("–")
    return out


def table3(t3: pd.DataFrame) -> pd.DataFrame:
    """Table 3 with ``our_reading`` beside the paper's interpretation."""
    return t3.assign(our_reading=our_reading(t3))


def paper_ratios(t4: pd.DataFrame) -> dict:
    """(bits, optimizer, claim) → the ratio of the paper's printed Ē (its MNIST Table 4)."""
    from . import claims as qc

    paper = qc.claims(t4.assign(E_bar_mean=t4["E_bar_paper"]))
    out = {}
    for r in paper.to_dict("records"):
        for claim, key in (("A", "ratio_baseline_to_lrtweak"), ("B", "ratio_unadjusted_to_baseline")):
            if key in r and not pd.isna(r[key]):
                out[(int(r["bits"]), r["optimizer"], claim)] = r[key]
    return out


def claims_table(claims: pd.DataFrame, t4: pd.DataFrame | None, facts: dict) -> pd.DataFrame:
    """Rows of :func:`stelab.qat.claims.claims_over_seeds` ready for :data:`CLAIMS`: the interval as text,
    the paper's ratio beside, and the verdict this run may state (synthetic data: not a reproduction)."""
    paper = paper_ratios(t4) if t4 is not None else {}
    return claims.assign(
        interval=[_interval(lo, hi) for lo, hi in zip(claims["ratio_lo"], claims["ratio_hi"])],
        paper_ratio=[paper.get((int(b), o, c), math.nan) for b, o, c in
                     zip(claims["bits"], claims["optimizer"], claims["claim"])],
        verdict=[claim_verdict(facts, v) for v in claims["verdict"]],
        n_seeds=claims["n_seeds"].where(claims["n_seeds"] > 0))


def diffs_table(diffs: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`stelab.qat.claims.table5_differences` with their intervals as text."""
    return diffs.assign(**{f"{k}_interval": [_interval(lo, hi, 2) for lo, hi in
                                             zip(diffs[f"{k}_diff_lo"], diffs[f"{k}_diff_hi"])]
                           for k in ("train_acc", "val_acc")})
