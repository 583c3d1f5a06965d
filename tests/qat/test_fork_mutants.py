"""Fork cases the mutation run of issue 17 found untested (``tests/mutation/run.sh qat_fork``).

``ste_lr_scope: all`` with a single quantized layer: the float parameters' learning rate is scaled
by that layer's α (paper A eq. 4; ``test_fork.ALPHA`` in closed form for the HTGE, k0 = 5.5, 2 bits),
there being no other α to compare it with.
"""

import pytest

from stelab.qat.checkpoints import init_checkpoint, load_into
from stelab.qat.fork import fork
from stelab.qat.loop import train
from stelab.qat.models import quantized_layers
from stelab.qat.settings import make_run

from helpers import tiny_data
from test_fork import ALPHA, HTGE

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ste_lr_scope_all_with_one_quantized_layer_scales_every_parameter_by_its_alpha():
    run = make_run(HTGE, 64, optimizer="momentum", epochs=1, batch_size=32, lr=1e-2,
                   quantize={"bits": 2, "layout": "range", "params": ["conv1.weight"]})
    pre = train(init_checkpoint(run), tiny_data(n_train=64, n_test=16), stop_step=1, device="cpu")
    model, opt = load_into(pre)
    assert list(quantized_layers(model)) == ["conv1.weight"] and len(opt.param_groups) > 1
    branch = fork(pre, "ste", ste_lr_scope="all")
    _, opt = load_into(branch)
    scales = {g["name"]: g["lr_scale"] for g in opt.param_groups}
    assert set(branch["run"].lr_scale) == set(scales)
    for name, scale in scales.items():
        assert scale == pytest.approx(ALPHA, rel=1e-9), name
        assert scale == scales["conv1.weight"], name  # the one layer's α, bit for bit
        assert branch["run"].lr_scale[name] == scale, name
