"""A ResNet on an ImageFolder through the QAT pipeline: pretrain (fork at 10 %) → fork → train-branch → compare.

A tiny fake ImageFolder (3 classes × 4 images of 32 px) and resnet18 (the same code path as the
ImageNet default resnet50, at a size a 2-core CPU trains in seconds). The chain quantizes the stem,
layer1 and one downsample shortcut (M costs seconds per million weights on a CPU);
``RESNET_QUANTIZED``, every conv kernel, is checked on its own.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from helpers import REPO, snakemake, write_fake_imagefolder

from stelab.cli import main
from stelab.config import ConfigError, load_config
from stelab.qat.checkpoints import load_checkpoint, load_into
from stelab.qat.inputs import imagefolder_data
from stelab.qat.loop import train
from stelab.qat.models import RESNET_QUANTIZED, build_quantized_model, quantized_layers

BATCH, EPOCHS, N_TRAIN = 4, 4, 12  # 3 steps per epoch, 12 steps, the fork after round(0.1 · 12) = 1
QAT = {"model": {"name": "resnet18"},
       "quantize": {"bits": 2, "layout": "range",
                    "params": ["conv1.weight", "layer1.*.conv*.weight", "layer2.0.downsample.0.weight"]},
       "estimator": {"name": "htge", "k0": 5.5},
       "optimizers": {"momentum": {"lr": 1e-3, "momentum": 0.9}},
       "epochs": EPOCHS, "batch_size": BATCH, "pretrain_fraction": 0.1, "image_size": 32, "track_every": 3}


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagefolder") / "ds"
    info = write_fake_imagefolder(root, n_classes=3, n_per_class=4, size=40, seed=0)
    assert info["n_train"] == N_TRAIN
    return root


@pytest.fixture(scope="module")
def chain(folder, tmp_path_factory):
    """pretrain → fork (qhat, ste) → train-branch → compare through the commands."""
    out = tmp_path_factory.mktemp("chain")
    pre = out / "pretrain.pt"
    assert main(["pretrain", "--data", str(folder), "--qat", json.dumps(QAT), "--optimizer", "momentum",
                 "--seed", "0", "--out", str(pre), "--checkpoint-every", "0"]) == 0
    for v in ("qhat", "ste"):
        d = out / v
        assert main(["fork", "--pretrained", str(pre), "--variant", v, "--out", str(d / "init.pt")]) == 0
        assert main(["train-branch", "--init", str(d / "init.pt"), "--data", str(folder), "--out",
                     str(d / "final.pt"), "--history", str(d / "history.tsv"), "--snapshots",
                     str(d / "snap.pt")]) == 0
    runs = [str(out / v / "final.pt") for v in ("qhat", "ste")]
    snaps = [str(out / v / "snap.pt") for v in ("qhat", "ste")]
    assert main(["compare", "--runs", *runs, "--snapshots", *snaps, "--runs-out", str(out / "runs.tsv"),
                 "--pairs-out", str(out / "pairs.tsv"), "--tracking-out", str(out / "tracking.tsv"),
                 "--scatter-out", str(out / "scatter.npz"), "--scatter-points", "50"]) == 0
    return out


def test_pretrain_stops_at_the_fork_fraction(chain):
    pre = load_checkpoint(chain / "pretrain.pt")
    assert pre["step"] == 1  # round(0.1 · 12 steps)
    # classes from the ImageFolder; third_pool is the schema's default (--qat is validated), unused by a ResNet
    assert pre["run"].model == {"name": "resnet18", "num_classes": 3, "third_pool": False}
    assert pre["run"].n_train == N_TRAIN


def test_ste_fork_keeps_every_resnet_conv_kernel_in_its_bin(chain):
    pre = load_into(load_checkpoint(chain / "pretrain.pt"))[0]
    ste = load_into(load_checkpoint(chain / "ste" / "init.pt"))[0]
    before, after = quantized_layers(pre), quantized_layers(ste)
    assert len(before) == 1 + 4 + 1
    moved = 0
    for name, (w0, pq) in before.items():
        w1 = after[name][0]
        assert torch.equal(pq.quantizer(w1), pq.quantizer(w0)), name  # Q(M(w)) == Q(w)
        moved += int((w1 != w0).sum())
    assert moved > 0
    assert after["layer1.0.conv1.weight"][1].estimator.name == "pwl"  # clipped STE (App. G)


def test_resnet_patterns_quantize_every_conv_kernel_and_nothing_else():
    model = build_quantized_model({"name": "resnet18", "num_classes": 3}, {"bits": 2, "params": RESNET_QUANTIZED},
                                  {"name": "htge", "k0": 5.5}, seed=0)
    names = list(quantized_layers(model))
    convs = [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert sorted(names) == sorted(convs) and len(names) == 20  # stem, 16 block convs, 3 shortcuts
    assert not any(".bn" in n or n.startswith(("bn", "fc")) or "downsample.1" in n for n in names)


def test_branches_write_history_and_finite_metrics(chain):
    for v in ("qhat", "ste"):
        hist = pd.read_csv(chain / v / "history.tsv", sep="\t")
        assert list(hist["epoch"]) == [1, 2, 3, 4] and list(hist["step"]) == [3, 6, 9, 12]
        cols = ["fit_loss", "train_loss", "train_acc", "val_loss", "val_acc"]
        assert np.isfinite(hist[cols].to_numpy()).all()
        assert ((hist["val_acc"] >= 0) & (hist["val_acc"] <= 1)).all()
        assert load_checkpoint(chain / v / "final.pt")["step"] == EPOCHS * 3
    pairs = pd.read_csv(chain / "pairs.tsv", sep="\t")
    assert len(pairs) == 1
    e_bar, agreement = float(pairs["E_bar"].iloc[0]), float(pairs["agreement"].iloc[0])
    assert math.isfinite(e_bar) and e_bar >= 0 and 0 <= agreement <= 100
    track = pd.read_csv(chain / "tracking.tsv", sep="\t")
    assert track[track["step"] == 1]["E_bar"].abs().max() < 1e-4  # Ē = 0 at the fork (same Q̂-net state)
    assert np.isfinite(track["E_bar"]).all()


def test_paired_branches_see_identical_batches_also_after_a_mid_epoch_fork(folder, chain):
    """The fork at step 1 resumes mid-epoch: every branch sees the batches an unforked run would."""
    pre = load_checkpoint(chain / "pretrain.pt")
    seen = {}
    for v in ("qhat", "ste"):
        data = imagefolder_data(folder, pre["run"])
        seen[v] = []
        train(load_checkpoint(chain / v / "init.pt"), data, stop_step=5, device="cpu",
              batch_hook=lambda s, x, v=v: seen[v].append((s, x.clone())))
    start = load_checkpoint(chain / "qhat" / "init.pt")
    start = {**start, "step": 0, "history": [], "snapshots": {"steps": [], "weights": {}}}
    whole = []
    train(start, imagefolder_data(folder, pre["run"]), stop_step=5, device="cpu",
          batch_hook=lambda s, x: whole.append((s, x.clone())))
    assert [s for s, _ in seen["qhat"]] == [1, 2, 3, 4]
    for (s1, a), (s2, b), (s3, c) in zip(seen["qhat"], seen["ste"], whole[1:]):
        assert s1 == s2 == s3 and torch.equal(a, b) and torch.equal(a, c)
    assert not torch.equal(whole[0][1], whole[1][1])  # batches do differ from step to step


def test_missing_or_malformed_imagefolder_names_the_key(tmp_path, capsys):
    cfg = yaml.safe_load((REPO / "config" / "imagenet.yaml").read_text())
    assert cfg["qat"]["model"]["name"] == "resnet50" and cfg["qat"]["pretrain_fraction"] == 0.1
    bad = tmp_path / "imagenet.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    base = REPO / "config" / "config.yaml"
    with pytest.raises(ConfigError, match="data.imagefolder"):
        load_config(base, bad)  # /path/to/imagenet does not exist
    (tmp_path / "ds" / "train" / "n01").mkdir(parents=True)
    cfg["data"]["imagefolder"] = str(tmp_path / "ds")
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="data.imagefolder.*val/"):
        load_config(base, bad)
    (tmp_path / "ds" / "val" / "n01").mkdir(parents=True)
    assert load_config(base, bad)["qat"]["gpu"] == 1  # layout is right: the full config validates
    qat = json.dumps(QAT)
    assert main(["pretrain", "--data", str(tmp_path / "nothere"), "--qat", qat, "--optimizer", "momentum",
                 "--seed", "0", "--out", str(tmp_path / "p.pt")]) == 2
    assert "data.imagefolder" in capsys.readouterr().err
    assert main(["pretrain", "--data", str(tmp_path / "ds"), "--qat", qat, "--optimizer", "momentum",
                 "--seed", "0", "--out", str(tmp_path / "p.pt")]) == 2  # class folders without images
    assert "data.imagefolder" in capsys.readouterr().err
    assert not (tmp_path / "p.pt").exists()


def test_workflow_wires_the_imagefolder_into_the_training_rules(folder, repo_copy):
    cfg = yaml.safe_load((REPO / "config" / "imagenet.yaml").read_text())
    cfg["data"]["imagefolder"] = str(folder)
    (repo_copy / "config" / "test_imagenet.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    target = "results/qat/b2/momentum/lr1/seed0/ste/final.pt"
    proc = snakemake(repo_copy, target, "-n", "-p", "--cores", "1", "--configfile", "config/test_imagenet.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "check_imagefolder" in log and "download_mnist" not in log
    assert f"-m stelab pretrain --data {folder}" in log and "--workers 11 --pin-memory" in log
    cfg["data"]["imagefolder"] = str(folder / "missing")
    (repo_copy / "config" / "test_imagenet.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    proc = snakemake(repo_copy, target, "-n", "--cores", "1", "--configfile", "config/test_imagenet.yaml")
    assert proc.returncode != 0 and "data.imagefolder" in proc.stdout + proc.stderr


def test_bf16_autocast_and_channels_last_run_the_same_loop_deterministically(folder):
    """qat.amp bf16 and qat.channels_last (the GPU settings) on the CPU: finite, NHWC, repeatable.

    At 16 px (1×1 maps in layer4) torch 2.14's CPU bf16 kernels were not repeatable run to run; 32 px is.
    """
    from stelab.qat.checkpoints import init_checkpoint, weight_hash
    from stelab.qat.inputs import imagefolder_n_train
    from stelab.qat.settings import make_run

    n, k = imagefolder_n_train(folder)
    run = make_run({"name": "htge", "k0": 5.5}, n, model={"name": "resnet18", "num_classes": k},
                   quantize={"bits": 2, "params": ["layer1.0.conv1.weight"]}, epochs=1, batch_size=BATCH,
                   image_size=32, amp="bf16", channels_last=True, track_every=0)
    seen = []
    finals = [train(init_checkpoint(run), imagefolder_data(folder, run), stop_step=2, device="cpu",
                    batch_hook=lambda s, x: seen.append(x.is_contiguous(memory_format=torch.channels_last)))
              for _ in range(2)]
    assert all(seen) and len(seen) == 2 * 2
    assert weight_hash(finals[0]["model"]) == weight_hash(finals[1]["model"])
    assert all(torch.isfinite(v).all() for v in finals[0]["model"].values() if v.is_floating_point())
    with pytest.raises(ValueError, match="qat.amp"):
        make_run({"name": "htge", "k0": 5.5}, n, amp="fp16")
