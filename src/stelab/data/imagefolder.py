"""ImageFolder datasets (ImageNet layout: root/train/<class>/*.JPEG, root/val/<class>/*.JPEG).

:func:`check_imagefolder` counts classes and images; :func:`imagefolder_loaders` builds the
training loader whose sample order and augmentation draws are seeded by (seed, epoch)
(:mod:`stelab.data.order`), whatever the number of loader workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


from .idx import DataError
from .order import epoch_seed

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

def _class_images(split_dir: Path) -> dict[str, int]:
    counts = {}
    for entry in sorted(os.scandir(split_dir), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith("."):
            counts[entry.name] = sum(
                1 for f in os.scandir(entry.path)
                if f.is_file() and f.name.lower().endswith(IMAGE_EXTENSIONS)
            )
    return counts


def check_imagefolder(root) -> dict:
    """Check an ImageFolder dataset: ``train/`` and ``val/`` with the same class folders.

    Every class folder must hold at least one image. Returns ``{"root", "classes",
    "n_train", "n_val"}``; raises ``FileNotFoundError``/``DataError`` naming what is missing.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"ImageFolder root {root} does not exist or is not a folder")
    counts = {}
    for split in ("train", "val"):
        split_dir = root / split
        if not split_dir.is_dir():
            raise FileNotFoundError(f"ImageFolder root {root} has no {split}/ folder")
        counts[split] = _class_images(split_dir)
        if not counts[split]:
            raise DataError(f"{split_dir} holds no class folders")
        empty = [c for c, k in counts[split].items() if k == 0]
        if empty:
            shown = ", ".join(empty[:5]) + (" ..." if len(empty) > 5 else "")
            raise DataError(
                f"{split_dir}: {len(empty)} class folder(s) hold no images "
                f"({'/'.join(IMAGE_EXTENSIONS)}): {shown}"
            )
    train, val = set(counts["train"]), set(counts["val"])
    if train != val:
        parts = []
        if train - val:
            parts.append(f"val/ lacks {sorted(train - val)[:5]}")
        if val - train:
            parts.append(f"train/ lacks {sorted(val - train)[:5]}")
        raise DataError(f"ImageFolder {root}: train/ and val/ class folders differ: {'; '.join(parts)}")
    return {
        "root": str(root),
        "classes": sorted(train),
        "n_train": sum(counts["train"].values()),
        "n_val": sum(counts["val"].values()),
    }


class EpochSampler:
    """Sampler yielding ``(index, sample_seed)`` in an order seeded by (seed, epoch).

    Call ``set_epoch(epoch)`` before each epoch. Each sample's augmentation seed is drawn
    from the same (seed, epoch) generator, so two loaders built with the same seed yield
    identical batches, including random crops and flips. ``set_epoch(epoch, skip)`` leaves
    out the first ``skip`` samples of that order (a run resumed in the middle of an epoch).
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True):
        self.n, self.seed, self.shuffle, self.epoch, self.skip = n, seed, shuffle, 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = int(epoch), int(skip)

    def __len__(self) -> int:
        return self.n - self.skip

    def __iter__(self):
        import torch

        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        order = torch.randperm(self.n, generator=generator) if self.shuffle else torch.arange(self.n)
        seeds = torch.randint(0, 2**62, (self.n,), generator=generator)
        return iter(list(zip(order.tolist(), seeds.tolist()))[self.skip:])


class SeededTransformDataset:
    """Wrap a torchvision ``ImageFolder``: index with ``(index, seed)`` to transform under ``seed``.

    The transform runs inside ``torch.random.fork_rng`` seeded with the sample's seed, so
    augmentation depends only on (seed, epoch, position) — not on worker count, worker
    scheduling, or the model's random stream: only the CPU generator is reseeded, and
    its state is restored afterwards (CUDA generators are never touched).
    """

    def __init__(self, folder, transform):
        self.folder, self.transform = folder, transform

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, key):
        import torch

        index, seed = key if isinstance(key, tuple) else (key, 0)
        image, label = self.folder[index]
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            return self.transform(image), label


class ImageFolderLoaders(NamedTuple):
    train: object
    val: object
    classes: list


def imagefolder_transforms(image_size: int):
    """(train, val) torchvision transforms: RandomResizedCrop+flip / Resize+CenterCrop, normalised."""
    from torchvision import transforms as T

    normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train = T.Compose([
        T.RandomResizedCrop(image_size),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        normalize,
    ])
    val = T.Compose([
        T.Resize(round(image_size * 256 / 224)),
        T.CenterCrop(image_size),
        T.ToTensor(),
        normalize,
    ])
    return train, val


def imagefolder_loaders(
    root, batch_size: int, image_size: int, workers: int, pin_memory: bool, seed: int
) -> ImageFolderLoaders:
    """DataLoaders for an ImageFolder dataset with (seed, epoch)-determined batches.

    ``train`` shuffles with an ``EpochSampler`` (call ``loaders.train.sampler.set_epoch(e)``
    before each epoch) and drops the last incomplete batch; ``val`` is in file order.

    Identical between two runs with the same seed, on the same software stack: the sample
    order, the batch composition, and every RandomResizedCrop/RandomHorizontalFlip draw
    (seeded per sample), independently of ``workers``. Not covered: image decoding and
    resizing differences between PIL/torchvision versions or machines, and anything a
    training loop does on the GPU afterwards.
    """
    import torch
    from torchvision.datasets import ImageFolder

    info = check_imagefolder(root)
    root = Path(root)
    train_tf, val_tf = imagefolder_transforms(image_size)
    train_set = SeededTransformDataset(ImageFolder(root / "train"), train_tf)
    val_set = ImageFolder(root / "val", transform=val_tf)
    common = dict(
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
    )
    train = torch.utils.data.DataLoader(
        train_set, sampler=EpochSampler(len(train_set), seed), drop_last=True, **common
    )
    val = torch.utils.data.DataLoader(val_set, shuffle=False, **common)
    return ImageFolderLoaders(train, val, info["classes"])
