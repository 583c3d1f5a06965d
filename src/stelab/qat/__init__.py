"""QAT track (paper A, arXiv 2405.05171): runs, training loop, models, fork, metrics, tables, plots."""
