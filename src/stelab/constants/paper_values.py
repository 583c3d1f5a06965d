"""The values of paper A's App. H that the constants table places beside the recomputed ones."""

#: App. H: L′L+/(2L−²) for Q̂' = k·sech²(k·w) on [−Δ/2, Δ/2], Δ = 2/(2^b − 1), with Pei et al.'s
#: k per bit width; keys (bits, k), values as printed (2 decimals).
APP_H_HTGE = {(8, 8): 0.25, (4, 6): 2.66, (3, 4): 2.82, (2, 2): 1.77}

#: App. H: DSQ (Gong et al. 2019) with α_dsq ∈ [0.11, 0.25] gives L′L+/L−² in [1.71, 4.28]
#: (α_dsq → printed bound).
APP_H_DSQ = {0.25: 1.71, 0.11: 4.28}
