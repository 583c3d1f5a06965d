"""The fork (paper A §6.1, Tables 1–2): weight map, optimiser-state map, lr, estimators; claims A and B."""

import math

import pytest
import torch
from helpers import tiny_data

from stelab.data.idx import load_mnist
from stelab.data.synthetic import write_synthetic_idx
from stelab.qat.checkpoints import init_checkpoint, load_into
from stelab.qat.fork import fork
from stelab.qat.inputs import prepare_data
from stelab.qat.loop import train
from stelab.qat.metrics import pair_metrics, weight_maps
from stelab.qat.models import quantized_layers
from stelab.qat.settings import make_run

pytestmark = pytest.mark.usefixtures("one_thread")

HTGE = {"name": "htge", "k0": 5.5}
T = 5.5 * 2 / 3  # t = kΔ = (k0/m)(2m/3) for 2 bits
ALPHA = T * T / (math.tanh(T / 2) * (T + math.sinh(T)))  # paper A eq. 4 for the HTGE in closed form (our derivation)


def htge_grad(w, m):
    """HTGE Q̂'(w) for 2 bits on [−m, m] (Pei et al. 2023), written out independently."""
    delta = 2 * m / 3
    u = (w.double() + m) / delta
    s = u - torch.floor(u) - 0.5
    g = (T / 2) / math.tanh(T / 2) / torch.cosh(T * s) ** 2
    return torch.where(w.abs() <= m, g, torch.zeros_like(g))


def pretrained(optimizer, steps=6, lr=1e-2):
    run = make_run(HTGE, 256, optimizer=optimizer, epochs=1, batch_size=32, lr=lr)
    return train(init_checkpoint(run), tiny_data(), stop_step=steps, device="cpu")


def layers(ckpt):
    model, opt = load_into(ckpt)
    return {n: (p, pq, opt.state.get(p, {}), g) for (n, (p, pq)), g in
            zip(quantized_layers(model).items(), [next(x for x in opt.param_groups if x["name"] == n)
                                                  for n in quantized_layers(model)])}


def test_ste_fork_sgd_momentum_maps_weights_buffer_and_lr():
    pre = pretrained("momentum")
    before, after = layers(pre), layers(fork(pre, "ste"))
    for name, (w0, pq, st0, _) in before.items():
        w1, pq1, st1, g1 = after[name]
        q = pq.quantizer
        assert torch.equal(q(w1), q(w0)), name  # Q(M(w)) == Q(w), every weight
        assert not torch.equal(w1, w0)
        dq = htge_grad(w0.detach(), q.m)
        b0 = st0["momentum_buffer"].double()
        expected = torch.where(dq > 0, b0 / dq, b0 / ALPHA)  # b → b/Q̂'(w); b/α where Q̂' = 0 (M' = 1)
        assert torch.allclose(st1["momentum_buffer"].double(), expected, rtol=1e-4, atol=1e-8)
        assert g1["lr_scale"] == pytest.approx(ALPHA, rel=1e-9)
        assert pq1.estimator.name == "pwl"
        assert pq1.estimator.lo == pytest.approx(-q.m) and pq1.estimator.hi == pytest.approx(q.m)  # M(±m) = ±m
    _, opt = load_into(fork(pre, "ste"))
    assert next(g for g in opt.param_groups if g["name"] == "conv1.bias")["lr_scale"] == 1.0
    assert next(g for g in opt.param_groups if g["name"] == "fc.weight")["lr_scale"] == 1.0


def test_ste_fork_adam_maps_moments_and_keeps_weights():
    pre = pretrained("adam", lr=1e-3)
    before, after = layers(pre), layers(fork(pre, "ste"))
    for name, (w0, pq, st0, _) in before.items():
        w1, _, st1, g1 = after[name]
        dq = htge_grad(w0.detach(), pq.quantizer.m)
        assert torch.equal(w1, w0)
        assert g1["lr_scale"] == 1.0
        inv = torch.where(dq > 0, 1 / dq, torch.ones_like(dq))  # moments kept where Q̂' = 0 (outside [−m, m])
        assert torch.allclose(st1["exp_avg"].double(), st0["exp_avg"].double() * inv, rtol=1e-4, atol=1e-10)
        assert torch.allclose(st1["exp_avg_sq"].double(), st0["exp_avg_sq"].double() * inv**2, rtol=1e-4, atol=1e-14)
        assert int(st1["step"]) == int(st0["step"]) == 6


def test_other_variants_and_schedule_position():
    pre = pretrained("momentum")
    for variant in ("qhat", "lrtweak", "unadjusted"):
        br = fork(pre, variant)
        assert br["step"] == 6 and br["run"].fork_step == 6
        for name, (w0, _, st0, _) in layers(pre).items():
            w1, pq1, st1, g1 = layers(br)[name]
            assert torch.equal(w1, w0)
            assert torch.equal(st1["momentum_buffer"], st0["momentum_buffer"])
            assert g1["lr_scale"] == 1.0
            assert pq1.estimator.name == ("pwl" if variant == "unadjusted" else "htge")
    assert fork(pre, "lrtweak")["run"].lr_factor == pytest.approx(1.01)
    with pytest.raises(ValueError, match="variant"):
        fork(pre, "bogus")


def test_fork_at_init_claims_a_and_b(tmp_path):
    """f = 0, very small lr, a few hundred steps: Ē(baseline) ≪ Ē(unadjusted) (B), ≈ Ē(lr-tweak) (A)."""
    write_synthetic_idx(tmp_path, 512, 64, seed=0)
    data = prepare_data(load_mnist(tmp_path))
    run = make_run(HTGE, 512, optimizer="momentum", epochs=10, batch_size=16, lr=3e-4, track_every=0)
    start = init_checkpoint(run)
    final = {v: train(fork(start, v), data, device="cpu") for v in ("qhat", "ste", "lrtweak", "unadjusted")}
    assert final["qhat"]["step"] == 320
    model, _ = load_into(final["qhat"])
    qs = {n: pq.quantizer for n, (_, pq) in quantized_layers(model).items()}
    w = {v: {n: p.detach() for n, (p, _) in quantized_layers(load_into(c)[0]).items()} for v, c in final.items()}
    maps = weight_maps(final["qhat"]["run"].estimators, qs)
    base = pair_metrics(w["qhat"], w["ste"], qs, maps)["E_bar"]
    tweak = pair_metrics(w["qhat"], w["lrtweak"], qs)["E_bar"]
    unadj = pair_metrics(w["qhat"], w["unadjusted"], qs)["E_bar"]
    assert base < 0.2 * unadj  # measured: 0.014 % vs 0.22 %
    assert base < 3 * tweak  # measured: 0.014 % vs 0.021 %
    assert 0 < base


def test_branch_snapshot_at_the_fork_holds_the_mapped_weights():
    pre = pretrained("momentum", steps=4)
    assert pre["snapshots"]["steps"] == [0, 4]
    branch = fork(pre, "ste")
    assert branch["snapshots"]["steps"] == [0]
    out = train(branch, tiny_data(), stop_step=5, device="cpu")
    assert out["snapshots"]["steps"] == [0, 4, 5]
    w_fork = {n: p.detach() for n, (p, _) in quantized_layers(load_into(branch)[0]).items()}
    assert torch.equal(out["snapshots"]["weights"]["conv2.weight"][1], w_fork["conv2.weight"])
