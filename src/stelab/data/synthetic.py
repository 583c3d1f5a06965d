"""Tiny synthetic MNIST-layout IDX sets (seven-segment digits) for smoke runs and tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .idx import IMAGE_SHAPE, N_CLASSES, SPLITS, write_idx
from .manifest import write_manifest

# Seven-segment encoding of the digits 0..9: segments a (top), b (top right), c (bottom
# right), d (bottom), e (bottom left), f (top left), g (middle).
_SEGMENTS = {
    0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc",
    5: "afgcd", 6: "afgedc", 7: "abc", 8: "abcdefg", 9: "abcdfg",
}


def _segment_mask(segment: str, thickness: int) -> np.ndarray:
    """Boolean 28x28 mask of one segment of a 12x18 seven-segment glyph centred in the image."""
    mask = np.zeros(IMAGE_SHAPE, dtype=bool)
    left, right, top, mid, bottom = 8, 19, 5, 13, 22
    t = thickness
    if segment == "a":
        mask[top:top + t, left:right + 1] = True
    elif segment == "g":
        mask[mid:mid + t, left:right + 1] = True
    elif segment == "d":
        mask[bottom - t + 1:bottom + 1, left:right + 1] = True
    elif segment == "f":
        mask[top:mid + t, left:left + t] = True
    elif segment == "b":
        mask[top:mid + t, right - t + 1:right + 1] = True
    elif segment == "e":
        mask[mid:bottom + 1, left:left + t] = True
    elif segment == "c":
        mask[mid:bottom + 1, right - t + 1:right + 1] = True
    return mask


def synthetic_digits(n: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic 28x28 uint8 digit images and their labels (balanced, shuffled).

    ``seed`` is anything ``numpy.random.default_rng`` accepts (an int or a SeedSequence).

    Each image is a seven-segment rendering of its digit with random stroke thickness,
    intensity and a shift of up to ±3 pixels, plus Gaussian pixel noise: learnable by a
    small convnet in a few hundred steps, never trivially separable by a single pixel.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % N_CLASSES).astype(np.uint8)
    images = np.zeros((n,) + IMAGE_SHAPE, dtype=np.uint8)
    masks = {t: {s: _segment_mask(s, t) for s in "abcdefg"} for t in (2, 3)}
    for i, label in enumerate(labels):
        t = int(rng.integers(2, 4))
        glyph = np.zeros(IMAGE_SHAPE, dtype=bool)
        for s in _SEGMENTS[int(label)]:
            glyph |= masks[t][s]
        dy, dx = rng.integers(-3, 4, size=2)
        glyph = np.roll(glyph, (int(dy), int(dx)), axis=(0, 1))
        image = glyph * rng.uniform(150, 255) + rng.normal(0, 25, IMAGE_SHAPE)
        images[i] = np.clip(image, 0, 255).astype(np.uint8)
    return images, labels


def write_synthetic_idx(root, n_train: int, n_test: int, seed: int) -> dict:
    """Write a synthetic MNIST-layout IDX set (same four file names) into ``root``.

    Train and test draws use independent streams derived from ``seed``; the same seed
    gives byte-identical files. The folder's SHA-256 manifest (:mod:`stelab.data.manifest`) is
    written last. Returns ``{"train": n_train, "test": n_test}``.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be >= 1 (got {n_train}, {n_test})")
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (got {seed})")
    root = Path(root)
    train_seed, test_seed = np.random.SeedSequence(seed).spawn(2)
    for split, n, sub in (("train", n_train, train_seed), ("test", n_test, test_seed)):
        images, labels = synthetic_digits(n, sub)
        img_name, lab_name = SPLITS[split]
        write_idx(root / img_name, images)
        write_idx(root / lab_name, labels)
    write_manifest(root)
    return {"train": n_train, "test": n_test}
