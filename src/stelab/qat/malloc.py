"""glibc allocator thresholds for CPU training: keep freed activation buffers in the heap.

Training the MNIST convnet of paper A (arXiv 2405.05171) §6.1 on one CPU thread allocates and
frees the same few MB-sized activation and gradient buffers every step. glibc serves blocks
above its mmap threshold (dynamic, from 128 KiB) with fresh ``mmap`` calls and returns heap
tops above the trim threshold to the kernel, so every step pays page faults and zeroing of new
pages. Raising both thresholds (``mallopt(M_MMAP_THRESHOLD)``, ``mallopt(M_TRIM_THRESHOLD)``,
the same as the ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables)
lets the heap keep and reuse those buffers. Numbers are unchanged: only where memory comes from.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: blocks up to this size come from the heap (largest activations of a batch-1000 evaluation ≈ 90 MB)
MMAP_THRESHOLD = 256 * 1024 * 1024
#: free heap top kept before returning memory to the kernel
TRIM_THRESHOLD = 1024 * 1024 * 1024

_done = False


def keep_heap() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where glibc is absent (macOS, musl)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
