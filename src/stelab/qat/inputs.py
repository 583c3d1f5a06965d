"""A run's data: MNIST tensors in memory or ImageFolder DataLoaders, and their evaluation.

Paper A (arXiv 2405.05171) §6.1 trains on MNIST and ImageNet. MNIST (:func:`prepare_data`)
lives in memory as float tensors (no DataLoader); the ResNets
(:data:`stelab.qat.settings.RESNETS`) read an ImageFolder through DataLoaders
(:func:`imagefolder_data`) whose sampler draws the same (seed, epoch) order. Their evaluation
is :mod:`stelab.qat.evaluation`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..data.imagefolder import check_imagefolder, imagefolder_loaders, imagefolder_transforms
from .settings import RunSettings


def to_inputs(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] (or [N, C, H, W]) → float32 [N, C, H, W] in [0, 1]."""
    x = images.float().div_(255.0)
    return x.unsqueeze(1) if x.dim() == 3 else x


def data_for_run(raw: dict, run: RunSettings, device=None) -> dict:
    """:func:`prepare_data` with the run's subset sizes."""
    return prepare_data(raw, run.train_subset, run.val_subset, run.eval_train_subset, device)


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


def imagefolder_data(root, run: RunSettings, workers: int = 0, pin_memory: bool = False) -> dict:
    """DataLoaders ``train``, ``val`` and ``eval_train`` of the ImageFolder at ``root`` for ``run``.

    ``train``: RandomResizedCrop(image_size) + horizontal flip; sample order and every augmentation
    draw seeded by (seed, epoch) (:func:`stelab.data.imagefolder_loaders`), whatever ``workers``;
    the last incomplete batch is dropped. ``val``: Resize + CenterCrop, ``val_subset`` evenly spaced
    images (null: all). ``eval_train``: ``eval_train_subset`` evenly spaced training images under the
    val transform (the per-epoch train loss and accuracy). ``workers`` loader processes and
    ``pin_memory`` (page-locked batches for asynchronous host-to-GPU copies) only change speed.
    """
    from torchvision.datasets import ImageFolder

    if run.train_subset:
        raise ValueError("qat.train_subset: not supported with an ImageFolder model; point data.imagefolder "
                         "at a smaller copy of the dataset")
    loaders = imagefolder_loaders(root, run.batch_size, run.image_size, workers, pin_memory, run.seed)
    if len(loaders.train.dataset) != run.n_train:
        raise ValueError(f"data.imagefolder: {root} has {len(loaders.train.dataset)} training images but the run "
                         f"was set up for {run.n_train}")

    def loader(dataset):
        return torch.utils.data.DataLoader(dataset, batch_size=run.batch_size, shuffle=False, num_workers=workers,
                                           pin_memory=pin_memory, persistent_workers=workers > 0)

    _, val_tf = imagefolder_transforms(run.image_size)
    val = loaders.val if not run.val_subset else loader(_spaced(loaders.val.dataset, run.val_subset))
    eval_train = _spaced(ImageFolder(Path(root) / "train", transform=val_tf), run.eval_train_subset)
    return {"train": loaders.train, "val": val, "eval_train": loader(eval_train)}
