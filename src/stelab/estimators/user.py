"""User-defined gradient estimators, named in the config by a dotted path ``"package.module:function"``.

The callable receives ``(x, quantizer, **params)`` and returns Q̂'(x) (``kind: grad``, the
default) or Q̂(x) (``kind: value``, differentiated by autograd). Such an estimator then works
everywhere a registry estimator does (training, the weight map M of paper A eq. 4, the constants
of Theorem 5.1, plots) with no other code change. Its support is taken to be the whole line, so
:func:`stelab.estimators.validate_estimator` asks for Q̂' > 0 everywhere it looks.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import torch

from .base import Estimator

KINDS = ("grad", "value")


def is_dotted_path(name: str) -> bool:
    return ":" in name or "." in name


def load_callable(path: str):
    """Import ``"pkg.mod:attr"`` (or ``"pkg.mod.attr"``) and return the attribute."""
    module_name, _, attr = path.rpartition(":") if ":" in path else path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"estimator {path!r}: expected a dotted path 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"estimator {path!r}: cannot import module {module_name!r} ({exc})") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"estimator {path!r}: module {module_name!r} has no attribute {attr!r}") from None


@dataclass(frozen=True)
class UserEstimator(Estimator):
    """An estimator given by a user callable ``fn(x, quantizer, **params)``.

    ``kind="grad"``: fn returns Q̂'(x). ``kind="value"``: fn returns Q̂(x) and Q̂' comes from autograd.
    """

    path: str = ""
    kind: str = "grad"
    options: tuple = ()
    name: str = field(default="user", init=False)
    cyclical: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"estimator {self.path}: kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "name", self.path)
        load_callable(self.path)  # resolve now so a bad path fails at config time

    @property
    def fn(self):
        return load_callable(self.path)

    def grad(self, x, q):
        """Q̂'(x). For ``kind: value`` it is dQ̂/dx by autograd; when x requires grad and grad mode is on
        (not inside a backward pass) the result is itself differentiable in x, so Q̂'' and the
        Lipschitz constant L′ of Theorem 5.1 are exact too."""
        kwargs = dict(self.options)
        if self.kind == "grad":
            return torch.as_tensor(self.fn(x, q, **kwargs), dtype=x.dtype, device=x.device)
        differentiable = x.requires_grad and torch.is_grad_enabled()
        with torch.enable_grad():
            xr = x if differentiable else x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.fn(xr, q, **kwargs).sum(), xr, create_graph=differentiable)
        return g

    def value(self, x, q):
        return self.fn(x, q, **dict(self.options)) if self.kind == "value" else None

    def params(self):
        return {"kind": self.kind, **dict(self.options)}
