"""The two Ē normalisations (paper A, arXiv 2405.05171, §6.2; the authors' code) and the path length."""

import math

import pytest
import torch
from helpers import tiny_data
from torch import nn

from stelab.qat.checkpoints import init_checkpoint
from stelab.qat.loop import train
from stelab.qat.metrics import PathLength, pair_metrics
from stelab.qat.models import quantize_parameters, quantized_layers
from stelab.qat.settings import make_run
from stelab.quantizers import UniformQuantizer

pytestmark = pytest.mark.usefixtures("one_thread")


def test_both_normalisations_on_a_hand_computed_pair():
    # layer a: m = 1, |Δ| = 0.2, 0; layer b: m = 0.5, |Δ| = 0.1; 2-bit thresholds at 0, ±2m/3
    qs = {"a": UniformQuantizer(2, 1.0, "range"), "b": UniformQuantizer(2, 0.5, "range")}
    wa = {"a": torch.tensor([0.1, 0.4]), "b": torch.tensor([0.05])}
    wb = {"a": torch.tensor([0.3, 0.4]), "b": torch.tensor([-0.05])}
    out = pair_metrics(wa, wb, qs, path_b=8.0)
    # Ē: mean of |Δ|/(2m) = (0.1 + 0 + 0.1)/3 → 6.667 %
    assert out["E_bar"] == pytest.approx(100 * 0.2 / 3)
    # authors: Σ|Δ|/m = 0.2 + 0 + 0.2 = 0.4, over a path of 8 → 5 %
    assert out["E_bar_path"] == pytest.approx(5.0)
    assert out["agreement"] == pytest.approx(100 * 2 / 3)  # 0.05 and −0.05 sit on either side of 0
    assert out["n_weights"] == 3
    assert math.isnan(pair_metrics(wa, wb, qs)["E_bar_path"])
    assert math.isnan(pair_metrics(wa, wb, qs, path_b=0.0)["E_bar_path"])


def _linear_layers():
    lin = nn.Linear(2, 1, bias=False)  # fan_in 2: m = sqrt(6/2) = sqrt(3)
    quantize_parameters(lin, ["weight"], 2)
    return lin, quantized_layers(lin)


def test_path_length_sums_absolute_steps_over_the_range_half_width():
    lin, layers = _linear_layers()
    w = layers["weight"][0]
    with torch.no_grad():
        w.copy_(torch.tensor([[0.0, 0.0]]))
    path = PathLength(layers)
    path.mark(0)
    for target in ([0.1, -0.2], [0.0, -0.2]):  # |Δ| sums: 0.3, then 0.1
        path.before_step()
        with torch.no_grad():
            w.copy_(torch.tensor([target]))
        path.after_step()
    path.mark(2)
    assert path.total == pytest.approx(0.4 / math.sqrt(3))
    state = path.state()
    assert state["steps"] == [0, 2] and state["values"] == [0.0, pytest.approx(0.4 / math.sqrt(3))]
    resumed = PathLength(layers, state)
    resumed.before_step()
    with torch.no_grad():
        w.copy_(torch.tensor([[0.5, -0.2]]))
    resumed.after_step()
    assert resumed.total == pytest.approx(0.9 / math.sqrt(3))


def _run(**kw):
    return make_run({"name": "htge", "k0": 5.5}, 256, optimizer="momentum", epochs=1, batch_size=64, lr=1e-2,
                    track_every=1, **kw)


def test_loop_path_length_matches_the_snapshots_and_survives_a_resume():
    data = tiny_data()
    full = train(init_checkpoint(_run()), data, device="cpu")
    snaps = full["snapshots"]
    m = {n: (pq.quantizer.representable_range[1] - pq.quantizer.representable_range[0]) / 2
         for n, (_, pq) in quantized_layers(_model_of(full)).items()}
    by_hand = sum(float((ws[i + 1].double() - ws[i].double()).abs().sum()) / m[n]
                  for n, ws in snaps["weights"].items() for i in range(len(ws) - 1))
    assert snaps["steps"] == [0, 1, 2, 3, 4]
    assert full["path_length"]["total"] == pytest.approx(by_hand, rel=1e-6)
    assert full["path_length"]["steps"] == [0, 1, 2, 3, 4]
    half = train(init_checkpoint(_run()), data, stop_step=2, device="cpu")
    resumed = train(half, data, device="cpu")
    assert resumed["path_length"] == full["path_length"]


def test_weight_decay_shrinks_the_weights_it_is_applied_to():
    data = tiny_data()
    plain = train(init_checkpoint(_run()), data, device="cpu")
    decayed = train(init_checkpoint(_run(weight_decay=0.5)), data, device="cpu")
    assert plain["model"]["fc.weight"].norm() > decayed["model"]["fc.weight"].norm()
    assert _run(weight_decay=0.5).weight_decay == 0.5 and _run().weight_decay == 0.0


def _model_of(ckpt):
    from stelab.qat.checkpoints import build

    model, _ = build(ckpt["run"])
    return model
