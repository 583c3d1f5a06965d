"""Constants track (paper A, arXiv 2405.05171, §5 and App. H): estimator constants, App. H, Fig. 1."""
