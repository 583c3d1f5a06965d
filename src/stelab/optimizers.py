"""The optimizers of paper A (arXiv 2405.05171) and how its equivalence treats each.

SGD and SGD + momentum (Theorem 5.1, Table 1): the STE-net starts from M(w) and trains with
learning rate α·η. Adam (Theorem 5.2, Table 2): weights and learning rate stay as they are,
only the moments are rescaled. The names are listed once here, in report order (the paper's
SGD + momentum first), and imported by the QAT track, the config schema and the rules.
"""

#: optimizer names, in report order
OPTIMIZERS = ("momentum", "sgd", "adam")
#: optimizers for which the STE-net keeps w and η (scale-invariant updates, Theorem 5.2)
ADAPTIVE = ("adam",)


def check_optimizer(optimizer: str) -> str:
    """``optimizer`` if it is one of :data:`OPTIMIZERS`; a ValueError listing them otherwise."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    return optimizer
