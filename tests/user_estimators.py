"""A user-defined estimator for the tests: plugs in through a dotted path in the config."""

import math

import torch


def raised_cosine(x, q, depth=0.5):
    """Q̂'(x) = 1 − depth·cos(2π(x − τ_0)/Δ): positive, cyclical, dips at every threshold."""
    tau0 = float(q.thresholds[0])
    return 1.0 - depth * torch.cos(2 * math.pi * (x - tau0) / q.delta)


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
