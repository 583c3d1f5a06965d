"""QAT track (paper A, arXiv 2405.05171, §6): run settings, training loop, models, fork, metrics, tables, plots."""
