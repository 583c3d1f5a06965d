"""stelab: the straight-through estimator in quantization-aware training, reproducibly.

Logic for both tracks lives here; Snakemake rules call :mod:`stelab.cli`.
"""

__version__ = "0.1.0"
