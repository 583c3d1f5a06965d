"""Run settings (paper A §6.1): the lists, the frozen run, its config builder and its checkpoint form."""

import dataclasses
import subprocess
import sys

import pytest
import torch

from stelab.qat import paper_values as pv
from stelab.qat import plots
from stelab.qat.checkpoints import init_checkpoint, load_checkpoint, save_checkpoint
from stelab.optimizers import OPTIMIZERS
from stelab.qat.settings import PAIRS, RUN_KEYS, VARIANTS, RunSettings, make_run, run_from_config

HTGE = {"name": "htge", "k0": 5.5}
QAT = {"estimator": HTGE, "optimizers": {"momentum": {"lr": 0.01}}}

#: a value different from the default for each run field a qat config key sets as it is
CONFIG_VALUES = {
    "model": {"name": "mnist_convnet", "third_pool": True},
    "quantize": {"bits": 3, "layout": "range", "params": ["conv2.weight"]},
    "epochs": 3, "batch_size": 16, "warmup_frac": 0.1, "track_every": 7, "pretrain_fraction": 0.5,
    "train_subset": 100, "val_subset": 50, "eval_train_subset": 20, "eval_train_all_at_end": False,
    "image_size": 64, "amp": "bf16",
    "channels_last": False, "deterministic": False, "cudnn_benchmark": True,
}


def test_settings_module_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from stelab.optimizers import OPTIMIZERS\nfrom stelab.qat.settings import RUN_KEYS, VARIANTS, RunSettings, run_from_config\n"
            "run = RunSettings(estimator={'name': 'ste'}, n_train=10)\n"
            "print(run.total_steps, 'torch' in sys.modules and sys.modules['torch'] is not None)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "False"]


def test_every_run_key_reaches_the_run_or_the_fork():
    base = run_from_config(QAT, "momentum", 0, 1000)
    for key, value in CONFIG_VALUES.items():
        run = run_from_config({**QAT, key: value}, "momentum", 0, 1000)
        assert getattr(run, key) == value != getattr(base, key), key
    # the other run keys are read by run_from_config (estimator, optimizers, extra_bits) or the fork
    assert set(RUN_KEYS) - set(CONFIG_VALUES) == {"estimator", "optimizers", "extra_bits", "lr_tweak", "ste_lr_scope"}
    other = {"threads": 8, "gpu": 1, "variants": {"momentum": ["qhat"]}, "lr_sweep": {"factors": [2]}, "seeds": 5}
    assert run_from_config({**QAT, **other}, "momentum", 0, 1000) == base


def test_run_is_frozen_and_derived_by_replace():
    run = make_run(HTGE, 256, optimizer="adam")
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.lr = 1.0
    branch = dataclasses.replace(run, variant="ste", fork_step=4)
    assert (branch.variant, branch.fork_step, run.variant, run.fork_step) == ("ste", 4, "qhat", 0)
    with pytest.raises(ValueError, match="qat.variant: 'bogus'"):
        dataclasses.replace(run, variant="bogus")


def test_invalid_settings_name_the_key():
    for fields, key in (({"optimizer": "rmsprop"}, "qat.optimizer"), ({"amp": "fp16"}, "qat.amp"),
                        ({"lr": 0.0}, "qat.lr"), ({"pretrain_fraction": 1.0}, "qat.pretrain_fraction")):
        with pytest.raises(ValueError, match=key):
            make_run(HTGE, 256, **fields)
    with pytest.raises(ValueError, match=r"unknown run keys \['learning_rate'\]"):
        make_run(HTGE, 256, learning_rate=0.1)


def test_dict_form_round_trips_and_rejects_unknown_or_missing_keys():
    run = make_run(HTGE, 256, optimizer="sgd", lr_scale={"conv1.weight": 0.5})
    plain = run.to_dict()
    assert plain["lr_scale"] == {"conv1.weight": 0.5} and plain["estimator"] == {"name": "htge", "k0": 5.5,
                                                                                  "outside": "zero"}
    assert RunSettings.from_dict(plain) == run
    plain["lr_scale"]["conv1.weight"] = 2.0  # a copy: the run is unchanged
    assert run.lr_scale == {"conv1.weight": 0.5}
    with pytest.raises(ValueError, match=r"unknown keys \['colour', 'wd'\]"):
        RunSettings.from_dict({**run.to_dict(), "wd": 0.1, "colour": "red"})
    without = {k: v for k, v in run.to_dict().items() if k != "n_train"}
    with pytest.raises(ValueError, match=r"missing keys \['n_train'\]"):
        RunSettings.from_dict(without)


def test_checkpoint_file_holds_the_run_as_a_plain_dict(tmp_path):
    run = make_run(HTGE, 256, epochs=2, batch_size=32)
    save_checkpoint(tmp_path / "c.pt", init_checkpoint(run))
    raw = torch.load(tmp_path / "c.pt", weights_only=True)  # only plain containers, numbers and tensors
    assert raw["run"]["batch_size"] == 32 and type(raw["run"]) is dict
    assert load_checkpoint(tmp_path / "c.pt")["run"] == run
    torch.save({**raw, "run": {**raw["run"], "wd": 0.1}}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"bad\.pt: run settings: unknown keys \['wd'\]"):
        load_checkpoint(tmp_path / "bad.pt")


def test_steps_per_epoch_for_tensors_and_for_an_imagefolder():
    assert make_run(HTGE, 100, batch_size=32, epochs=2).total_steps == 2 * 4  # ⌈100/32⌉
    resnet = make_run(HTGE, 100, batch_size=32, model={"name": "resnet18"})
    assert resnet.uses_imagefolder and resnet.steps_per_epoch == 3  # ⌊100/32⌋: last batch dropped
    too_large = dataclasses.replace(resnet, batch_size=128)
    with pytest.raises(ValueError, match="qat.batch_size 128 exceeds the 100"):
        _ = too_large.steps_per_epoch


def test_lists_and_the_label_tables_built_on_them():
    assert OPTIMIZERS[0] == "momentum"  # report order: the paper's SGD + momentum first
    assert all(a in VARIANTS and b in VARIANTS for a, b in PAIRS.values())
    assert set(plots.OPT_LABEL) == set(pv.OPTIMIZER_LABEL) == set(OPTIMIZERS)
    assert set(plots.PAIR_STYLE) == set(PAIRS) == set(pv.TABLE3_TEXT)
