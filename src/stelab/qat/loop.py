"""The training loop of paper A (arXiv 2405.05171) §6.1: checkpoint dict in, checkpoint dict out.

Each step applies the optimiser's update w⁽ᵗ⁺¹⁾ = w⁽ᵗ⁾ + g⁽ᵗ⁾(∇f⁽⁰⁾Q̂'(w⁽⁰⁾), …, ∇f⁽ᵗ⁾Q̂'(w⁽ᵗ⁾), η)
(paper A eq. 2) with the learning rate of the warm-up + cosine schedule
(:func:`stelab.qat.settings.lr_schedule`) times each parameter's scale; every epoch ends with an
evaluation (Table 5's loss and accuracy) and quantized weights are snapshotted for Ē over
training (paper A App. I).

Determinism: the init stream is the model seed (:func:`stelab.qat.models.build_model`); the
batch order of epoch e is a permutation drawn from a separate ``torch.Generator`` seeded by
(seed, e) (:func:`stelab.data.order.epoch_permutation`), so every branch forked from one
pretraining sees identical batches, and a run resumed from a checkpoint continues
bit-identically on the CPU. One loop serves MNIST tensors and ImageFolder DataLoaders.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ..data.order import epoch_permutation
from ..progress import Progress
from .checkpoints import export_checkpoint, load_into, save_checkpoint
from .device import autocast, configure_backends, pick_device, to_device
from .divergence import DivergenceMonitor
from .evaluation import evaluate, evaluate_loader
from .malloc import keep_heap
from .metrics import PathLength
from .models import plain_named_parameters, quantized_layers
from .settings import RunSettings, lr_schedule


def _epoch_batches(data: dict, run: RunSettings, epoch: int, start: int, device):
    """(inputs, labels, key) of batches ``start``, ``start`` + 1, … of ``epoch``.

    Tensors: slices of the epoch's permutation (key: the example indices). DataLoaders: the
    sampler is set to (seed, ``epoch``) with the first ``start`` batches skipped (key: the inputs).
    """
    bs = run.batch_size
    if isinstance(data["train"], tuple):
        xtr, ytr = data["train"]
        order = epoch_permutation(len(ytr), run.seed, epoch).to(device)
        for i in range(start, run.steps_per_epoch):
            idx = order[i * bs : (i + 1) * bs]
            yield to_device(xtr[idx], run, device), ytr[idx], idx
        return
    data["train"].sampler.set_epoch(epoch, skip=start * bs)
    for x, y in data["train"]:
        x = to_device(x, run, device)
        yield x, y.to(device, non_blocking=True), x


def _evaluate(model: nn.Module, part, run: RunSettings, device) -> tuple[float, float]:
    if isinstance(part, tuple):
        return evaluate(model, to_device(part[0], run, device), part[1])
    return evaluate_loader(model, part, run, device)


def _epoch_metrics(model: nn.Module, data: dict, run: RunSettings, device, last: bool) -> dict:
    """Loss and accuracy on the training images evaluated and on the validation set (Table 5's columns).

    Every epoch evaluates ``eval_train`` (``qat.eval_train_subset`` images); with
    ``qat.eval_train_all_at_end`` the run's last epoch evaluates the whole training set when it is
    held as tensors (Table 5 reports the final value), so only that one pass costs a full sweep.
    ``train_eval_n`` says how many images the training columns cover.
    """
    everything = last and run.eval_train_all_at_end and isinstance(data["train"], tuple)
    part = data["train"] if everything else data["eval_train"]
    with autocast(run, device):
        train_loss, train_acc = _evaluate(model, part, run, device)
        val_loss, val_acc = _evaluate(model, data["val"], run, device)
    n = len(part[1]) if isinstance(part, tuple) else len(part.dataset)
    return {"train_eval_n": n, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
            "val_acc": val_acc}


def _snapshot(model: nn.Module, ckpt: dict, step: int) -> None:
    snaps = ckpt["snapshots"]
    if snaps["steps"] and snaps["steps"][-1] == step:
        return
    snaps["steps"].append(step)
    for name, (p, _) in quantized_layers(model).items():
        snaps["weights"].setdefault(name, []).append(p.detach().to("cpu", torch.float32).clone())


def train(ckpt: dict, data: dict, stop_step: int | None = None, *, checkpoint_path=None,
          checkpoint_every: int = 0, device=None, label: str = "train", stream=None, batch_hook=None,
          on_divergence: str = "stop") -> dict:
    """Continue the run of ``ckpt`` from its step to ``stop_step`` (default: the end of the schedule).

    ``data``: ``train``, ``val`` and ``eval_train`` as (x, y) tensor pairs (:func:`prepare_data`) or
    as DataLoaders (:func:`imagefolder_data`). Every ``checkpoint_every`` steps the state is saved
    atomically to ``checkpoint_path``; evaluation (train/val loss and accuracy) runs at the end of
    every epoch; quantized weights are snapshotted every ``run.track_every`` steps and at the
    start and end; with ``run.eval_train_all_at_end`` the last epoch's training metrics cover the
    whole training set (``train_eval_n``). Divergence (:mod:`stelab.qat.divergence`: non-finite or exploding loss, weights
    beyond bounds, accuracy collapsing to chance) raises DivergenceError naming the run and step, or
    with ``on_divergence="keep"`` is recorded under ``diverged`` while training goes on; the seconds
    of each epoch go to ``timings``, apart from ``history``. ``batch_hook(step, key)``,
    if given, sees every batch (key: its example indices for tensors, its inputs for DataLoaders).
    Device settings come from the run (:func:`configure_backends`, :func:`autocast`,
    channels_last). Progress goes to ``stream`` (default stderr) under ``label``: a bar on a
    terminal, a line per tenth of the steps otherwise, and one line per epoch with its metrics.
    The run's weight decay (``run.weight_decay``) is set on every parameter group; the distance
    the quantized weights travel (:class:`stelab.qat.metrics.PathLength`, the authors' Ē
    denominator) is kept under ``path_length``. Returns the final checkpoint (CPU tensors).
    """
    run = ckpt["run"]
    device = torch.device(device) if device is not None else pick_device()
    configure_backends(run, device)
    keep_heap()
    ckpt = {**ckpt, "history": list(ckpt["history"]), "timings": list(ckpt.get("timings", [])),
            "snapshots": {"steps": list(ckpt["snapshots"]["steps"]),
                          "weights": {k: list(v) for k, v in ckpt["snapshots"]["weights"].items()}}}
    model, opt = load_into(ckpt, device)
    model.train()
    for g in opt.param_groups:
        g["weight_decay"] = run.weight_decay
    path = PathLength(quantized_layers(model), ckpt.get("path_length"))
    spe, total = run.steps_per_epoch, run.total_steps
    stop = total if stop_step is None else min(int(stop_step), total)
    step = int(ckpt["step"])
    if isinstance(data["train"], tuple):
        data = {k: (x.to(device), y.to(device)) for k, (x, y) in data.items()}  # no-op when already there
    n_train = len(data["train"][1]) if isinstance(data["train"], tuple) else len(data["train"].dataset)
    if n_train != run.n_train:
        raise ValueError(f"training set has {n_train} examples but the run was set up for {run.n_train}")
    every = int(run.track_every or 0)
    with Progress(label, stop, start=step, stream=stream) as bar:
        bar.log(f"{run.optimizer} {run.variant} seed {run.seed}: steps {step}→{stop} of {total} on {device}")
        monitor = DivergenceMonitor(ckpt, on_divergence, bar.log)
        if step == run.fork_step or not ckpt["snapshots"]["steps"]:
            _snapshot(model, ckpt, step)  # run start (fresh or fork); a resumed run has it already
            path.mark(step)
        fit_loss, fit_n = ckpt.get("fit", (0.0, 0))
        t_epoch = time.perf_counter()
        base_ests = {n: pq.estimator for n, (_, pq) in quantized_layers(model).items()}
        while step < stop:
            epoch = step // spe
            for n, (_, pq) in quantized_layers(model).items():
                pq.estimator = base_ests[n].at_epoch(epoch, run.epochs)
            for x, y, key in _epoch_batches(data, run, epoch, step % spe, device):
                if batch_hook is not None:
                    batch_hook(step, key)
                factor = lr_schedule(step, total, run.warmup_frac) * run.lr_factor
                for g in opt.param_groups:
                    g["lr"] = run.lr * g["lr_scale"] * factor
                with autocast(run, device):
                    loss = nn.functional.cross_entropy(model(x), y)
                lv = float(loss.detach())
                monitor.after_loss(step, epoch, lv)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                path.before_step()
                opt.step()
                path.after_step()
                step += 1
                fit_loss, fit_n = fit_loss + lv * len(y), fit_n + len(y)
                bar.update()
                if every and step % every == 0 or step == stop:
                    _snapshot(model, ckpt, step)
                    path.mark(step)
                if step % spe == 0:
                    row = {"epoch": step // spe, "step": step, "lr": run.lr * factor,
                           "fit_loss": fit_loss / max(fit_n, 1), **_epoch_metrics(model, data, run, device, step == total)}
                    seconds = time.perf_counter() - t_epoch
                    ckpt["history"].append(row)
                    ckpt["timings"].append({"epoch": row["epoch"], "step": step, "seconds": seconds})
                    bar.log(f"epoch {row['epoch']} step {step}: train loss {row['train_loss']:.4f} acc "
                            f"{row['train_acc']:.4f}, val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f} "
                            f"({seconds:.1f} s)")
                    fit_loss, fit_n, t_epoch = 0.0, 0, time.perf_counter()
                if step % spe == 0 or step == stop:
                    monitor.check_weights(step, epoch, plain_named_parameters(model))
                if step % spe == 0:
                    monitor.check_epoch(step, epoch, ckpt["history"])
                if checkpoint_path and checkpoint_every and step % checkpoint_every == 0 and step < stop:
                    state = export_checkpoint(model, opt, ckpt, step, (fit_loss, fit_n))
                    save_checkpoint(checkpoint_path, {**state, "path_length": path.state()})
                if step == stop or step % spe == 0:
                    break
    return {**export_checkpoint(model, opt, ckpt, step, (fit_loss, fit_n)), "path_length": path.state()}
