"""User estimators of the fault suite, named by dotted path (``fault_estimators:<function>``)."""

import time

import torch


def vanishes_on_narrow_layers(x, q):
    """Q̂' = 1 on a quantizer with range half-width m ≥ 0.5 (the config check's unit quantizer, m = 1,
    and the MNIST convnet's conv1, m = 0.82), 0 on narrower ones (conv2, conv3: m ≈ 0.1): usable
    only where it is checked on the real layer."""
    return torch.full_like(x, 1.0 if q.m >= 0.5 else 0.0)


def never_returns(x, q):
    """Q̂' that never comes back: the config check must give up after its time limit, naming the key."""
    while True:
        time.sleep(0.05)


def hangs_on_narrow_layers(x, q):
    """Q̂' = 1 on the config check's unit quantizer (m = 1), never returns on conv2 and conv3 (m ≈ 0.1):
    the model-build check in the job must give up after its time limit."""
    while q.m < 0.5:
        time.sleep(0.05)
    return torch.ones_like(x)


def not_elementwise_on_kernels(x, q):
    """One value per row: the right shape for the check's vector, the wrong one for a 4-D conv kernel."""
    return torch.ones(x.shape[0], dtype=x.dtype)


def not_elementwise_on_conv_kernels(x, q):
    """One value per output channel on a real conv kernel (its last dimension > 1), elementwise elsewhere:
    passes both checks, and only training's backward pass meets the wrong shape."""
    if x.dim() == 4 and x.shape[-1] > 1:
        return torch.ones(x.shape[0], dtype=x.dtype)
    return torch.ones_like(x)


def nan_on_conv_kernels(x, q):
    """Q̂' = 1, but NaN on a real conv kernel (its last dimension > 1): passes both checks, and training's
    backward pass must blame the estimator, not the learning rate."""
    if x.dim() == 4 and x.shape[-1] > 1:
        return torch.full_like(x, float("nan"))
    return torch.ones_like(x)
