"""qat.amp bf16 checked through the activations' dtype: with ``amp: bf16`` every convolution and dense layer
computes in bfloat16 (training steps and evaluation), with ``amp: none`` in float32; weights, the quantized
weights Q(w) and the optimiser stay float32 either way (qat/device.py)."""

import pytest
import torch
from torch import nn

from helpers import tiny_data
from stelab.qat.checkpoints import init_checkpoint
from stelab.qat.loop import train
from stelab.qat.models import QuantizeParam
from stelab.qat.settings import make_run

pytestmark = pytest.mark.usefixtures("one_thread")


def _dtypes_seen(amp: str):
    """(output dtypes of every Conv2d/Linear forward, the trained float state) over 2 steps + evaluation."""
    seen = []

    def hook(module, args, output):
        for kind in (nn.Conv2d, nn.Linear, QuantizeParam):
            if isinstance(module, kind):
                seen.append((kind.__name__, args[0].dtype, output.dtype))

    run = make_run({"name": "htge", "k0": 5.5}, 64, optimizer="adam", epochs=1, batch_size=32, lr=1e-3, amp=amp,
                   eval_train_subset=16)
    handle = nn.modules.module.register_module_forward_hook(hook)
    try:
        final = train(init_checkpoint(run), tiny_data(n_train=64, n_test=16), device="cpu")
    finally:
        handle.remove()
    return seen, final


@pytest.mark.parametrize("amp, compute", [("bf16", torch.bfloat16), ("none", torch.float32)])
def test_layers_compute_in_the_configured_dtype(amp, compute):
    seen, final = _dtypes_seen(amp)
    layers = [(x, out) for kind, x, out in seen if kind in ("Conv2d", "Linear")]
    assert {kind for kind, _, _ in seen} == {"Conv2d", "Linear", "QuantizeParam"}
    assert {out for _, out in layers} == {compute}, seen[:6]
    assert len(layers) >= 4 * 2 + 4  # 2 training steps and the evaluations, 4 layers each
    # Q(w) is computed from, and returned as, float32 latent weights (autocast casts it at the layer)
    assert {(x, out) for kind, x, out in seen if kind == "QuantizeParam"} == {(torch.float32, torch.float32)}
    floats = [v for v in final["model"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float32 for v in floats)
    assert all(torch.isfinite(v).all() for v in floats)
    state = final["optimizer"]["state"]
    assert state and all(s["exp_avg"].dtype == torch.float32 for s in state.values())


def test_quantized_weights_stay_float32_under_bf16():
    """The quantizer sees the float32 latent weights: Q(w) is exact on the levels, not rounded to bf16."""
    from stelab.qat.checkpoints import load_into
    from stelab.qat.device import autocast
    from stelab.qat.models import quantized_layers

    run = make_run({"name": "htge", "k0": 5.5}, 64, epochs=1, batch_size=32, amp="bf16")
    model, _ = load_into(init_checkpoint(run), "cpu")
    with autocast(run, torch.device("cpu")):
        for _, (p, pq) in quantized_layers(model).items():
            qw = pq(p)
            assert qw.dtype == torch.float32
            assert torch.equal(qw, pq.quantizer(p.detach()))
