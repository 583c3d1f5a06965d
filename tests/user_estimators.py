"""User-defined estimators for the tests: they plug in through a dotted path in the config.

The last group is deliberately broken (NaN, inf, negative, zero on a bin, not elementwise, outside
autograd) to exercise :func:`stelab.estimators.validate_estimator` and the constants' checks.
"""

import math

import numpy as np
import torch


def raised_cosine(x, q, depth=0.5):
    """Q̂'(x) = 1 − depth·cos(2π(x − τ_0)/Δ): positive, cyclical, dips at every threshold."""
    tau0 = float(q.thresholds[0])
    return 1.0 - depth * torch.cos(2 * math.pi * (x - tau0) / q.delta)


def triangle_wave(x, q, depth=0.5):
    """Q̂'(x) = 1 − depth + 2·depth·(½ − |φ − ½|), φ = (x − τ_0)/Δ mod 1: 1 − depth at every threshold (φ = 0),
    1 at every level (φ = ½), linear in between; cyclical, with real kinks at the levels and thresholds."""
    phase = (x - float(q.thresholds[0])) / q.delta
    phase = phase - torch.floor(phase)
    return 1.0 - depth + 2.0 * depth * (0.5 - (phase - 0.5).abs())


def soft_staircase(x, q, sharpness=3.0):
    """Q̂(x): a smooth staircase through the levels; autograd supplies Q̂'."""
    u = (x - q.offset) / q.delta
    cell = torch.floor(u)
    s = u - cell - 0.5
    return q.offset + q.delta * (cell + 0.5 + 0.5 * torch.tanh(sharpness * s) / math.tanh(sharpness / 2))


def step_dip(x, q):
    """Q̂' with a jump (0.5 on the middle half of each bin, 1 elsewhere): not Lipschitz."""
    u = (x - float(q.thresholds[0])) / q.delta
    phase = u - torch.floor(u)
    return torch.where((phase > 0.25) & (phase < 0.75), 0.5 * torch.ones_like(x), torch.ones_like(x))


def nan_inside(x, q):
    """Q̂' = 1 except NaN near w = 0: must be rejected, not turned into α = 1."""
    return torch.where((x > -0.1 * q.m) & (x < 0.1 * q.m), torch.full_like(x, math.nan), torch.ones_like(x))


def inf_at_threshold(x, q):
    """Q̂' = 1/|x − τ_0|: infinite at the first threshold."""
    return 1.0 / (x - float(q.thresholds[0])).abs()


def negative_dip(x, q):
    """Q̂' = 0.5 + cos(2π(x − τ_0)/Δ): negative around every level."""
    return 0.5 + torch.cos(2 * math.pi * (x - float(q.thresholds[0])) / q.delta)


def zero_on_cells(x, q):
    """Q̂' = 0 on the middle quarter of every bin, 1 elsewhere: 1/Q̂' is not integrable over a bin."""
    u = (x - float(q.thresholds[0])) / q.delta
    phase = u - torch.floor(u)
    return torch.where((phase > 0.375) & (phase < 0.625), torch.zeros_like(x), torch.ones_like(x))


def scalar_one(x, q):
    """Returns a Python float instead of a tensor of Q̂' values: not elementwise."""
    return 1.0


def nan_between_grid_points(x, q):
    """Q̂' = 1 except NaN within 1e-12 of w_min + (w_max − w_min)/20000, a point of the constants' grid only."""
    w_min, w_max = q.representable_range
    spot = w_min + (w_max - w_min) / 20000
    return torch.where((x - spot).abs() < 1e-12, torch.full_like(x, math.nan), torch.ones_like(x))


def outside_autograd(x, q, depth=0.5):
    """raised_cosine computed in NumPy: right values, but no graph for Q̂''."""
    tau0 = float(q.thresholds[0])
    values = 1.0 - depth * np.cos(2 * math.pi * (x.detach().cpu().numpy() - tau0) / q.delta)
    return torch.as_tensor(values)


def zero_outside(x, q):
    """Q̂' = 1 on the representable range, 0 beyond: a user estimator claims the whole line, so invalid."""
    w_min, w_max = q.representable_range
    return ((x >= w_min) & (x <= w_max)).to(x.dtype)


def mirrored(x, q):
    """Q̂(x) = −x (``kind: value``): Q̂' = −1 everywhere, the sign-flipped STE of paper A App. G."""
    return -x
