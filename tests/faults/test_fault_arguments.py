"""Values that reach a job from the command line (the workflow's shell commands): ``--qat`` is
checked against the config schema, every other argument against its range, before any work."""

import json

import pytest
import torch
from fault_chain import QAT, Chain, assert_nothing_complete, qat_json

from stelab.cli import main

#: (case, --qat value, extra pretrain arguments, what the error names)
BAD_PRETRAIN = [
    ("epochs 0", qat_json(epochs=0), [], "config key qat.epochs: 0 is less than the minimum of 1"),
    ("batch size as text", qat_json(batch_size="32"), [], "config key qat.batch_size: '32' is a string, expected integer"),
    ("misspelt key", qat_json(epoch=3), [], "config key qat: Additional properties are not allowed ('epoch'"),
    ("negative lr", qat_json(optimizers={"momentum": {"lr": -0.1}}), [], "config key qat.optimizers.momentum.lr"),
    ("NaN lr", qat_json(optimizers={"momentum": {"lr": float("nan")}}), [],
     "config key qat.optimizers.momentum.lr: nan is not a finite number"),
    ("infinite warm-up", qat_json(warmup_frac=float("inf")), [], "config key qat.warmup_frac: inf is not a finite"),
    ("malformed JSON", '{"epochs": 2,', [], "--qat: inline JSON is malformed"),
    ("JSON list", "[1, 2]", [], "--qat: config file [1, 2] does not exist"),
    ("glob with shell text", qat_json(quantize={"bits": 2, "params": ["conv*.weight; echo hi"]}), [],
     "qat.quantize.params: pattern 'conv*.weight; echo hi' matches no parameter"),
    ("optimizer not configured", qat_json(), ["--optimizer", "adam"], "qat.optimizers: no entry for optimizer 'adam'"),
    ("lr factor 0", qat_json(), ["--lr-factor", "0"], "--lr-factor must be a finite number > 0, got 0.0"),
    ("lr factor nan", qat_json(), ["--lr-factor", "nan"], "--lr-factor must be a finite number > 0, got nan"),
    ("lr factor negative", qat_json(), ["--lr-factor", "-1"], "--lr-factor must be a finite number > 0, got -1.0"),
    ("bits without extra_bits", qat_json(), ["--bits", "3"], "qat.extra_bits: no entry for 3 bits"),
    ("negative seed", qat_json(), ["--seed", "-1"], "--seed must be >= 0, got -1"),
    ("negative checkpoint interval", qat_json(), ["--checkpoint-every", "-1"], "--checkpoint-every must be >= 0"),
    ("zero threads", qat_json(), ["--threads", "0"], "--threads must be >= 1, got 0"),
]


@pytest.mark.parametrize("case, qat, extra, message", BAD_PRETRAIN, ids=[c[0] for c in BAD_PRETRAIN])
def test_bad_pretrain_values_name_the_key(tmp_path, mnist, capsys, case, qat, extra, message):
    out = tmp_path / "pretrain.pt"
    args = {"--optimizer": "momentum", "--seed": "0", **dict(zip(extra[::2], extra[1::2]))}
    rc = main(["pretrain", "--data", str(mnist), "--qat", qat, "--out", str(out),
               *[x for kv in args.items() for x in kv]])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert_nothing_complete(out, tmp_path / "pretrain.pt.ckpt")


def test_qat_file_without_a_qat_section_names_the_file(tmp_path, mnist, capsys):
    settings = tmp_path / "settings.yaml"
    settings.write_text(json.dumps({"data": {"source": "synthetic"}}))
    assert main(["pretrain", "--data", str(mnist), "--qat", str(settings), "--optimizer", "momentum", "--seed", "0",
                 "--out", str(tmp_path / "p.pt")]) == 2
    assert f"--qat: {settings} has no top-level 'qat' section" in capsys.readouterr().err


def test_qat_section_validated_by_fork(tmp_path, mnist, capsys):
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain() == 0
    chain.qat = qat_json(lr_tweak=float("inf"))
    assert chain.fork() == 2
    assert "config key qat.lr_tweak: inf is not a finite number" in capsys.readouterr().err
    chain.qat = qat_json(ste_lr_scope="everything")
    assert chain.fork() == 2
    assert "config key qat.ste_lr_scope: 'everything' is not allowed" in capsys.readouterr().err
    assert_nothing_complete(chain.init)


def test_validated_defaults_reach_the_run(tmp_path, mnist):
    """The schema's defaults fill what --qat leaves out (the workflow passes the same values)."""
    chain = Chain(tmp_path, mnist, qat_json(track_every=None, warmup_frac=None))
    assert chain.pretrain() == 0
    run = torch.load(chain.pre, weights_only=True)["run"]
    assert run["track_every"] == 100 and run["warmup_frac"] == 0.02 and run["epochs"] == QAT["epochs"]


def test_gpu_job_without_a_gpu_fails_before_training(tmp_path, mnist, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain("--device", "cuda") == 2
    err = capsys.readouterr().err
    assert "--device cuda: no CUDA device is visible to this job" in err and "qat.gpu" in err
    assert "steps" not in err  # nothing trained
    assert_nothing_complete(chain.pre, chain.pre_ckpt)
    assert chain.pretrain() == 0 and chain.fork() == 0
    assert chain.branch("--device", "cuda") == 2
    assert "--device cuda: no CUDA device" in capsys.readouterr().err
    assert_nothing_complete(*chain.outputs, chain.branch_ckpt)
