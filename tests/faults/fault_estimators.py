"""User estimators of the fault suite, named by dotted path (``fault_estimators:<function>``)."""

import torch


def vanishes_on_narrow_layers(x, q):
    """Q̂' = 1 on a quantizer with range half-width m ≥ 0.5 (the config check's unit quantizer, m = 1,
    and the MNIST convnet's conv1, m = 0.82), 0 on narrower ones (conv2, conv3: m ≈ 0.1): usable
    only where it is checked on the real layer."""
    return torch.full_like(x, 1.0 if q.m >= 0.5 else 0.0)
