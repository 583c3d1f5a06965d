"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted job therefore never leaves a valid-looking partial file behind, and a job with
several outputs (:func:`atomic_paths`) renames them only once every one has been written. A
failed write (unwritable folder, disk full) raises an :class:`OSError` that names the target.
Torch files are serialised in memory first (:func:`torch_bytes`), so their bytes depend only on
their content, never on the temporary file's name.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path


def _output_error(path: Path, exc: OSError) -> OSError:
    """``exc`` restated for the target ``path`` (same errno, hence the same OSError subclass)."""
    reason = exc.strerror or str(exc)
    if exc.errno is None:
        return OSError(f"cannot write {path}: {reason}")
    return OSError(exc.errno, f"cannot write {path}: {reason}")


def _about_output(exc: OSError, names) -> bool:
    """Whether ``exc`` concerns the output (a write on it, or a call naming it), not another file."""
    named = {str(n) for n in (exc.filename, exc.filename2) if n is not None}
    return not named or bool(named & set(names))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched; an OSError
    (folder not creatable or writable, disk full, …) is re-raised naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and _about_output(exc, (tmp, str(path))):
            raise _output_error(path, exc) from exc
        raise


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike):
    """:func:`atomic_path` for several outputs: yields their temporary paths (in order) and renames
    them onto their targets only when the block succeeds, so a failed job leaves none of them."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(atomic_path(p)) for p in paths]


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_table(path, df, **kwargs) -> None:
    """Write a DataFrame as TSV (``.tsv``) or CSV (``.csv``), atomically (LaTeX: :mod:`stelab.report.latex`)."""
    suffix = Path(path).suffix
    with atomic_path(path) as tmp:
        if suffix == ".tsv":
            df.to_csv(tmp, sep="\t", index=False, **kwargs)
        elif suffix == ".csv":
            df.to_csv(tmp, index=False, **kwargs)
        else:
            raise ValueError(f"unsupported table format {suffix!r} for {path}")


def torch_bytes(obj) -> bytes:
    """``torch.save`` of ``obj`` into memory, with bytes that depend only on its content.

    A file's name would otherwise become the archive's folder name, and pickle's memo follows
    object identity (a string or tuple shared between two places is written once, then referred
    to), so ``obj`` is first rebuilt with fresh dicts, lists and tuples and interned strings
    (:func:`_canonical`): a checkpoint resumed from disk and one kept in memory then give the
    same bytes.
    """
    import torch

    buffer = io.BytesIO()
    torch.save(_canonical(obj), buffer)
    return buffer.getvalue()


def _canonical(obj):
    """``obj`` with every mapping rebuilt as a plain dict, every list and tuple rebuilt, every string
    a plain interned ``str``; tensors and numbers as they are."""
    if isinstance(obj, str):
        return sys.intern(str(obj))
    if isinstance(obj, dict):
        return {_canonical(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_canonical(v) for v in obj)
    return obj


def save_torch(path, obj) -> None:
    """Write ``obj`` as a torch file, atomically, with bytes that depend only on its content."""
    write_bytes(path, torch_bytes(obj))


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot serialise {type(o).__name__} to JSON")
