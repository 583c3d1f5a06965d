"""Deterministic quantization-aware training: checkpoint dict in, checkpoint dict out.

A *run* is a plain dict (stored in every checkpoint) that fixes everything a training job
needs: model, quantization, the estimator of every quantized parameter, optimiser, base
learning rate η and a per-parameter learning-rate scale, schedule, data sizes, seed.
A *checkpoint* is ``{"run", "model", "optimizer", "step", "history", "snapshots"}``;
pretraining, forking and branch training each map one checkpoint to the next.

Schedule (paper A §6.1): linear warm-up over the first 2 % of all steps, then cosine decay
to 0; η(s) = η·scale_p·(s+1)/S_w for s < S_w, else η·scale_p·½(1 + cos(π(s − S_w)/(S − S_w))).
Optimisers: ``sgd``, ``momentum`` (SGD, μ = 0.9) and ``adam`` (β = (0.9, 0.95)).

Determinism: the init stream is the model seed (:func:`stelab.models.build_model`); the batch
order of epoch e is a permutation drawn from a separate ``torch.Generator`` seeded by
(seed, e) (:func:`batch_order`), so every branch forked from one pretraining sees identical
batches, and a run resumed from a checkpoint continues bit-identically on the CPU.

Data: in-memory tensors (MNIST, :func:`prepare_data`) or, for the ResNets
(:data:`IMAGEFOLDER_MODELS`), ImageFolder DataLoaders (:func:`imagefolder_data`) whose
``EpochSampler`` draws the same (seed, e) order and per-sample augmentation seeds; one loop
serves both. Device settings (:func:`configure_backends`): CUDA when present, optional bf16
autocast and channels_last, and cuDNN/determinism flags taken from the run.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from .data import check_imagefolder, epoch_permutation, imagefolder_loaders, imagefolder_transforms
from .io import save_torch
from .models import (RESNETS, build_quantized_model, estimator_spec, plain_named_parameters, quantized_layers,
                     set_estimators)
from .estimators import get_estimator

OPTIMIZERS = ("sgd", "momentum", "adam")
RUN_DEFAULTS = {
    "model": {"name": "mnist_convnet", "third_pool": False},
    "quantize": {"bits": 2, "layout": "range", "params": ["conv*.weight"]},
    "optimizer": "momentum",
    "lr": 1e-3,
    "momentum": 0.9,
    "betas": [0.9, 0.95],
    "eps": 1e-8,
    "epochs": 1,
    "batch_size": 64,
    "warmup_frac": 0.02,
    "seed": 0,
    "track_every": 50,
    "variant": "qhat",
    "lr_factor": 1.0,
    "sweep_factor": 1.0,
    "pretrain_fraction": 0.0,
    "train_subset": None,
    "val_subset": None,
    "eval_train_subset": None,
    "image_size": 224,
    "amp": "none",
    "channels_last": False,
    "deterministic": True,
    "cudnn_benchmark": False,
}
#: models trained on an ImageFolder dataset (DataLoaders) instead of the in-memory MNIST tensors
IMAGEFOLDER_MODELS = RESNETS
AMP_MODES = ("none", "bf16")

#: qat config keys copied into a run as they are
_RUN_KEYS_FROM_CONFIG = ("model", "quantize", "epochs", "batch_size", "warmup_frac", "track_every",
                         "pretrain_fraction", "train_subset", "val_subset", "eval_train_subset",
                         "image_size", "amp", "channels_last", "deterministic", "cudnn_benchmark")


def run_from_config(qat: dict, optimizer: str, seed: int, n_train: int, sweep_factor: float = 1.0,
                    bits: int | None = None) -> dict:
    """The Q̂-net run of the ``qat:`` config section for one optimiser, seed and learning-rate factor.

    η = qat.optimizers[optimizer].lr × ``sweep_factor`` (the learning-rate sweep multiplies η).
    ``bits`` other than qat.quantize.bits selects the entry of qat.extra_bits with that bit width
    (its own estimator, e.g. HTGE k0 = 2 for 1 bit and 18 for 4 bits in the authors' code).
    """
    opts = qat.get("optimizers", {})
    if optimizer not in opts:
        raise ValueError(f"qat.optimizers: no entry for optimizer {optimizer!r} (have {sorted(opts)})")
    o = opts[optimizer]
    over = {k: copy.deepcopy(qat[k]) for k in _RUN_KEYS_FROM_CONFIG if k in qat}
    over.update(optimizer=optimizer, seed=int(seed), lr=float(o["lr"]) * float(sweep_factor),
                sweep_factor=float(sweep_factor))
    for key in ("momentum", "betas", "eps"):
        if key in o:
            over[key] = o[key]
    estimator = qat.get("estimator", "ste")
    quant = over.get("quantize", copy.deepcopy(RUN_DEFAULTS["quantize"]))
    if bits is not None and int(bits) != int(quant["bits"]):
        extra = {int(e["bits"]): e for e in qat.get("extra_bits", [])}
        if int(bits) not in extra:
            raise ValueError(f"qat.extra_bits: no entry for {bits} bits (have {sorted(extra)}; "
                             f"qat.quantize.bits is {quant['bits']})")
        over["quantize"] = {**quant, "bits": int(bits)}
        estimator = extra[int(bits)]["estimator"]
    return make_run(estimator, n_train, **over)


def pretrain_steps(run: dict) -> int:
    """Number of Q̂-net steps before the fork: round(f · total steps)."""
    f = float(run.get("pretrain_fraction", 0.0))
    if not 0.0 <= f < 1.0:
        raise ValueError(f"qat.pretrain_fraction must lie in [0, 1), got {f}")
    return round(f * total_steps(run))


def make_run(estimator, n_train: int, **overrides) -> dict:
    """A run dict: :data:`RUN_DEFAULTS` updated by ``overrides``, estimator applied to every quantized parameter.

    ``n_train`` (training-set size) fixes the number of steps per epoch.
    """
    run = copy.deepcopy(RUN_DEFAULTS)
    unknown = set(overrides) - set(RUN_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown run keys {sorted(unknown)}; allowed: {sorted(RUN_DEFAULTS)}")
    run.update(copy.deepcopy(overrides))
    if run["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"qat.optimizer: {run['optimizer']!r} is not one of {OPTIMIZERS}")
    if not run["lr"] > 0:
        raise ValueError(f"qat.lr must be positive, got {run['lr']}")
    if run["amp"] not in AMP_MODES:
        raise ValueError(f"qat.amp: {run['amp']!r} is not one of {AMP_MODES}")
    run["n_train"] = int(n_train)
    run["estimator"] = estimator_spec(get_estimator(estimator))
    return run


def uses_imagefolder(run: dict) -> bool:
    """Whether the run's model trains on an ImageFolder dataset (the ResNets) rather than MNIST tensors."""
    return run["model"].get("name") in IMAGEFOLDER_MODELS


def steps_per_epoch(run: dict) -> int:
    """⌈n/B⌉ for tensors; ⌊n/B⌋ for an ImageFolder (its loader drops the last incomplete batch)."""
    if uses_imagefolder(run):
        if run["n_train"] < run["batch_size"]:
            raise ValueError(f"qat.batch_size {run['batch_size']} exceeds the {run['n_train']} training images "
                             "of data.imagefolder (the last incomplete batch is dropped)")
        return run["n_train"] // run["batch_size"]
    return math.ceil(run["n_train"] / run["batch_size"])


def total_steps(run: dict) -> int:
    return run["epochs"] * steps_per_epoch(run)


def lr_schedule(step: int, total: int, warmup_frac: float = 0.02) -> float:
    """Multiplier of η at ``step`` (0-based): linear warm-up over ⌈warmup_frac·total⌉ steps, then cosine to 0."""
    warm = max(1, math.ceil(warmup_frac * total))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def batch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """Permutation of the n training examples for ``epoch``: its own generator seeded by (seed, epoch)."""
    return epoch_permutation(n, seed, epoch)


def pick_device() -> torch.device:
    """``cuda`` when available, else ``cpu`` (one code path)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_backends(run: dict, device: torch.device) -> None:
    """Process-wide GPU numerics settings of a run: cuDNN algorithm choice and deterministic kernels.

    ``run["deterministic"]`` (qat.deterministic, default true) sets ``cudnn.deterministic`` and
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` (with the cuBLAS workspace
    ``:4096:8`` it requires): the same inputs then give bit-identical outputs run to run on one
    GPU and software stack, so two branches differ only by what the fork changed and Ē measures
    the estimators, not scheduling noise. ``warn_only``: the few CUDA kernels without a
    deterministic version (e.g. the backward of adaptive average pooling in ResNet's head, a
    float-only layer) warn instead of failing. ``run["cudnn_benchmark"]`` (default false) lets
    cuDNN time candidate convolution algorithms and keep the fastest; the choice can differ
    between processes, so paired branches may then use different kernels and drift apart by
    float rounding (≈1 ulp per step, amplified by training). Trade-off: deterministic kernels
    and no autotuning cost throughput on a GPU (typically 5–20 % for ResNet-50); turn them off for
    speed when only accuracy, not a pairwise Ē, matters. On the CPU (already deterministic for a
    fixed thread count) nothing is changed.
    """
    if device.type != "cuda":
        return
    deterministic = bool(run.get("deterministic", True))
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = bool(run.get("cudnn_benchmark", False))
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def autocast(run: dict, device: torch.device):
    """bf16 autocast for forward passes when ``run["amp"] == "bf16"`` (weights, Q(w), optimiser stay float32)."""
    if run.get("amp", "none") == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


# ---------------------------------------------------------------- model and optimiser from a run


def build(run: dict, device=None) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model (quantized, estimators per parameter) and optimiser with one parameter group per parameter.

    Each group carries its plain ``name`` and ``lr_scale`` (run["lr_scale"][name], default 1).
    """
    model = build_quantized_model(run["model"], run["quantize"], run["estimator"], run["seed"])
    if "estimators" in run:
        set_estimators(model, run["estimators"])
    model.to(device or "cpu")
    if run.get("channels_last"):
        model.to(memory_format=torch.channels_last)
    scales = run.get("lr_scale", {})
    groups = [{"params": [p], "name": n, "lr_scale": float(scales.get(n, 1.0))} for n, p in plain_named_parameters(model)]
    lr = run["lr"]
    if run["optimizer"] == "adam":
        opt = torch.optim.Adam(groups, lr=lr, betas=tuple(run["betas"]), eps=run["eps"])
    else:
        mom = run["momentum"] if run["optimizer"] == "momentum" else 0.0
        opt = torch.optim.SGD(groups, lr=lr, momentum=mom)
    return model, opt


def init_checkpoint(run: dict) -> dict:
    """Step-0 checkpoint of a run: He-uniform init from the run's seed, empty optimiser state."""
    model, opt = build(run)
    return {"run": copy.deepcopy(run), "model": model.state_dict(), "optimizer": opt.state_dict(),
            "step": 0, "history": [], "snapshots": {"steps": [], "weights": {}}}


def load_into(ckpt: dict, device=None) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model and optimiser of a checkpoint, state restored, on ``device``."""
    model, opt = build(ckpt["run"], device)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(copy.deepcopy(ckpt["optimizer"]))  # CPU state would alias the checkpoint's tensors
    return model, opt


def load_checkpoint(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location="cpu", weights_only=False)


def weight_hash(state_dict: dict) -> str:
    """SHA-256 over every tensor of a state dict (name order): equal iff bit-identical weights."""
    import hashlib

    h = hashlib.sha256()
    for k in sorted(state_dict):
        h.update(k.encode())
        h.update(state_dict[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- data


def to_inputs(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] (or [N, C, H, W]) → float32 [N, C, H, W] in [0, 1]."""
    x = images.float().div_(255.0)
    return x.unsqueeze(1) if x.dim() == 3 else x


def data_for_run(raw: dict, run: dict, device=None) -> dict:
    """:func:`prepare_data` with the run's subset sizes."""
    return prepare_data(raw, run.get("train_subset"), run.get("val_subset"), run.get("eval_train_subset"), device)


def n_train_of(raw: dict, train_subset: int | None) -> int:
    """Training-set size after taking the first ``train_subset`` examples."""
    n = len(raw["train"][1])
    return n if not train_subset else min(int(train_subset), n)


def prepare_data(raw: dict, train_subset: int | None = None, val_subset: int | None = None,
                 eval_train_subset: int | None = None, device=None) -> dict:
    """Tensors in memory (no DataLoader): ``train``, ``val`` and ``eval_train`` (x, y) pairs.

    Subsets are the first n examples (MNIST files are already shuffled); ``eval_train`` is the
    part of the training subset evaluated each epoch.
    """
    def cut(pair, n):
        x, y = pair
        n = len(y) if not n else min(int(n), len(y))
        return to_inputs(x[:n]).to(device or "cpu"), y[:n].long().to(device or "cpu")

    train = cut(raw["train"], train_subset)
    return {"train": train, "val": cut(raw["test"], val_subset),
            "eval_train": (train[0][:eval_train_subset], train[1][:eval_train_subset]) if eval_train_subset else train}


def imagefolder_n_train(root) -> tuple[int, int]:
    """(training images, classes) of the ImageFolder at ``root``, checked (:func:`stelab.data.check_imagefolder`)."""
    info = check_imagefolder(root)
    return info["n_train"], len(info["classes"])


def _spaced(dataset, n: int | None):
    """``n`` evenly spaced items of ``dataset`` (all when n is null or ≥ its size).

    ImageFolder lists files class by class, so a prefix would cover only the first classes.
    """
    if not n or int(n) >= len(dataset):
        return dataset
    return torch.utils.data.Subset(dataset, torch.linspace(0, len(dataset) - 1, int(n)).round().long().tolist())


def imagefolder_data(root, run: dict, workers: int = 0, pin_memory: bool = False) -> dict:
    """DataLoaders ``train``, ``val`` and ``eval_train`` of the ImageFolder at ``root`` for ``run``.

    ``train``: RandomResizedCrop(image_size) + horizontal flip; sample order and every augmentation
    draw seeded by (seed, epoch) (:func:`stelab.data.imagefolder_loaders`), whatever ``workers``;
    the last incomplete batch is dropped. ``val``: Resize + CenterCrop, ``val_subset`` evenly spaced
    images (null: all). ``eval_train``: ``eval_train_subset`` evenly spaced training images under the
    val transform (the per-epoch train loss and accuracy). ``workers`` loader processes and
    ``pin_memory`` (page-locked batches for asynchronous host-to-GPU copies) only change speed.
    """
    from torchvision.datasets import ImageFolder

    if run.get("train_subset"):
        raise ValueError("qat.train_subset: not supported with an ImageFolder model; point data.imagefolder "
                         "at a smaller copy of the dataset")
    loaders = imagefolder_loaders(root, run["batch_size"], run["image_size"], workers, pin_memory, run["seed"])
    if len(loaders.train.dataset) != run["n_train"]:
        raise ValueError(f"data.imagefolder: {root} has {len(loaders.train.dataset)} training images but the run "
                         f"was set up for {run['n_train']}")

    def loader(dataset):
        return torch.utils.data.DataLoader(dataset, batch_size=run["batch_size"], shuffle=False, num_workers=workers,
                                           pin_memory=pin_memory, persistent_workers=workers > 0)

    _, val_tf = imagefolder_transforms(run["image_size"])
    val = loaders.val if not run.get("val_subset") else loader(_spaced(loaders.val.dataset, run["val_subset"]))
    eval_train = _spaced(ImageFolder(Path(root) / "train", transform=val_tf), run.get("eval_train_subset"))
    return {"train": loaders.train, "val": val, "eval_train": loader(eval_train)}


def _inputs(x: torch.Tensor, run: dict, device) -> torch.Tensor:
    """A batch on ``device`` (non-blocking from pinned memory), channels_last when the run asks for it."""
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if run.get("channels_last") and x.dim() == 4 else x


@torch.no_grad()
def evaluate_loader(model: nn.Module, loader, run: dict, device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over a DataLoader of (images, labels), eval mode."""
    was = model.training
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        y = y.to(device, non_blocking=True)
        out = model(_inputs(x, run, device)).float()
        loss += float(nn.functional.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        n += len(y)
    model.train(was)
    return loss / max(n, 1), correct / max(n, 1)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on (x, y) in eval mode."""
    was = model.training
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        out = model(x[i : i + batch_size])
        loss += float(nn.functional.cross_entropy(out, y[i : i + batch_size], reduction="sum"))
        correct += int((out.argmax(1) == y[i : i + batch_size]).sum())
    model.train(was)
    return loss / max(len(y), 1), correct / max(len(y), 1)


# ---------------------------------------------------------------- the loop


class _Progress:
    """A one-line bar on a terminal, plain log lines otherwise."""

    def __init__(self, label: str, start: int, stop: int, stream=None):
        self.label, self.start, self.stop = label, start, stop
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = time.perf_counter()
        self.last = -1

    def step(self, step: int):
        if not self.tty or self.stop <= self.start:
            return
        pct = int(100 * (step - self.start) / (self.stop - self.start))
        if pct != self.last:
            self.last = pct
            bar = "#" * (pct // 4) + "." * (25 - pct // 4)
            self.stream.write(f"\r{self.label} [{bar}] {pct:3d}% step {step}/{self.stop}")
            self.stream.flush()

    def log(self, msg: str):
        if self.tty:
            self.stream.write("\r\033[K")
        print(f"{self.label}: {msg}", file=self.stream, flush=True)


def _epoch_batches(data: dict, run: dict, epoch: int, start: int, device):
    """(inputs, labels, key) of batches ``start``, ``start`` + 1, … of ``epoch``.

    Tensors: the slices of :func:`batch_order` (key: the example indices). DataLoaders: the
    sampler is set to (seed, ``epoch``) with the first ``start`` batches skipped (key: the inputs).
    """
    bs = run["batch_size"]
    if isinstance(data["train"], tuple):
        xtr, ytr = data["train"]
        order = batch_order(len(ytr), run["seed"], epoch).to(device)
        for i in range(start, steps_per_epoch(run)):
            idx = order[i * bs : (i + 1) * bs]
            yield _inputs(xtr[idx], run, device), ytr[idx], idx
        return
    data["train"].sampler.set_epoch(epoch, skip=start * bs)
    for x, y in data["train"]:
        x = _inputs(x, run, device)
        yield x, y.to(device, non_blocking=True), x


def _evaluate(model: nn.Module, part, run: dict, device) -> tuple[float, float]:
    if isinstance(part, tuple):
        return evaluate(model, _inputs(part[0], run, device), part[1])
    return evaluate_loader(model, part, run, device)


def _snapshot(model: nn.Module, ckpt: dict, step: int) -> None:
    snaps = ckpt["snapshots"]
    if snaps["steps"] and snaps["steps"][-1] == step:
        return
    snaps["steps"].append(step)
    for name, (p, _) in quantized_layers(model).items():
        snaps["weights"].setdefault(name, []).append(p.detach().to("cpu", torch.float32).clone())


def train(ckpt: dict, data: dict, stop_step: int | None = None, *, checkpoint_path=None,
          checkpoint_every: int = 0, device=None, label: str = "train", stream=None, batch_hook=None) -> dict:
    """Continue the run of ``ckpt`` from its step to ``stop_step`` (default: the end of the schedule).

    ``data``: ``train``, ``val`` and ``eval_train`` as (x, y) tensor pairs (:func:`prepare_data`) or
    as DataLoaders (:func:`imagefolder_data`). Every ``checkpoint_every`` steps the state is saved
    atomically to ``checkpoint_path``; evaluation (train/val loss and accuracy) runs at the end of
    every epoch; quantized weights are snapshotted every ``run["track_every"]`` steps and at the
    start and end. A non-finite loss raises ValueError naming the step. ``batch_hook(step, key)``,
    if given, sees every batch (key: its example indices for tensors, its inputs for DataLoaders).
    Device settings come from the run (:func:`configure_backends`, :func:`autocast`,
    channels_last). Returns the final checkpoint (CPU tensors).
    """
    run = ckpt["run"]
    device = torch.device(device) if device is not None else pick_device()
    configure_backends(run, device)
    ckpt = {**ckpt, "history": list(ckpt["history"]),
            "snapshots": {"steps": list(ckpt["snapshots"]["steps"]),
                          "weights": {k: list(v) for k, v in ckpt["snapshots"]["weights"].items()}}}
    model, opt = load_into(ckpt, device)
    model.train()
    spe, total = steps_per_epoch(run), total_steps(run)
    stop = total if stop_step is None else min(int(stop_step), total)
    step = int(ckpt["step"])
    if isinstance(data["train"], tuple):
        data = {k: (x.to(device), y.to(device)) for k, (x, y) in data.items()}  # no-op when already there
    n_train = len(data["train"][1]) if isinstance(data["train"], tuple) else len(data["train"].dataset)
    if n_train != run["n_train"]:
        raise ValueError(f"training set has {n_train} examples but the run was set up for {run['n_train']}")
    every = int(run.get("track_every") or 0)
    bar = _Progress(label, step, stop, stream)
    bar.log(f"{run['optimizer']} {run.get('variant', '')} seed {run['seed']}: steps {step}→{stop} of {total} on {device}")
    if step == run.get("fork_step", 0) or not ckpt["snapshots"]["steps"]:
        _snapshot(model, ckpt, step)  # run start (fresh or fork); a resumed run has it already
    fit_loss, fit_n = ckpt.get("fit", (0.0, 0))
    t_epoch = time.perf_counter()
    base_ests = {n: pq.estimator for n, (_, pq) in quantized_layers(model).items()}
    while step < stop:
        epoch = step // spe
        for n, (_, pq) in quantized_layers(model).items():
            pq.estimator = base_ests[n].at_epoch(epoch, run["epochs"])
        for x, y, key in _epoch_batches(data, run, epoch, step % spe, device):
            if batch_hook is not None:
                batch_hook(step, key)
            factor = lr_schedule(step, total, run["warmup_frac"]) * run.get("lr_factor", 1.0)
            for g in opt.param_groups:
                g["lr"] = run["lr"] * g["lr_scale"] * factor
            with autocast(run, device):
                loss = nn.functional.cross_entropy(model(x), y)
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise ValueError(f"non-finite training loss {lv} at step {step} (epoch {epoch}) of run "
                                 f"{run['optimizer']}/{run.get('variant')}/seed {run['seed']}: lower qat lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            fit_loss, fit_n = fit_loss + lv * len(y), fit_n + len(y)
            bar.step(step)
            if every and step % every == 0 or step == stop:
                _snapshot(model, ckpt, step)
            if step % spe == 0:
                with autocast(run, device):
                    tr_loss, tr_acc = _evaluate(model, data["eval_train"], run, device)
                    va_loss, va_acc = _evaluate(model, data["val"], run, device)
                row = {"epoch": step // spe, "step": step, "lr": run["lr"] * factor,
                       "fit_loss": fit_loss / max(fit_n, 1), "train_loss": tr_loss, "train_acc": tr_acc,
                       "val_loss": va_loss, "val_acc": va_acc, "seconds": time.perf_counter() - t_epoch}
                ckpt["history"].append(row)
                bar.log(f"epoch {row['epoch']} step {step}: train loss {tr_loss:.4f} acc {tr_acc:.4f}, "
                        f"val loss {va_loss:.4f} acc {va_acc:.4f} ({row['seconds']:.1f} s)")
                fit_loss, fit_n, t_epoch = 0.0, 0, time.perf_counter()
            if checkpoint_path and checkpoint_every and step % checkpoint_every == 0 and step < stop:
                save_torch(checkpoint_path, _export(model, opt, ckpt, step, base_ests, (fit_loss, fit_n)))
            if step == stop or step % spe == 0:
                break
    return _export(model, opt, ckpt, step, base_ests, (fit_loss, fit_n))


def _export(model, opt, ckpt, step, base_ests, fit) -> dict:
    for n, (_, pq) in quantized_layers(model).items():
        pq.estimator = base_ests[n]
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    opt_state = _to_cpu(opt.state_dict())
    return {"run": ckpt["run"], "model": state, "optimizer": opt_state, "step": step, "fit": fit,
            "history": list(ckpt["history"]),
            "snapshots": {"steps": list(ckpt["snapshots"]["steps"]),
                          "weights": {k: list(v) for k, v in ckpt["snapshots"]["weights"].items()}}}


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu").clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
