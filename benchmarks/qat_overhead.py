"""Speed of quantization-aware training: float vs STE vs HTGE, seconds and GFLOP/s per epoch.

The MNIST convnet of paper A (arXiv 2405.05171) §6.1 with 2-bit conv kernels, trained by the
project's loop (:func:`stelab.qat.loop.train`). FLOPs are counted as 3 × the forward pass
(forward, input gradient, weight gradient): 2·C_out·C_in·k²·H_out·W_out per conv and
2·n_in·n_out for the dense layer, 18.6 MFLOP per image, 1.12 TFLOP per 60 000-image epoch. The
single-thread peak is measured in the same run: a 1024² float32 matmul and the net's conv2
forward at the training batch. Every round runs each kind once, in a rotating order, and the
peaks, so that machine load affects them alike; medians over the rounds (round 0 warms up and
is discarded). Wall time and process CPU time are both shown (CPU time is less sensitive to
other processes on a shared machine). Targets: float ≥ 0.85× the matmul peak, quantized ≤ 1.05×
float. ``--paper`` uses config/paper.yaml's model and training (batch 128, third max-pool, conv
biases quantized, weight decay 2e-4). ``eval`` is the evaluation at the end of an epoch: the
``--eval-train`` training images and 10 000 validation images (the 60 000 + 10 000 evaluated every
epoch before the record, 10 000 + 10 000 since), per 60k training epoch.

    python benchmarks/qat_overhead.py --data /tmp/mnist --n-train 20000 --rounds 3
    python benchmarks/qat_overhead.py --data /tmp/mnist --paper --rounds 3
    python benchmarks/qat_overhead.py --data /tmp/mnist --no-channels-last      # NCHW for comparison
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import torch
from torch import nn

from stelab.optimizers import OPTIMIZERS
from stelab.qat.checkpoints import init_checkpoint
from stelab.qat.inputs import prepare_data
from stelab.qat.loop import train
from stelab.qat.models import MnistConvNet
from stelab.qat.settings import make_run

KINDS = {
    "float": ("ste", []),
    "ste": ("ste", ["conv*.weight"]),
    "htge": ({"name": "htge", "k0": 5.5}, ["conv*.weight"]),
}


def forward_flops_per_image(third_pool: bool = False) -> int:
    """Forward FLOPs of one 28×28 image through :class:`MnistConvNet`."""
    model, side, fwd = MnistConvNet(third_pool=third_pool), 28, 0
    for conv in (model.conv1, model.conv2, model.conv3):
        side -= 2
        fwd += 2 * conv.out_channels * conv.in_channels * 9 * side * side
        if conv is not model.conv3:
            side //= 2
    fwd += 2 * model.fc.in_features * model.fc.out_features
    return fwd


def training_flops_per_image(third_pool: bool = False) -> int:
    """3 × forward FLOPs of one 28×28 image (forward, input gradient, weight gradient)."""
    return 3 * forward_flops_per_image(third_pool)


def matmul_peak(n: int = 1024, reps: int = 20) -> tuple[float, float]:
    """(wall, CPU) GFLOP/s of ``reps`` n×n float32 matmuls."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        a @ b
    flop = 2 * n**3 * reps
    return flop / (time.perf_counter() - t0) / 1e9, flop / (time.process_time() - c0) / 1e9


def conv2_peak(batch: int, channels_last: bool, reps: int = 50) -> tuple[float, float]:
    """(wall, CPU) GFLOP/s of the net's conv2 forward (32→64 channels, 13×13 → 11×11) at ``batch``."""
    conv = nn.Conv2d(32, 64, 3)
    x = torch.rand(batch, 32, 13, 13)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        conv(x)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            conv(x)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    flop = 2 * 64 * 32 * 9 * 11 * 11 * batch * reps
    return flop / wall / 1e9, flop / cpu / 1e9


def eval_seconds(ckpt: dict, raw: dict, n_train: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one end-of-epoch evaluation: ``n_train`` training and all validation images."""
    from stelab.qat.checkpoints import build
    from stelab.qat.evaluation import evaluate

    model, _ = build(ckpt["run"])
    model.load_state_dict(ckpt["model"])
    d = prepare_data(raw, train_subset=n_train, eval_train_subset=n_train)
    if ckpt["run"].channels_last:
        model = model.to(memory_format=torch.channels_last)
        d = {k: (x.contiguous(memory_format=torch.channels_last), y) for k, (x, y) in d.items()}
    t0, c0 = time.perf_counter(), time.process_time()
    evaluate(model, *d["eval_train"])
    evaluate(model, *d["val"])
    return time.perf_counter() - t0, time.process_time() - c0


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
    ap.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                    help="NCHW tensors instead of channels_last")
    ap.add_argument("--paper", action="store_true",
                    help="config/paper.yaml's net and training: batch 128, third max-pool, conv biases quantized, "
                         "weight decay 2e-4 (overrides --batch-size)")
    ap.add_argument("--eval-train", type=int, default=10000,
                    help="training images evaluated per epoch in the 'eval' row (default 10000; 60000 before)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.paper:
        args.batch_size = 128
    raw = raw_data(args.data, max(args.n_train, args.eval_train))
    data = prepare_data(raw, train_subset=args.n_train, val_subset=1, eval_train_subset=1)
    n = len(data["train"][1])
    flop_epoch = training_flops_per_image(args.paper) * 60000
    wall = {k: [] for k in (*KINDS, "eval", "matmul", "conv2")}
    cpu = {k: [] for k in wall}
    kinds = list(KINDS)
    for r in range(args.rounds + 1):  # round 0 warms up every code path and is discarded
        for kind in kinds[r % 3:] + kinds[: r % 3]:
            est, params = KINDS[kind]
            if args.paper and params:
                params = [*params, "conv*.bias"]
            paper = {"model": {"name": "mnist_convnet", "third_pool": True}, "weight_decay": 2e-4} if args.paper else {}
            run = make_run(est, n, optimizer=args.optimizer, epochs=1, batch_size=args.batch_size, lr=1e-3,
                           track_every=0, channels_last=args.channels_last, eval_train_all_at_end=False,
                           quantize={"bits": 2, "layout": "range", "params": params}, **paper)
            start = init_checkpoint(run)
            t0, c0 = time.perf_counter(), time.process_time()
            end = train(start, data, device="cpu", stream=io.StringIO())
            if r:
                wall[kind].append((time.perf_counter() - t0) * 60000 / n)
                cpu[kind].append((time.process_time() - c0) * 60000 / n)
            if kind == "float":
                w, c = eval_seconds(end, raw, args.eval_train)
                if r:
                    wall["eval"].append(w)
                    cpu["eval"].append(c)
        for name, (w, c) in (("matmul", matmul_peak()), ("conv2", conv2_peak(args.batch_size, args.channels_last))):
            if r:
                wall[name].append(w)
                cpu[name].append(c)
    print(f"{n} images/epoch (times scaled to 60 000), batch {args.batch_size}, {args.optimizer}, "
          f"{'channels_last' if args.channels_last else 'NCHW'}, {args.threads} thread(s), {args.rounds} interleaved "
          f"rounds, {flop_epoch / 1e12:.3f} TFLOP per 60k epoch")
    print(f"{'':8s} {'s/epoch wall':>13s} {'GFLOP/s':>8s} {'× float':>8s} {'s/epoch CPU':>12s} {'GFLOP/s':>8s} "
          f"{'× float':>8s}   wall s/epoch of every round")
    base_w, base_c = statistics.median(wall["float"]), statistics.median(cpu["float"])
    for kind in KINDS:
        w, c = statistics.median(wall[kind]), statistics.median(cpu[kind])
        print(f"{kind:8s} {w:13.2f} {flop_epoch / w / 1e9:8.1f} {w / base_w:8.3f} {c:12.2f} "
              f"{flop_epoch / c / 1e9:8.1f} {c / base_c:8.3f}   " + " ".join(f"{t:.2f}" for t in wall[kind]))
    for name in ("matmul", "conv2"):
        print(f"peak {name:7s} {statistics.median(wall[name]):6.1f} GFLOP/s wall, {statistics.median(cpu[name]):6.1f} "
              "GFLOP/s CPU (single thread, same rounds)")
    peak_w, peak_c = statistics.median(wall["matmul"]), statistics.median(cpu["matmul"])
    print(f"float training / matmul peak: {flop_epoch / base_w / 1e9 / peak_w:.3f} wall, "
          f"{flop_epoch / base_c / 1e9 / peak_c:.3f} CPU (target >= 0.85)")
    w, c = statistics.median(wall["eval"]), statistics.median(cpu["eval"])
    print(f"eval of {args.eval_train} training + 10000 validation images: {w:.2f} s wall ({w / base_w:.3f}× a float "
          f"60k epoch), {c:.2f} s CPU ({c / base_c:.3f}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
