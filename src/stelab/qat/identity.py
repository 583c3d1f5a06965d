"""The identity of a training job: everything that determines its result.

A job of paper A's chain (arXiv 2405.05171, §6.1: pretraining, then each branch) maps a start
checkpoint and the data to a trained checkpoint. Its result is fixed by

* ``run``: the run settings (:class:`~stelab.qat.settings.RunSettings`: model, quantization,
  estimators, optimiser, schedule, seed, the fork's fields);
* ``start``: SHA-256 of the checkpoint it starts from: for pretraining the He-uniform init
  serialised (a function of the run and of torch's init code), for a branch the bytes of the
  fork's ``init.pt`` (content only: :func:`stelab.io.torch_bytes`);
* ``data``: SHA-256 of the tensors it trains and evaluates on (MNIST: the training and
  validation images and labels after the subsets, shapes and dtypes included), or for an
  ImageFolder of its listing (relative path and size of every image: reading ImageNet's
  150 GB in every job would cost more than a short job);
* ``code``, only when the run names a user estimator: the SHA-256 of its module's source
  (:func:`stelab.config.user_code`), so a resume checkpoint written before the module was edited
  is not continued with the new code (absent otherwise, so such checkpoints keep their bytes);
* the numerics: ``threads`` (torch's CPU thread count: reductions are split per thread, so 1
  and 2 threads round differently), ``device``, and the ``stelab`` and ``torch`` versions;
* ``source``: the digest of the stelab package's source (:func:`stelab.config.identity.package_digest`), since
  its version number stays the same while its code changes.

Every checkpoint a training job writes records its identity; a resume checkpoint whose identity
differs from the job's is discarded (:func:`identity_differences` says what differed). Two jobs
with the same identity produce bit-identical checkpoints on the CPU. Two branches are compared
(paper A §6.2, Ē of eq. 5) only when their numerics agree (:func:`numerics_differences`): thread
rounding would otherwise enter Ē.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .. import __version__
from ..config import user_code
from ..config.identity import package_digest

#: keys of an identity, in the order differences are reported
IDENTITY_KEYS = ("run", "start", "data", "code", "threads", "device", "stelab", "torch", "source")
#: the keys two compared branches must share
NUMERICS_KEYS = ("threads", "device", "stelab", "torch", "source")


def bytes_digest(data: bytes) -> str:
    """SHA-256 of ``data`` (hex)."""
    return hashlib.sha256(data).hexdigest()


def tensors_digest(tensors) -> str:
    """SHA-256 over ``tensors`` in order, each with its dtype and shape (equal iff bit-identical)."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().to("cpu").contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def tensor_data_digest(data: dict) -> str:
    """SHA-256 of a run's in-memory data: training and validation (x, y) (``eval_train`` is a
    prefix of ``train`` fixed by the run's ``eval_train_subset``)."""
    return tensors_digest([*data["train"], *data["val"]])


def imagefolder_digest(root) -> str:
    """SHA-256 of an ImageFolder's listing: the relative path and size of every file under train/ and val/."""
    root = Path(root)
    h = hashlib.sha256()
    for split in ("train", "val"):
        for path in sorted(p for p in (root / split).rglob("*") if p.is_file()):
            h.update(f"{path.relative_to(root).as_posix()}\0{path.stat().st_size}\n".encode())
    return h.hexdigest()


def job_identity(run, *, start: str, data: str, device: str) -> dict:
    """The identity of a job training ``run`` from the start checkpoint with digest ``start`` on the
    data with digest ``data`` on ``device`` (:func:`stelab.qat.device.device_name`), with this
    process's torch thread count and the installed versions (and ``code`` when it names user code)."""
    settings = run.to_dict()
    code = user_code(settings)
    return {"run": settings, "start": start, "data": data, **({"code": code} if code else {}),
            "threads": torch.get_num_threads(), "device": device, "stelab": __version__,
            "torch": str(torch.__version__), "source": package_digest()}


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def identity_differences(saved: dict | None, current: dict) -> list[str]:
    """What differs between a checkpoint's recorded identity and the job's, one phrase per item
    (``run.lr: 0.5 → 0.01``, ``data: sha256 1f2e3d4c… → 9a8b7c6d…``); empty when they agree."""
    if not isinstance(saved, dict):
        return ["it records no job identity"]
    out = []
    for key in IDENTITY_KEYS:
        old, new = saved.get(key), current.get(key)
        if old == new:
            continue
        if key == "run" and isinstance(old, dict) and isinstance(new, dict):
            out += [f"run.{k}: {_short(old.get(k))} → {_short(new.get(k))}"
                    for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        elif key in ("start", "data") and isinstance(old, str) and isinstance(new, str):
            out.append(f"{key}: sha256 {old[:8]}… → {new[:8]}…")
        else:
            out.append(f"{key}: {_short(old)} → {_short(new)}")
    return out


def numerics_differences(a: dict | None, b: dict | None) -> list[str]:
    """``field: a vs b`` for every :data:`NUMERICS_KEYS` field in which two recorded identities differ
    (nothing when either records none: an identity-less checkpoint is not a training job's output)."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    return [f"{key}: {_short(a.get(key))} vs {_short(b.get(key))}" for key in NUMERICS_KEYS if a.get(key) != b.get(key)]
