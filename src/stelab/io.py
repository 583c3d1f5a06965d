"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted job therefore never leaves a valid-looking partial file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_table(path, df, **kwargs) -> None:
    """Write a DataFrame as TSV (``.tsv``), CSV (``.csv``) or LaTeX (``.tex``), atomically."""
    suffix = Path(path).suffix
    with atomic_path(path) as tmp:
        if suffix == ".tsv":
            df.to_csv(tmp, sep="\t", index=False, **kwargs)
        elif suffix == ".csv":
            df.to_csv(tmp, index=False, **kwargs)
        elif suffix == ".tex":
            tmp.write_text(df.to_latex(index=False, **kwargs))
        else:
            raise ValueError(f"unsupported table format {suffix!r} for {path}")


def save_torch(path, obj) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot serialise {type(o).__name__} to JSON")
