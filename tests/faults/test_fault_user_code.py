"""User code a config names: its checks are bounded in time, its faults are blamed on it, and its
source is part of the identity of every job that runs it (all routes: constants, qat.estimator,
qat.extra_bits, theory maps and estimators)."""

import copy
import time

import pytest
import torch
from fault_chain import Chain, assert_nothing_complete, qat_json

from stelab.config import ConfigError, user_code, validate_config
from stelab.config.bounded import TIMEOUT_ENV

#: a time limit the tests can wait for; the child still has to start Python and import torch
LIMIT_S = "20"


def _user_module(folder, name: str, body: str):
    path = folder / f"{name}.py"
    path.write_text("import torch\n\n\n" + body)
    return path


def test_estimator_that_never_returns_stops_the_config_check_naming_the_key(smoke_cfg, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, LIMIT_S)
    cfg = copy.deepcopy(smoke_cfg)
    cfg["constants"]["estimators"]["stuck"] = {"name": "fault_estimators:never_returns"}
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"config key constants\.estimators\.stuck: its check did not finish "
                                          r"within 20 s"):
        validate_config(cfg)
    assert time.monotonic() - start < 60


def test_module_whose_import_never_returns_names_the_key(smoke_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, LIMIT_S)
    _user_module(tmp_path, "stuck_on_import", "import time\nwhile True:\n    time.sleep(0.05)\n\n\n"
                                              "def grad(x, q):\n    return torch.ones_like(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = copy.deepcopy(smoke_cfg)
    cfg["qat"]["estimator"] = "stuck_on_import:grad"
    with pytest.raises(ConfigError, match=r"config key qat\.estimator: its check did not finish"):
        validate_config(cfg)


def test_theory_map_that_never_returns_names_the_experiment(smoke_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, LIMIT_S)
    _user_module(tmp_path, "stuck_map", "import time\n\n\ndef h(u):\n    while True:\n        time.sleep(0.05)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = copy.deepcopy(smoke_cfg)
    cfg["theory"]["experiments"]["variants"]["cases"]["mine"] = {"input_map": {"kind": "callable",
                                                                               "path": "stuck_map:h"}}
    with pytest.raises(ConfigError, match=r"config key theory\.experiments\.variants[\w.]*: its check did not "
                                          r"finish"):
        validate_config(cfg)


def test_estimator_that_kills_its_process_names_the_key(smoke_cfg, tmp_path, monkeypatch):
    _user_module(tmp_path, "exits", "import os\n\n\ndef grad(x, q):\n    os._exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = copy.deepcopy(smoke_cfg)
    cfg["constants"]["estimators"]["gone"] = {"name": "exits:grad"}
    with pytest.raises(ConfigError, match=r"config key constants\.estimators\.gone: its check crashed \(exit 3\)"):
        validate_config(cfg)


def test_check_of_a_real_layer_that_never_returns_stops_the_job(tmp_path, mnist, monkeypatch, capsys):
    """Passes the config check (m = 1), hangs on conv2's range: the model-build check gives up, naming the key."""
    monkeypatch.setenv(TIMEOUT_ENV, "25")
    chain = Chain(tmp_path, mnist, qat_json(estimator="fault_estimators:hangs_on_narrow_layers"))
    assert chain.pretrain() == 2
    err = capsys.readouterr().err
    assert "qat.estimator (or the qat.extra_bits entry for 2 bits): parameter conv2.weight" in err
    assert "did not return within 25 s" in err
    assert_nothing_complete(chain.pre, chain.pre_ckpt)


def test_estimator_not_elementwise_on_kernels_fails_the_config_check(smoke_cfg):
    cfg = copy.deepcopy(smoke_cfg)
    cfg["constants"]["estimators"]["rows"] = {"name": "fault_estimators:not_elementwise_on_kernels"}
    with pytest.raises(ConfigError, match=r"config key constants\.estimators\.rows: .*returned shape \(\d+,\) for "
                                          r"an input of shape \(\d+, 1, 1, 1\); it must act elementwise"):
        validate_config(cfg)


@pytest.mark.parametrize("estimator, message", [
    ("not_elementwise_on_conv_kernels", "it must act elementwise"),
    ("nan_on_conv_kernels", "Q̂' is not finite; this is the estimator's output, not a divergence"),
], ids=["wrong shape", "NaN"])
def test_estimator_fault_in_training_is_blamed_on_the_estimator(tmp_path, mnist, capsys, estimator, message):
    chain = Chain(tmp_path, mnist, qat_json(estimator=f"fault_estimators:{estimator}"))
    assert chain.pretrain() == 2
    err = capsys.readouterr().err
    assert f"estimator fault_estimators:{estimator}" in err and ", 3, 3) (2-bit" in err
    assert message in err and "qat.optimizers" not in err
    assert_nothing_complete(chain.pre, chain.pre_ckpt)


ROUTES = {
    "constants.estimators.mine.name": lambda cfg, p: cfg["constants"]["estimators"].update(mine={"name": p}),
    "qat.estimator": lambda cfg, p: cfg["qat"].update(estimator=f"{p},kind=grad"),
    "qat.extra_bits[0].estimator": lambda cfg, p: cfg["qat"].update(extra_bits=[{"bits": 4, "estimator": {"name": p}}]),
    "theory.model.weight_map.path": lambda cfg, p: cfg["theory"]["model"].update(
        weight_map={"kind": "callable", "path": p}),
    "theory.experiments.bridge.estimator": lambda cfg, p: cfg["theory"]["experiments"]["bridge"].update(estimator=p),
    "theory surrogate": lambda cfg, p: cfg["theory"]["experiments"]["variants"]["cases"].update(
        mine={"surrogate": {"estimator": {"name": p}}}),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_every_route_to_user_code_carries_its_source_digest(smoke_cfg, tmp_path, monkeypatch, route):
    """The digest that rule params and job identities hold changes with the module's source, by every route."""
    module = _user_module(tmp_path, f"route_{abs(hash(route))}", "def grad(x, q=None):\n    return x * 0 + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = copy.deepcopy(smoke_cfg)
    ROUTES[route](cfg, f"{module.stem}:grad")
    before = user_code(cfg)
    assert list(before) == [f"{module.stem}:grad"] and before[f"{module.stem}:grad"].startswith("sha256:")
    module.write_text(module.read_text() + "\n# edited\n")
    assert user_code(cfg)[f"{module.stem}:grad"] != before[f"{module.stem}:grad"]
    assert user_code(smoke_cfg) == {}


def test_edited_user_estimator_discards_the_resume_checkpoint(tmp_path, mnist, monkeypatch, capsys):
    from fault_chain import Killed, kill_after_checkpoints

    module = _user_module(tmp_path, "editable_est", "def grad(x, q):\n    return torch.ones_like(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    chain = Chain(tmp_path / "chain", mnist, qat_json(estimator="editable_est:grad"))
    with monkeypatch.context() as m:
        kill_after_checkpoints(m, 1)
        with pytest.raises(Killed):
            chain.pretrain()
    module.write_text(module.read_text().replace("torch.ones_like(x)", "torch.full_like(x, 0.5)"))
    capsys.readouterr()
    assert chain.pretrain() == 0
    out = capsys.readouterr().out
    assert "discarding resume checkpoint" in out and "code: " in out
    assert torch.load(chain.pre, weights_only=True)["identity"]["code"]["editable_est:grad"].startswith("sha256:")
