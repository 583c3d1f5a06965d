"""Models for quantization-aware training (paper A, arXiv 2405.05171, §6.1) and the mechanism
that quantizes their weights.

Any ``nn.Module`` can have chosen parameters quantized: :func:`quantize_parameters` registers a
:class:`QuantizeParam` parametrization on each selected parameter, so that the module sees
``Q(w)`` in its forward pass while the optimiser updates the latent weight ``w``; the backward
pass multiplies by the estimator's Q̂'(w) (paper A eq. 2–3, :func:`stelab.estimators.quantize`).
The same call quantizes the MNIST convnet here and a torchvision ResNet-50's conv kernels.

Each quantized parameter gets its own quantizer with range half-width
``m = sqrt(6 / fan_in)`` (the He-uniform bound of its layer, paper A §6.1) and its own estimator
(per layer, because the clipped STE of App. G depends on the layer's range).

Parameter names used throughout (config selection, estimators per layer, metrics, snapshots)
are the *plain* names a module would have without parametrization, e.g. ``conv1.weight``.
"""

from __future__ import annotations

import fnmatch
import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..estimators import Estimator, get_estimator, quantize
from ..quantizers import UniformQuantizer, he_uniform_bound
from .settings import DEFAULT_QUANTIZE, MNIST_MODEL, MODELS, RESNETS

#: every conv kernel of a torchvision ResNet (stem, blocks, downsample shortcuts); BN and fc stay float
RESNET_QUANTIZED = ("conv1.weight", "layer*.conv*.weight", "layer*.downsample.0.weight")


class QuantizeParam(nn.Module):
    """Parametrization ``w ↦ Q(w)`` with backward ``grad · Q̂'(w)``; estimator swappable in place."""

    def __init__(self, quantizer: UniformQuantizer, estimator: Estimator):
        super().__init__()
        self.quantizer = quantizer
        self.estimator = estimator

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        q = quantize(w, self.quantizer, self.estimator)
        # Q(w) in w's memory layout: a channels_last kernel with one input channel (conv1) would
        # otherwise come back NCHW-strided and switch its convolution, and all after it, to NCHW
        return q if q.stride() == w.stride() else torch.empty_like(w).copy_(q)

    def extra_repr(self) -> str:
        q = self.quantizer
        return f"bits={q.bits}, m={q.m:.4g}, layout={q.layout}, estimator={self.estimator.describe()}"


class MnistConvNet(nn.Module):
    """Chollet's MNIST convnet (paper A §6.1, model 1): Conv32-3 → ReLU → MaxPool2 → Conv64-3 → ReLU → MaxPool2 →
    Conv128-3 → ReLU → [MaxPool2, authors' code] → Flatten → Dense10 (logits).

    Each ReLU runs after its max-pool: ReLU is monotone, so relu(maxpool(x)) = maxpool(relu(x)) bit
    for bit, and the gradient reaches the same input (the pool's argmax when the maximum is
    positive, nothing otherwise); the ReLU and its backward then touch a quarter of the values.
    """

    def __init__(self, third_pool: bool = False, in_channels: int = 1, n_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 128, 3)
        self.third_pool = third_pool
        side = 1 if third_pool else 3
        self.fc = nn.Linear(128 * side * side, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(nn.functional.max_pool2d(self.conv1(x), 2))
        x = torch.relu(nn.functional.max_pool2d(self.conv2(x), 2))
        x = self.conv3(x)
        if self.third_pool:
            x = nn.functional.max_pool2d(x, 2)
        return self.fc(torch.flatten(torch.relu(x), 1))


def fan_in(weight: torch.Tensor) -> int:
    """Fan-in of a kernel: in_features (dense) or in_channels·kh·kw (conv)."""
    if weight.dim() < 2:
        raise ValueError(f"fan_in needs a kernel with >= 2 dims, got shape {tuple(weight.shape)}")
    return int(math.prod(weight.shape[1:]))


def he_uniform_(model: nn.Module, generator: torch.Generator) -> None:
    """He-uniform init U(−m, m), m = sqrt(6/fan_in), of every conv/dense kernel; biases zero (Keras)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                m = he_uniform_bound(fan_in(module.weight))
                module.weight.uniform_(-m, m, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()


def build_model(spec: dict | None, seed: int) -> nn.Module:
    """Build the float model named by ``spec["name"]``, initialised from its own stream ``seed``.

    The init stream is a ``torch.Generator`` seeded by ``seed`` alone; the data order uses a
    separate generator (:func:`stelab.data.order.epoch_permutation`), so the two never interact.
    """
    spec = dict(spec or {"name": MNIST_MODEL})
    name = spec.pop("name", MNIST_MODEL)
    if name == MNIST_MODEL:
        model = MnistConvNet(**spec)
        he_uniform_(model, torch.Generator().manual_seed(int(seed)))
        return model
    if name in RESNETS:  # resnet18: the same pipeline at a size a CPU test can afford
        import torchvision

        with torch.random.fork_rng(devices=[]):  # torchvision's own init, seeded, global RNG left untouched
            torch.manual_seed(int(seed))
            model = getattr(torchvision.models, name)(num_classes=spec.get("num_classes", 1000))
        # He-uniform kernels as in paper A §6.1, so every latent weight starts inside its layer's
        # representable range [−m, m] (torchvision's Kaiming-normal init leaves ~11 % outside,
        # where a vanishing Q̂' never moves them).
        he_uniform_(model, torch.Generator().manual_seed(int(seed)))
        return model
    allowed = ", ".join(map(repr, MODELS))
    raise ValueError(f"qat.model.name: unknown model {name!r}; allowed: {allowed}")


def select_parameters(model: nn.Module, patterns) -> list[str]:
    """Plain names of the parameters matching any glob in ``patterns`` (model order).

    Raises ValueError naming a pattern that matches nothing.
    """
    names = [n for n, _ in plain_named_parameters(model)]
    chosen = []
    for pat in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pat)]
        if not hits:
            raise ValueError(f"qat.quantize.params: pattern {pat!r} matches no parameter; available: {names}")
        chosen += [h for h in hits if h not in chosen]
    return [n for n in names if n in chosen]


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, attr = name.rpartition(".")
    return (model.get_submodule(path) if path else model), attr


def quantize_parameters(model: nn.Module, patterns, bits: int, layout: str = "range", estimator="ste") -> dict:
    """Quantize the parameters matching ``patterns`` in place; return {plain name: QuantizeParam}.

    Each parameter's range is m = sqrt(6/fan_in) of its module's kernel (biases use their
    layer's kernel); ``estimator`` is a spec or a {plain name: spec} mapping.
    """
    out = {}
    for name in select_parameters(model, patterns):
        module, attr = _owner(model, name)
        m = he_uniform_bound(fan_in(module.weight))
        spec = estimator.get(name) if isinstance(estimator, dict) and name in estimator else estimator
        pq = QuantizeParam(UniformQuantizer(int(bits), m, layout), get_estimator(spec))
        parametrize.register_parametrization(module, attr, pq, unsafe=True)
        out[name] = pq
    return out


def plain_named_parameters(model: nn.Module):
    """(plain name, latent parameter) pairs: ``conv1.weight`` instead of ``conv1.parametrizations.weight.original``."""
    for name, p in model.named_parameters():
        yield name.replace("parametrizations.", "").replace(".original", ""), p


def quantized_layers(model: nn.Module) -> dict:
    """{plain name: (latent parameter, QuantizeParam)} for every quantized parameter."""
    out = {}
    for module_name, module in model.named_modules():
        if parametrize.is_parametrized(module):
            for attr, plist in module.parametrizations.items():
                for pq in plist:
                    if isinstance(pq, QuantizeParam):
                        name = f"{module_name}.{attr}" if module_name else attr
                        out[name] = (plist.original, pq)
    return out


def set_estimators(model: nn.Module, estimators) -> None:
    """Replace the estimator of every quantized parameter (a spec, or {plain name: spec})."""
    for name, (_, pq) in quantized_layers(model).items():
        spec = estimators[name] if isinstance(estimators, dict) and "name" not in estimators else estimators
        pq.estimator = get_estimator(spec)


def build_quantized_model(model_spec: dict | None, quant_spec: dict, estimators, seed: int) -> nn.Module:
    """Float model from ``seed`` with ``quant_spec`` = {bits, layout, params} quantization applied."""
    model = build_model(model_spec, seed)
    quantize_parameters(
        model,
        quant_spec.get("params", DEFAULT_QUANTIZE["params"]),
        quant_spec["bits"],
        quant_spec.get("layout", DEFAULT_QUANTIZE["layout"]),
        estimators,
    )
    return model
