"""The paper's MNIST numbers that the QAT report places beside ours (paper A, arXiv 2405.05171, §6.3).

Single source for every table of the report; values copied from the paper's text:
Table 3 (Ē, SGD + momentum), Table 4 (Ē and quantized weight agreement, MNIST columns),
Table 5 (train/val accuracy and loss, MNIST columns). Percentages are in percent.
Optimiser keys: ``momentum`` = SGD + momentum 0.9 ("S"), ``adam`` = Adam ("A").
"""

#: bit width of the paper's MNIST tables (2-bit weights)
PAPER_BITS = 2

#: Table 4, MNIST: (optimizer, pair) → Ē (%) and quantized weight agreement (%).
#: Table 3 repeats the SGD (momentum) Ē values.
TABLE4_MNIST = {
    ("momentum", "baseline"): {"E_bar": 0.515, "agreement": 98.31},
    ("momentum", "lrtweak"): {"E_bar": 0.572, "agreement": 98.66},
    ("momentum", "unadjusted"): {"E_bar": 2.52, "agreement": 96.53},
    ("adam", "baseline"): {"E_bar": 2.81, "agreement": 94.42},
    ("adam", "lrtweak"): {"E_bar": 1.74, "agreement": 95.4},
}

#: the normalisation of our Ē that Table 4 compares with the paper's numbers: mean |Δw|/m, the per-weight
#: normaliser (``max_val`` = m) of the first author's ``compute_distance_metric`` without its path ratio.
#: The paper's text says "% of the range"; the record's 5-seed means match |Δw|/m (README, "The record").
COMPARED_AS = "E_bar_m"
#: the column of Tables 3–4 with our Ē in :data:`COMPARED_AS` over the paper's
OVER_PAPER = f"{COMPARED_AS}_over_paper"

#: Table 3: description and interpretation of each pair (SGD + momentum).
TABLE3_TEXT = {
    "baseline": ("Q̂ vs. STE", "Baseline"),
    "lrtweak": ("Q̂ vs. Q̂ with 1% learning rate increase",
                "Replacing STE-net with Q̂-net is about as impactful as a small change to η (A)."),
    "unadjusted": ("Q̂ vs. STE without reinitializing weights",
                   "The two models only see the same weight movement if weights are re-initialized according to M (B)."),
}

#: Table 5, MNIST: (optimizer, net) → final metrics; accuracies in %, losses in nats.
#: "Diff" rows are Q̂-net minus STE-net as printed by the paper (rounded there).
TABLE5_MNIST = {
    ("momentum", "ste"): {"train_acc": 97.05, "train_loss": 0.1439, "val_acc": 97.08, "val_loss": 0.1417},
    ("momentum", "qhat"): {"train_acc": 96.98, "train_loss": 0.1483, "val_acc": 97.14, "val_loss": 0.1468},
    ("momentum", "diff"): {"train_acc": -0.06, "train_loss": 0.0044, "val_acc": 0.06, "val_loss": 0.0051},
    ("adam", "ste"): {"train_acc": 97.56, "train_loss": 0.1270, "val_acc": 97.66, "val_loss": 0.1257},
    ("adam", "qhat"): {"train_acc": 97.63, "train_loss": 0.1254, "val_acc": 97.58, "val_loss": 0.1245},
    ("adam", "diff"): {"train_acc": 0.07, "train_loss": -0.0016, "val_acc": -0.08, "val_loss": -0.0013},
}

#: the paper's table labels of the optimisers of :data:`stelab.optimizers.OPTIMIZERS` (Tables 4–5)
OPTIMIZER_LABEL = {"momentum": "S", "sgd": "SGD", "adam": "A"}
