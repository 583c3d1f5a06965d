"""Divergence of a training run: detect it, then stop the job or keep the run marked ``diverged``.

Paper A (arXiv 2405.05171) §6.2 compares two trained branches weight by weight (Ē, eq. 5); a
branch whose weights have blown up gives a meaningless Ē (e.g. 10³⁶ %) and an accuracy at
chance, so such a run must neither pass silently nor enter Tables 3–5. A run *diverges* at the
first of (C classes; ln C is the cross-entropy of a uniform guess; the loss limit is
L = :data:`LOSS_FACTOR` · max(ln C, ln 10), at least 23)

* a non-finite training loss at any step;
* an exploding loss: the batch loss above L for :data:`PATIENCE` consecutive steps, or the mean
  batch loss of an epoch (``fit_loss``, training mode) above L;
* a parameter that is not finite or exceeds :data:`WEIGHT_BOUND` in absolute value (checked at
  every epoch end and where the job stops);
* a collapse to chance: training accuracy at an epoch end at most :data:`CHANCE_FACTOR` / C after
  an earlier epoch end (this run's or its pretraining's) reached :data:`LEARNED_FACTOR` / C.

The thresholds are this workflow's choice, far from every run of §6.1 (losses below ln C after
the first epoch, weights of order m = sqrt(6/fan_in) ≤ 1). The loss checks use training-mode
losses: an evaluation in eval mode early in training (BatchNorm statistics of a few batches) can
be far above L for a run that is fine. ``qat.on_divergence`` (the training
commands' ``--on-divergence``) decides what follows: ``stop`` (default) raises
:class:`DivergenceError` naming the run and the config key to change; ``keep`` records
``{"step", "epoch", "reason"}`` under the checkpoint's ``diverged`` key, trains on to the end
of the schedule, and the comparison marks the run and leaves it out of the tables' means.
"""

from __future__ import annotations

import math

import torch

#: what a training job does once its run diverges (``qat.on_divergence``)
ON_DIVERGENCE = ("stop", "keep")
#: a batch loss above LOSS_FACTOR · max(ln C, ln 10) counts towards an exploding loss
LOSS_FACTOR = 10.0
#: consecutive steps of such a loss that make a run diverged
PATIENCE = 10
#: largest |parameter| of a run that has not diverged
WEIGHT_BOUND = 1e6
#: training accuracy ≤ CHANCE_FACTOR / C at an epoch end is chance level …
CHANCE_FACTOR = 1.2
#: … a collapse when an earlier epoch end reached LEARNED_FACTOR / C
LEARNED_FACTOR = 2.0


class DivergenceError(ValueError):
    """A run diverged and ``qat.on_divergence`` is ``stop``."""


def run_label(run) -> str:
    """``momentum/ste seed 0, 2 bit, lr factor 1``: the run as divergence messages name it."""
    return (f"{run.optimizer}/{run.variant} seed {run.seed}, {run.quantize['bits']} bit, "
            f"lr factor {run.sweep_factor:g}")


class DivergenceMonitor:
    """Checks of one training job; the state (``diverged``, ``loss_streak``) lives in ``ckpt`` so
    that a resumed job continues the same count and keeps an earlier verdict."""

    def __init__(self, ckpt: dict, on_divergence: str, log=print):
        if on_divergence not in ON_DIVERGENCE:
            raise ValueError(f"qat.on_divergence: {on_divergence!r} is not one of {ON_DIVERGENCE}")
        self.ckpt, self.policy, self.log = ckpt, on_divergence, log
        self.run = ckpt["run"]
        ckpt.setdefault("diverged", None)
        ckpt.setdefault("loss_streak", 0)
        self.log_classes = math.log(int(self.run.model.get("num_classes", 10)))
        self.loss_limit = LOSS_FACTOR * max(self.log_classes, math.log(10))
        if ckpt["diverged"] is not None and on_divergence == "stop":
            raise DivergenceError(self._message(ckpt["diverged"], "its start checkpoint is marked diverged: "))

    def _message(self, event: dict, prefix: str = "") -> str:
        return (f"run {run_label(self.run)}: {prefix}diverged at step {event['step']} (epoch {event['epoch']}): "
                f"{event['reason']}. Lower qat.optimizers.{self.run.optimizer}.lr (η = {self.run.lr:g} for this "
                "run), or set qat.on_divergence: keep (--on-divergence keep) to keep the run, marked diverged "
                "and left out of the tables' means")

    def _diverged(self, step: int, epoch: int, reason: str) -> None:
        event = {"step": int(step), "epoch": int(epoch), "reason": reason}
        if self.policy == "stop":
            raise DivergenceError(self._message(event))
        self.ckpt["diverged"] = event
        self.log(f"run {run_label(self.run)} diverged at step {step} (epoch {epoch}): {reason}; kept and "
                 "marked diverged (qat.on_divergence: keep)")

    @property
    def active(self) -> bool:
        """Whether checks still run (a kept run is judged once)."""
        return self.ckpt["diverged"] is None

    def after_loss(self, step: int, epoch: int, loss: float) -> None:
        """Check the batch loss of ``step`` (before its update)."""
        if not self.active:
            return
        if not math.isfinite(loss):
            self._diverged(step, epoch, f"non-finite training loss {loss} at step {step} (epoch {epoch})")
            return
        self.ckpt["loss_streak"] = self.ckpt["loss_streak"] + 1 if loss > self.loss_limit else 0
        if self.ckpt["loss_streak"] >= PATIENCE:
            self._diverged(step, epoch, f"training loss {loss:.4g} above {self.loss_limit:.4g} for {PATIENCE} "
                                        "consecutive steps")

    def check_weights(self, step: int, epoch: int, named_parameters) -> None:
        """Every parameter finite and within ±:data:`WEIGHT_BOUND`."""
        if not self.active:
            return
        for name, p in named_parameters:
            p = p.detach()
            if not bool(torch.isfinite(p).all()):
                self._diverged(step, epoch, f"parameter {name} is not finite")
                return
            largest = float(p.abs().max()) if p.numel() else 0.0
            if largest > WEIGHT_BOUND:
                self._diverged(step, epoch, f"parameter {name} reached |w| = {largest:.3g} > {WEIGHT_BOUND:g}")
                return

    def check_epoch(self, step: int, epoch: int, history: list) -> None:
        """The epoch just ended (``history[-1]``): its mean batch loss against the limit, its training
        accuracy against chance and the earlier epoch ends."""
        if not self.active or not history:
            return
        loss = float(history[-1]["fit_loss"])
        if not loss <= self.loss_limit:
            self._diverged(step, epoch, f"mean training loss {loss:.4g} of epoch {epoch + 1} is above "
                                        f"{self.loss_limit:.4g}")
            return
        chance = 1.0 / math.exp(self.log_classes)
        now = float(history[-1]["train_acc"])
        best = max((float(r["train_acc"]) for r in history[:-1]), default=0.0)
        if best >= LEARNED_FACTOR * chance and now <= CHANCE_FACTOR * chance:
            self._diverged(step, epoch, f"training accuracy fell to {100 * now:.1f} % (chance {100 * chance:.1f} %) "
                                        f"after reaching {100 * best:.1f} %")
