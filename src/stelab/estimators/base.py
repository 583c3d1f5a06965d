"""The gradient-estimator interface: Q̂' (and Q̂), its support, and checked parameters.

An estimator replaces the quantizer's zero-almost-everywhere derivative Q'(x) by a surrogate
derivative Q̂'(x) in the backward pass (paper A, arXiv 2405.05171, §2 and eq. 2–3); the forward
pass stays Q (:mod:`stelab.quantizers`). The metadata here (support, kinks, the cyclical flag of
§5.1) is what the weight map M of eq. 4 and the constants of Theorem 5.1 need.

Every numeric parameter of a registry estimator has one allowed interval, declared once in the
class's :attr:`Estimator.parameter_ranges` and checked when the estimator is built, so
``htge`` with ``k0 = -1`` fails at once with ``htge: k0 must be > 0, got -1``.
"""

from __future__ import annotations

import abc
import math
import numbers
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..quantizers import UniformQuantizer


@dataclass(frozen=True)
class ParameterRange:
    """An interval of allowed finite real values for one estimator parameter."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = True
    high_open: bool = True

    def contains(self, value) -> bool:
        """True for a finite real number (not a bool) inside the interval."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        if math.isinf(self.low) and math.isinf(self.high):
            return "a finite number"
        if math.isinf(self.high):
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if math.isinf(self.low):
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


#: (0, ∞): sharpness, temperature, scale parameters.
POSITIVE = ParameterRange(low=0.0)
#: (−∞, ∞): positions on the weight axis.
FINITE = ParameterRange()
#: (0, 1): DSQ's α_dsq.
UNIT_INTERVAL = ParameterRange(low=0.0, high=1.0)


def show_value(value) -> str:
    """A parameter value as an error message shows it: numbers with %g, anything else as repr."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:g}"
    return repr(value)


@dataclass(frozen=True)
class Estimator(abc.ABC):
    """Base class: Q̂' (``grad``), optionally Q̂ (``value``), and metadata used by the M-transform.

    Subclasses implement :meth:`grad` and, where it exists, :meth:`value`, and declare the
    allowed interval of each numeric parameter in :attr:`parameter_ranges`.
    """

    name: str = field(default="", init=False)
    #: Q̂' is the same on every inner bin (paper A §5.1, "cyclical").
    cyclical: bool = field(default=True, init=False)
    #: parameter name → allowed interval; a parameter left at ``None`` is not checked.
    parameter_ranges: ClassVar[dict[str, ParameterRange]] = {}

    def __post_init__(self):
        self.check_parameters()

    def check_parameters(self) -> None:
        """Raise ValueError ``<name>: <parameter> must be <range>, got <value>`` for the first bad parameter."""
        for key, allowed in self.parameter_ranges.items():
            value = getattr(self, key)
            if value is not None and not allowed.contains(value):
                raise ValueError(f"{self.name}: {key} must be {allowed}, got {show_value(value)}")

    @abc.abstractmethod
    def grad(self, x: torch.Tensor, q: UniformQuantizer) -> torch.Tensor:
        """Q̂'(x) for a latent-weight tensor x in a layer quantized by q."""

    def value(self, x: torch.Tensor, q: UniformQuantizer) -> torch.Tensor | None:
        """Q̂(x), or ``None`` when the estimator has no closed-form antiderivative."""
        return None

    def backward(self, grad_out: torch.Tensor, x: torch.Tensor, q: UniformQuantizer) -> torch.Tensor:
        """The chain rule through Q̂: grad_out · Q̂'(x) (paper A eq. 2–3)."""
        return grad_out * self.grad(x, q).to(grad_out.dtype)

    def support(self, q: UniformQuantizer) -> tuple[float, float]:
        """Interval outside which Q̂' = 0 (±inf when Q̂' > 0 everywhere)."""
        return -math.inf, math.inf

    def kinks(self, q: UniformQuantizer) -> tuple[float, ...]:
        """Points where Q̂' is not smooth (quadrature splits its panels there)."""
        return tuple(q.levels)

    def at_epoch(self, epoch: int, epochs: int) -> Estimator:
        """The estimator used during ``epoch`` (0-based) of ``epochs``; only EDE is scheduled."""
        return self

    def params(self) -> dict:
        """Plain-data parameters (for tables, JSON and checkpoints)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("name", "cyclical")}

    def describe(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params().items() if v is not None)
        return f"{self.name}({p})" if p else self.name
