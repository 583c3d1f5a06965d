"""The (seed, epoch) sample order that every paired run shares.

Each epoch's permutation comes from its own generator seeded by (seed, epoch), independent of
any model random stream, so branches forked from one pretraining see identical batches and a
resumed run continues bit-identically.
"""

from __future__ import annotations

import numpy as np

def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed derived from (seed, epoch), independent of any model random stream."""
    state = np.random.SeedSequence([int(seed), int(epoch)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def epoch_permutation(n: int, seed: int, epoch: int):
    """The sample order of ``epoch``: a torch permutation of ``range(n)`` seeded by (seed, epoch)."""
    import torch

    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    return torch.randperm(n, generator=generator)
