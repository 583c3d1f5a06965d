"""MNIST convnet, He-uniform init, and the parametrization that quantizes any module's parameters."""

import math

import pytest
import torch

from stelab.estimators import estimator_spec, get_estimator
from stelab.qat.models import (MnistConvNet, build_model, build_quantized_model, quantize_parameters,
                               quantized_layers, select_parameters, set_estimators)

HTGE = {"name": "htge", "k0": 5.5}


def test_convnet_shapes():
    x = torch.zeros(3, 1, 28, 28)
    assert MnistConvNet()(x).shape == (3, 10)
    assert MnistConvNet().fc.in_features == 128 * 3 * 3  # 28→26→13→11→5→3
    assert MnistConvNet(third_pool=True).fc.in_features == 128  # one more pool: 3→1
    assert MnistConvNet(third_pool=True)(x).shape == (3, 10)


def test_he_uniform_init_bounds_and_variance():
    model = build_model({"name": "mnist_convnet"}, seed=0)
    for layer, fan_in in (("conv1", 9), ("conv2", 32 * 9), ("conv3", 64 * 9), ("fc", 1152)):
        w = getattr(model, layer).weight
        m = math.sqrt(6 / fan_in)
        assert w.abs().max() <= m
        assert w.abs().max() > 0.9 * m
        assert torch.all(getattr(model, layer).bias == 0)
    w3 = model.conv3.weight.detach()
    assert abs(float(w3.var()) - (math.sqrt(6 / 576) ** 2) / 3) < 0.03 * (6 / 576) / 3  # var of U(−m, m) = m²/3


def test_init_is_seeded_and_independent_of_global_rng():
    torch.manual_seed(123)
    a = build_model(None, 7).conv2.weight
    torch.manual_seed(999)
    b = build_model(None, 7).conv2.weight
    assert torch.equal(a, b)
    assert not torch.equal(a, build_model(None, 8).conv2.weight)


def test_default_quantizes_the_three_conv_kernels_only():
    model = build_quantized_model(None, {"bits": 2}, HTGE, seed=0)
    layers = quantized_layers(model)
    assert sorted(layers) == ["conv1.weight", "conv2.weight", "conv3.weight"]
    for latent, pq in layers.values():
        assert pq.quantizer.m == pytest.approx(math.sqrt(6 / (latent[0].numel())))
    assert not torch.nn.utils.parametrize.is_parametrized(model.fc)


def test_forward_uses_quantized_weights():
    model = build_quantized_model(None, {"bits": 2}, HTGE, seed=0)
    latent, _ = quantized_layers(model)["conv2.weight"]
    m = math.sqrt(6 / 288)
    seen = torch.unique(model.conv2.weight.detach())
    assert torch.allclose(seen.double(), torch.tensor([-m, -m / 3, m / 3, m], dtype=torch.float64), atol=1e-6)
    assert not torch.equal(model.conv2.weight, latent)


def test_backward_multiplies_by_the_estimator_derivative():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 28, 28)
    ste = build_quantized_model(None, {"bits": 2}, "ste", seed=0)
    htge = build_quantized_model(None, {"bits": 2}, HTGE, seed=0)
    for model in (ste, htge):
        model(x).square().sum().backward()
    w, _ = quantized_layers(htge)["conv1.weight"]
    m = math.sqrt(6 / 9)
    delta, t = 2 * m / 3, 5.5 / m * (2 * m / 3)
    u = (w.detach().double() + m) / delta
    s = u - torch.floor(u) - 0.5  # position relative to the cell's threshold, in units of Δ
    dq = (t / 2) / math.tanh(t / 2) / torch.cosh(t * s) ** 2  # HTGE Q̂' (Pei et al. 2023)
    g_ste = quantized_layers(ste)["conv1.weight"][0].grad.double()
    assert torch.allclose(w.grad.double(), g_ste * dq, rtol=1e-5, atol=1e-9)
    assert torch.equal(htge.conv1.bias.grad, ste.conv1.bias.grad)


def test_patterns_biases_and_errors():
    model = build_model(None, 0)
    assert select_parameters(model, ["conv*.weight", "conv1.bias"]) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv3.weight"]
    with pytest.raises(ValueError, match="nomatch"):
        select_parameters(model, ["nomatch*"])
    quantize_parameters(model, ["conv1.bias"], 2)
    _, pq = quantized_layers(model)["conv1.bias"]
    assert pq.quantizer.m == pytest.approx(math.sqrt(6 / 9))  # the layer's kernel fan-in


def test_set_estimators_and_spec_round_trip():
    model = build_quantized_model(None, {"bits": 2}, HTGE, seed=0)
    set_estimators(model, {n: {"name": "pwl", "lo": -0.5, "hi": 0.5} for n in quantized_layers(model)})
    est = quantized_layers(model)["conv3.weight"][1].estimator
    assert est.name == "pwl" and est.lo == -0.5
    assert estimator_spec(get_estimator(estimator_spec(est))) == {"name": "pwl", "lo": -0.5, "hi": 0.5}
    assert estimator_spec(get_estimator(HTGE)) == {"name": "htge", "k0": 5.5, "outside": "zero"}


def test_quantizes_a_torchvision_resnet():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(num_classes=10)
    chosen = quantize_parameters(model, ["conv1.weight", "layer*.conv*.weight"], 2, estimator=HTGE)
    assert len(chosen) == 1 + 16
    assert len(torch.unique(model.layer1[0].conv1.weight.detach())) <= 4
    model(torch.rand(2, 3, 32, 32)).sum().backward()
    assert quantized_layers(model)["layer1.0.conv1.weight"][0].grad is not None


def test_resnet50_build_is_seeded_and_leaves_the_global_rng_alone():
    pytest.importorskip("torchvision")
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    a = build_model({"name": "resnet50", "num_classes": 10}, seed=1)
    assert torch.equal(torch.rand(1), before)
    b = build_model({"name": "resnet50", "num_classes": 10}, seed=1)
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    chosen = quantize_parameters(a, ["conv1.weight", "layer*.conv*.weight", "layer*.downsample.0.weight"], 2)
    assert len(chosen) == 1 + 3 * (3 + 4 + 6 + 3) + 4  # every conv kernel; BN and fc stay float
