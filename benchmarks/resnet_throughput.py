"""Training throughput of ResNet-50: float vs quantized conv kernels (STE, HTGE), images per second.

The ImageNet model of paper A (arXiv 2405.05171) §6.1, every conv kernel 2-bit. The three
models train in this one process on the same synthetic batches, interleaved round by
round (the order rotates) so that clocks and load affect them alike; the median images/s over
rounds is printed with its ratio to float (goal on a GPU: quantized ≥ 0.9× float).

    python benchmarks/resnet_throughput.py                          # GPU if present, else a tiny CPU run
    python benchmarks/resnet_throughput.py --batch-size 256 --bf16 --channels-last --rounds 5
    python benchmarks/resnet_throughput.py --out results/benchmarks/resnet_throughput.tsv
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from stelab.qat.models import RESNET_QUANTIZED, build_model, build_quantized_model

KINDS = {
    "float": ("ste", []),
    "ste": ("ste", RESNET_QUANTIZED),
    "htge": ({"name": "htge", "k0": 5.5}, RESNET_QUANTIZED),
}


def build(kind: str, device, channels_last: bool):
    est, params = KINDS[kind]
    quant = {"bits": 2, "layout": "range", "params": params}
    if params:
        model = build_quantized_model({"name": "resnet50"}, quant, est, seed=0)
    else:
        model = build_model({"name": "resnet50"}, seed=0)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return model, opt


def run_steps(model, opt, x, y, steps: int, bf16: bool) -> float:
    """Seconds for ``steps`` training steps (synchronised on CUDA)."""
    device = x.device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cuda = torch.cuda.is_available()
    ap.add_argument("--batch-size", type=int, default=128 if cuda else 2)
    ap.add_argument("--image-size", type=int, default=224 if cuda else 64)
    ap.add_argument("--steps", type=int, default=20 if cuda else 2, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=5 if cuda else 2, help="interleaved rounds (plus one warm-up)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    ap.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    ap.add_argument("--out", help="also write the table as TSV here")
    args = ap.parse_args(argv)
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        torch.backends.cudnn.benchmark = True
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, generator=g).to(device)
    y = torch.randint(0, 1000, (args.batch_size,), generator=g).to(device)
    if args.channels_last:
        x = x.to(memory_format=torch.channels_last)
    models = {k: build(k, device, args.channels_last) for k in KINDS}
    rates = {k: [] for k in KINDS}
    kinds = list(KINDS)
    for r in range(args.rounds + 1):
        for kind in kinds[r % 3:] + kinds[: r % 3]:
            seconds = run_steps(*models[kind], x, y, args.steps if r else 1, args.bf16)
            if r:
                rates[kind].append(args.steps * args.batch_size / seconds)
    name = torch.cuda.get_device_name() if cuda else "cpu"
    print(f"ResNet-50 training throughput on {name}: batch {args.batch_size}, {args.image_size}px, "
          f"bf16={args.bf16}, channels_last={args.channels_last}, {args.rounds} rounds × {args.steps} steps")
    base = statistics.median(rates["float"])
    lines = ["kind\timages_per_s\tratio_to_float"]
    for kind in KINDS:
        med = statistics.median(rates[kind])
        lines.append(f"{kind}\t{med:.1f}\t{med / base:.3f}")
    print("\n".join(lines))
    if args.out:
        from stelab.io import write_text

        write_text(args.out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
