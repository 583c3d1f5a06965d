"""Overhead of quantization-aware training: float vs STE vs HTGE, seconds per epoch.

The MNIST convnet of paper A (arXiv 2405.05171) §6.1 with 2-bit conv kernels. All three run in
this process through the same training loop (:func:`stelab.qat.loop.train`),
interleaved round by round (the order rotates each round) so that machine load affects them
alike; the median over rounds is printed with its ratio to float (target: quantized ≤ 1.05×).

    python benchmarks/qat_overhead.py                       # random 28×28 images
    python benchmarks/qat_overhead.py --data results/data/mnist --n-train 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import torch

from stelab.qat.checkpoints import init_checkpoint
from stelab.qat.inputs import prepare_data
from stelab.qat.loop import train
from stelab.optimizers import OPTIMIZERS
from stelab.qat.settings import make_run

KINDS = {
    "float": ("ste", []),
    "ste": ("ste", ["conv*.weight"]),
    "htge": ({"name": "htge", "k0": 5.5}, ["conv*.weight"]),
}


def raw_data(data_dir: str | None, n_train: int) -> dict:
    if data_dir:
        from stelab.data.idx import load_mnist

        return load_mnist(data_dir)
    g = torch.Generator().manual_seed(0)
    return {"train": (torch.randint(0, 256, (n_train, 28, 28), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (n_train,), generator=g)),
            "test": (torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1, dtype=torch.long))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder with the MNIST IDX files (default: random images)")
    ap.add_argument("--n-train", type=int, default=10000, help="training images per epoch (default 10000)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", default="momentum", choices=OPTIMIZERS)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    raw = raw_data(args.data, args.n_train)
    data = prepare_data(raw, train_subset=args.n_train, val_subset=1, eval_train_subset=1, device=args.device)
    n = len(data["train"][1])
    times = {k: [] for k in KINDS}
    kinds = list(KINDS)
    for r in range(args.rounds + 1):  # round 0 warms up every code path and is discarded
        for kind in kinds[r % 3:] + kinds[: r % 3]:
            est, params = KINDS[kind]
            run = make_run(est, n, optimizer=args.optimizer, epochs=1, batch_size=args.batch_size,
                           lr=1e-3, track_every=0, quantize={"bits": 2, "layout": "range", "params": params})
            start = init_checkpoint(run)
            t0 = time.perf_counter()
            train(start, data, device=args.device, stream=io.StringIO())
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            if r:
                times[kind].append(time.perf_counter() - t0)
    base = statistics.median(times["float"])
    print(f"{n} images/epoch, batch {args.batch_size}, {args.optimizer}, {args.device}, {args.threads} thread(s), "
          f"{args.rounds} interleaved rounds")
    print(f"{'kind':6s} {'s/epoch (median)':>17s} {'ratio to float':>15s}   all rounds")
    for kind, ts in times.items():
        med = statistics.median(ts)
        print(f"{kind:6s} {med:17.3f} {med / base:15.3f}   " + " ".join(f"{t:.3f}" for t in ts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
