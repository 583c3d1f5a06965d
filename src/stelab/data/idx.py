"""MNIST's IDX files: read, write and check them, and load the four files of one folder.

MNIST is kept as four raw (uncompressed) IDX files in one folder (:data:`MNIST_FILES`);
:func:`load_mnist` reads them into uint8 images and int64 labels after checking shape,
dtype and label range, and then the bytes read against the folder's SHA-256 manifest
(:mod:`stelab.data.manifest`), naming the offending file on any mismatch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..io import atomic_path

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10

_IDX_UBYTE = 0x08


class DataError(ValueError):
    """A data file or folder is missing, malformed, or failed verification."""


def read_idx(path) -> np.ndarray:
    """Read an unsigned-byte IDX file into a numpy array, checking header and length."""
    return parse_idx(path, _read_bytes(path))


def _read_bytes(path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    return path.read_bytes()


def parse_idx(path, raw: bytes) -> np.ndarray:
    """The unsigned-byte IDX file ``raw`` (read from ``path``, named in errors) as a numpy array."""
    path = Path(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != _IDX_UBYTE:
        raise DataError(f"{path}: IDX element type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(f"{path}: file {what}: {len(raw)} bytes, header {shape} implies {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path, array) -> None:
    """Write a uint8 array as an IDX file, atomically."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx({path}): dtype {array.dtype} is not uint8")
    header = bytes([0, 0, _IDX_UBYTE, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    with atomic_path(path) as tmp:
        tmp.write_bytes(header + array.tobytes())


def check_mnist_array(name: str, array: np.ndarray, path) -> None:
    if "images" in name:
        if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{path}: image array has shape {array.shape}, expected [N, 28, 28]")
    else:
        if array.ndim != 1:
            raise DataError(f"{path}: label array has shape {array.shape}, expected [N]")
        if array.size and int(array.max()) >= N_CLASSES:
            raise DataError(f"{path}: label {int(array.max())} outside 0..{N_CLASSES - 1}")


def check_split(root: Path, images: np.ndarray, labels: np.ndarray, split: str) -> None:
    if len(images) != len(labels):
        raise DataError(
            f"{root}: {split} split has {len(images)} images but {len(labels)} labels "
            f"({SPLITS[split][0]} vs {SPLITS[split][1]})"
        )
    if len(images) == 0:
        raise DataError(f"{root}: {split} split is empty ({SPLITS[split][0]})")


def load_mnist_arrays(root, verify: bool = True) -> dict:
    """Read and validate the four MNIST IDX files in ``root`` as numpy arrays.

    Structure first (header, size, shape, labels, split sizes: the most specific message), then,
    with ``verify``, the bytes read against the folder's manifest (:mod:`stelab.data.manifest`).
    """
    from .manifest import verify_manifest

    root = Path(root)
    out, contents = {}, {}
    for split, (img_name, lab_name) in SPLITS.items():
        arrays = []
        for name in (img_name, lab_name):
            path = root / name
            contents[name] = _read_bytes(path)
            array = parse_idx(path, contents[name])
            check_mnist_array(name, array, path)
            arrays.append(array)
        check_split(root, arrays[0], arrays[1], split)
        out[split] = tuple(arrays)
    if verify:
        verify_manifest(root, contents)
    return out


def load_mnist(root) -> dict:
    """Load MNIST-layout IDX files from ``root``, verified against its manifest.

    Returns ``{"train": (images, labels), "test": (images, labels)}`` with images a uint8
    tensor ``[N, 28, 28]`` and labels an int64 tensor ``[N]`` (values 0..9).
    """
    import torch

    arrays = load_mnist_arrays(root)
    return {
        split: (torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))
        for split, (images, labels) in arrays.items()
    }


def md5sum(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
