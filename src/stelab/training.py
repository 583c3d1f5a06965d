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
"""

from __future__ import annotations

import copy
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

from .data import epoch_permutation
from .io import save_torch
from .models import build_quantized_model, estimator_spec, plain_named_parameters, quantized_layers, set_estimators
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
}

#: qat config keys copied into a run as they are
_RUN_KEYS_FROM_CONFIG = ("model", "quantize", "epochs", "batch_size", "warmup_frac", "track_every",
                         "pretrain_fraction", "train_subset", "val_subset", "eval_train_subset")


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
    run["n_train"] = int(n_train)
    run["estimator"] = estimator_spec(get_estimator(estimator))
    return run


def steps_per_epoch(run: dict) -> int:
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
    if torch.cuda.is_available():
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        return torch.device("cuda")
    return torch.device("cpu")


# ---------------------------------------------------------------- model and optimiser from a run


def build(run: dict, device=None) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model (quantized, estimators per parameter) and optimiser with one parameter group per parameter.

    Each group carries its plain ``name`` and ``lr_scale`` (run["lr_scale"][name], default 1).
    """
    model = build_quantized_model(run["model"], run["quantize"], run["estimator"], run["seed"])
    if "estimators" in run:
        set_estimators(model, run["estimators"])
    model.to(device or "cpu")
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

    Every ``checkpoint_every`` steps the state is saved atomically to ``checkpoint_path``;
    evaluation (train/val loss and accuracy) runs at the end of every epoch; quantized weights
    are snapshotted every ``run["track_every"]`` steps and at the start and end. A non-finite
    loss raises ValueError naming the step. ``batch_hook(step, indices)``, if given, sees every batch.
    Returns the final checkpoint (CPU tensors).
    """
    run = ckpt["run"]
    device = torch.device(device) if device is not None else pick_device()
    ckpt = {**ckpt, "history": list(ckpt["history"]),
            "snapshots": {"steps": list(ckpt["snapshots"]["steps"]),
                          "weights": {k: list(v) for k, v in ckpt["snapshots"]["weights"].items()}}}
    model, opt = load_into(ckpt, device)
    model.train()
    spe, total = steps_per_epoch(run), total_steps(run)
    stop = total if stop_step is None else min(int(stop_step), total)
    step = int(ckpt["step"])
    data = {k: (x.to(device), y.to(device)) for k, (x, y) in data.items()}  # no-op when already there
    xtr, ytr = data["train"]
    if len(ytr) != run["n_train"]:
        raise ValueError(f"training set has {len(ytr)} examples but the run was set up for {run['n_train']}")
    bs, every = run["batch_size"], int(run.get("track_every") or 0)
    bar = _Progress(label, step, stop, stream)
    bar.log(f"{run['optimizer']} {run.get('variant', '')} seed {run['seed']}: steps {step}→{stop} of {total} on {device}")
    if step == run.get("fork_step", 0) or not ckpt["snapshots"]["steps"]:
        _snapshot(model, ckpt, step)  # run start (fresh or fork); a resumed run has it already
    fit_loss, fit_n = ckpt.get("fit", (0.0, 0))
    t_epoch = time.perf_counter()
    base_ests = {n: pq.estimator for n, (_, pq) in quantized_layers(model).items()}
    epoch = -1
    while step < stop:
        if step // spe != epoch:
            epoch = step // spe
            order = batch_order(len(ytr), run["seed"], epoch).to(device)
            for n, (_, pq) in quantized_layers(model).items():
                pq.estimator = base_ests[n].at_epoch(epoch, run["epochs"])
        i = step % spe
        idx = order[i * bs : (i + 1) * bs]
        if batch_hook is not None:
            batch_hook(step, idx)
        factor = lr_schedule(step, total, run["warmup_frac"]) * run.get("lr_factor", 1.0)
        for g in opt.param_groups:
            g["lr"] = run["lr"] * g["lr_scale"] * factor
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        lv = float(loss.detach())
        if not math.isfinite(lv):
            raise ValueError(f"non-finite training loss {lv} at step {step} (epoch {epoch}) of run "
                             f"{run['optimizer']}/{run.get('variant')}/seed {run['seed']}: lower qat lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        fit_loss, fit_n = fit_loss + lv * len(idx), fit_n + len(idx)
        bar.step(step)
        if every and step % every == 0 or step == stop:
            _snapshot(model, ckpt, step)
        if step % spe == 0:
            tr_loss, tr_acc = evaluate(model, *data["eval_train"])
            va_loss, va_acc = evaluate(model, *data["val"])
            row = {"epoch": step // spe, "step": step, "lr": run["lr"] * factor,
                   "fit_loss": fit_loss / max(fit_n, 1), "train_loss": tr_loss, "train_acc": tr_acc,
                   "val_loss": va_loss, "val_acc": va_acc, "seconds": time.perf_counter() - t_epoch}
            ckpt["history"].append(row)
            bar.log(f"epoch {row['epoch']} step {step}: train loss {tr_loss:.4f} acc {tr_acc:.4f}, "
                    f"val loss {va_loss:.4f} acc {va_acc:.4f} ({row['seconds']:.1f} s)")
            fit_loss, fit_n, t_epoch = 0.0, 0, time.perf_counter()
        if checkpoint_path and checkpoint_every and step % checkpoint_every == 0 and step < stop:
            save_torch(checkpoint_path, _export(model, opt, ckpt, step, base_ests, (fit_loss, fit_n)))
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
