"""The fork's learning-rate scope, its argument checks, _fix_bins and what the branch checkpoint carries.

α is paper A's eq. 4 for the HTGE (``test_fork.ALPHA``, written out in closed form there); the
branches are described in ``stelab.qat.fork``'s docstring: ``ste_lr_scope: all`` scales every
parameter's learning rate by α (SGD / momentum only: Adam keeps η), ``lrtweak`` multiplies the
learning-rate factor by ``lr_tweak``.
"""

import dataclasses

import pytest
import torch

from stelab.estimators import estimator_spec, get_estimator
from stelab.qat.checkpoints import load_into
from stelab.qat.fork import _fix_bins, fork
from stelab.qat.models import quantized_layers
from stelab.quantizers import UniformQuantizer

from test_fork import ALPHA, pretrained

pytestmark = pytest.mark.usefixtures("one_thread")


def groups(ckpt) -> dict:
    _, opt = load_into(ckpt)
    return {g["name"]: g["lr_scale"] for g in opt.param_groups}


def quantized_names(ckpt) -> set:
    return set(quantized_layers(load_into(ckpt)[0]))


def test_ste_lr_scope_all_scales_every_parameter_for_sgd_and_none_for_adam():
    pre = pretrained("momentum", steps=2)
    names = quantized_names(pre)
    assert names and len(groups(pre)) > len(names)  # some float parameters too
    everything = fork(pre, "ste", ste_lr_scope="all")
    for name, scale in groups(everything).items():
        assert scale == pytest.approx(ALPHA, rel=1e-9), name
        assert everything["run"].lr_scale[name] == pytest.approx(ALPHA, rel=1e-9), name
    quantized = fork(pre, "ste")  # the default scope
    for name, scale in groups(quantized).items():
        assert scale == (pytest.approx(ALPHA, rel=1e-9) if name in names else 1.0), name
    assert set(quantized["run"].lr_scale) == names
    adam = fork(pretrained("adam", steps=2, lr=1e-3), "ste", ste_lr_scope="all")
    assert set(groups(adam).values()) == {1.0} and adam["run"].lr_scale == {}


def test_alpha_multiplies_learning_rate_scales_already_in_the_run():
    """A Q̂-net run with lr_scale 2 on every parameter: the STE-net's scale is 2α where α applies."""
    pre = pretrained("momentum", steps=1)
    names = quantized_names(pre)
    pre["run"] = dataclasses.replace(pre["run"], lr_scale={n: 2.0 for n in groups(pre)})
    for scope in ("quantized", "all"):
        scales = fork(pre, "ste", ste_lr_scope=scope)["run"].lr_scale
        for name, scale in scales.items():
            scaled = scope == "all" or name in names
            assert scale == pytest.approx(2 * ALPHA if scaled else 2.0, rel=1e-9), (scope, name)


def test_ste_lr_scope_all_refuses_layers_with_different_alphas():
    """One quantized layer with HTGE k0 = 3 (another α): α·η for the float parameters is ambiguous."""
    pre = pretrained("momentum", steps=1)
    names = sorted(quantized_names(pre))
    specs = {n: estimator_spec(get_estimator({"name": "htge", "k0": 3.0 if i == 0 else 5.5}))
             for i, n in enumerate(names)}
    pre["run"] = dataclasses.replace(pre["run"], estimators=specs)
    with pytest.raises(ValueError, match=r"'all' needs one α for every quantized layer, got 0\.\d+ to 0\.\d+$"):
        fork(pre, "ste", ste_lr_scope="all")
    per_layer = groups(fork(pre, "ste"))
    assert per_layer[names[0]] != pytest.approx(per_layer[names[1]], rel=1e-3)
    assert per_layer[names[1]] == pytest.approx(ALPHA, rel=1e-9)


def test_fork_arguments_are_checked():
    pre = pretrained("momentum", steps=1)
    with pytest.raises(ValueError, match=r"^fork: variant 'bogus' is not one of \('qhat', 'ste', 'lrtweak', "
                                         r"'unadjusted'\)$"):
        fork(pre, "bogus")
    with pytest.raises(ValueError, match=r"^qat.ste_lr_scope must be one of \('quantized', 'all'\), got 'some'$"):
        fork(pre, "ste", ste_lr_scope="some")


def test_lrtweak_multiplies_the_lr_factor_and_the_branch_carries_the_run():
    pre = pretrained("momentum", steps=3)
    pre["run"] = dataclasses.replace(pre["run"], lr_factor=2.0)
    tweak = fork(pre, "lrtweak", lr_tweak=1.5)
    assert tweak["run"].lr_factor == 3.0 and tweak["run"].variant == "lrtweak" and tweak["run"].fork_step == 3
    assert fork(pre, "ste")["run"].lr_factor == 2.0 and fork(pre, "qhat")["run"].lr_factor == 2.0
    ste = fork(pre, "ste")
    for name in quantized_names(pre):
        assert ste["run"].qhat_estimators[name]["name"] == "htge"
        assert ste["run"].estimators[name]["name"] == "pwl"
        assert tweak["run"].estimators[name]["name"] == "htge"
    assert ste["step"] == 3 and ste["fit"] == pre["fit"] and ste["history"] == pre["history"]
    assert ste["history"] is not pre["history"]
    del pre["fit"]
    assert fork(pre, "qhat")["fit"] == (0.0, 0)
    model, _ = load_into(ste)
    for name, tensor in model.state_dict().items():
        assert torch.equal(ste["model"][name], tensor), name


def test_fix_bins_keeps_the_original_where_the_mapped_weight_changes_level():
    q = UniformQuantizer(2, 1.0)  # thresholds −2/3, 0, 2/3
    original = torch.tensor([0.1, 0.5, -0.7, 0.9])
    mapped = torch.tensor([-0.1, 0.6, -0.6, 0.95])  # first and third cross a threshold
    out = _fix_bins(mapped, original, q)
    assert torch.equal(out, torch.tensor([0.1, 0.6, -0.7, 0.95]))
    assert torch.equal(q(out), q(original))
