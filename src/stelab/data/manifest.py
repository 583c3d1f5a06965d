"""The data manifest: the SHA-256 of every MNIST file, written with the data, checked by every reader.

``download-mnist`` (and the import of ``data.folder``) and ``make-synthetic`` write
:data:`MANIFEST` beside the four IDX files, in ``sha256sum`` format (``sha256sum -c SHA256SUMS``
checks it by hand). Every job that reads the data compares the bytes it read with the manifest,
so a file changed after it was written (a same-size corruption included, which the IDX header and
size checks cannot see) stops the job with an error naming the file, instead of being trained on.

Replacing the data on purpose: delete the folder and rerun the data rule, or, for files you put
there yourself, run ``stelab data-manifest FOLDER`` after checking them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..io import write_text
from .idx import MNIST_FILES, DataError

#: file name of the manifest in a data folder
MANIFEST = "SHA256SUMS"
_HOW_TO_REPLACE = ("to replace the data on purpose, delete the folder and rerun its data rule, or run "
                   "`stelab data-manifest {folder}` after checking the files")


def sha256_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def write_manifest(folder, names=MNIST_FILES) -> Path:
    """Write the manifest of ``names`` in ``folder`` (atomically); returns its path.

    A manifest that already says the same is left untouched, so a repeated download keeps its
    modification time and Snakemake does not rerun every job that reads the data.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    text = "".join(f"{sha256_bytes((folder / name).read_bytes())}  {name}\n" for name in names)
    if not (path.is_file() and path.read_text() == text):
        write_text(path, text)
    return path


def read_manifest(folder) -> dict:
    """{file name: sha256} of ``folder``'s manifest; a missing or malformed one raises DataError naming it."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DataError(f"{path}: no data manifest, so the files beside it cannot be verified; "
                        + _HOW_TO_REPLACE.format(folder=folder))
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise DataError(f"{path}: line {number} is not '<sha256>  <file name>'")
        out[name] = digest
    return out


def verify_manifest(folder, contents: dict) -> None:
    """Check the bytes read from ``folder`` (``{file name: bytes}``) against its manifest.

    Raises DataError naming the first file that is not in the manifest or whose SHA-256 differs.
    """
    folder = Path(folder)
    expected = read_manifest(folder)
    for name, raw in contents.items():
        if name not in expected:
            raise DataError(f"{folder / name}: not listed in {folder / MANIFEST}; "
                            + _HOW_TO_REPLACE.format(folder=folder))
        got = sha256_bytes(raw)
        if got != expected[name]:
            raise DataError(f"{folder / name}: content changed since the data was written (sha256 {got[:12]}…, "
                            f"{folder / MANIFEST} records {expected[name][:12]}…); "
                            + _HOW_TO_REPLACE.format(folder=folder))
