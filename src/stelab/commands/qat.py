"""QAT commands of paper A (arXiv 2405.05171) §6: ``pretrain``, ``fork``, ``train-branch``, ``compare``, ``qat-tables``.

The chain for one optimiser, learning-rate factor and seed is::

    stelab pretrain      → the Q̂-net trained for a fraction f of the schedule (the fork point)
    stelab fork          → one branch (qhat / ste / lrtweak / unadjusted) from the fork point
    stelab train-branch  → that branch trained to the end of the schedule
    stelab compare       → Ē, agreement, accuracy/loss differences, tracking, scatter (all branches)
    stelab qat-tables    → Tables 3–5 and the learning-rate sweep as CSV, LaTeX and TSV

``--data`` is the MNIST IDX folder, or for a ResNet (qat.model.name resnet50 / resnet18) the
ImageFolder root holding train/ and val/ (config data.imagefolder), read through DataLoaders.
``--qat`` is checked against the config schema's ``qat`` section (:func:`stelab.config.validate_section`)
and every numeric argument against its range before any work starts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..optimizers import OPTIMIZERS
from ..qat.device import DEVICES
from ..qat.divergence import ON_DIVERGENCE
from ..qat.settings import LR_TWEAK, PAIRS, VARIANTS

DATA_HELP = ("folder holding the four MNIST IDX files, or for a ResNet model the ImageFolder root "
             "(train/ and val/ with the same class folders)")
QAT_HELP = ("the qat settings: a YAML/JSON config file with a top-level 'qat:' section, "
            "or the section itself as an inline JSON object")


def load_qat_settings(value: str) -> dict:
    """The ``qat`` section from an inline JSON object or a YAML/JSON config file, validated
    (:func:`stelab.config.validate_qat_job`), defaults filled in."""
    text = value.strip()
    if text.startswith("{"):
        try:
            section = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--qat: inline JSON is malformed ({exc})") from None
    else:
        path = Path(value)
        if not path.exists():
            raise FileNotFoundError(f"--qat: config file {path} does not exist")
        import yaml

        cfg = yaml.safe_load(path.read_text()) or {}
        if not isinstance(cfg, dict) or "qat" not in cfg:
            raise ValueError(f"--qat: {path} has no top-level 'qat' section")
        section = cfg["qat"]
    from ..config import validate_qat_job

    return validate_qat_job(section)


def _positive_finite(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def _non_negative(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _seed_in_range(seed: int) -> None:
    from ..config import SEED_MAX

    if seed > SEED_MAX:
        raise ValueError(f"--seed must be <= {SEED_MAX} (torch's generators take a signed 64-bit seed), got {seed}")


def _setup_threads(threads: int) -> None:
    import torch

    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def _add_train_args(p, out_help: str) -> None:
    """Arguments of the training commands: data, output checkpoint, threads, resume file, loaders."""
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the rule's `threads`; default 1)")
    p.add_argument("--checkpoint", metavar="PT",
                   help="resume file, written every --checkpoint-every steps and removed on success "
                        "(default: OUT.ckpt); an existing one is resumed only when the same job wrote it "
                        "(run settings, start checkpoint, data, threads, device, versions), else discarded; "
                        "a damaged one is renamed PT.corrupt")
    p.add_argument("--checkpoint-every", type=int, default=200, metavar="N",
                   help="steps between checkpoints (0: never; default 200)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto: CUDA when visible, else the CPU; cuda: fail before training when no GPU is "
                        "visible; cpu: the CPU even when a GPU is visible. Default auto; the workflow passes cpu, "
                        "or cuda when qat.gpu > 0")
    p.add_argument("--on-divergence", choices=ON_DIVERGENCE, default="stop",
                   help="qat.on_divergence: stop the job when the run diverges (default), or keep the run "
                        "marked diverged (left out of the tables' means)")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="DataLoader worker processes for an ImageFolder (default 0; batches do not depend on it)")
    p.add_argument("--pin-memory", action="store_true",
                   help="page-locked ImageFolder batches for asynchronous copies to the GPU (used on CUDA only)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pretrain", help="train the Q̂-net up to the fork point (fraction f of the schedule)",
        description="Build the quantized model (He-uniform init from --seed), train it with the Q̂-net's "
                    "estimator for round(f · total steps) steps (qat.pretrain_fraction; f = 0 forks at init) "
                    "and save the checkpoint every branch starts from.")
    p.add_argument("--qat", required=True, help=QAT_HELP)
    p.add_argument("--optimizer", required=True, choices=OPTIMIZERS, help="a key of qat.optimizers")
    p.add_argument("--seed", type=int, required=True, help="init and batch-order seed")
    p.add_argument("--lr-factor", type=float, default=1.0, help="multiply η (learning-rate sweep; default 1)")
    p.add_argument("--bits", type=int, help="weight bit width: qat.quantize.bits (default) or one of qat.extra_bits")
    _add_train_args(p, "fork-point checkpoint (.pt)")
    p.set_defaults(func=_pretrain)

    p = subparsers.add_parser(
        "fork", help=f"derive one branch ({', '.join(VARIANTS)}) from the fork point",
        description="qhat: unchanged. ste: STE-net (SGD/momentum: w → M(w), lr α·η, momentum b → b/Q̂'(w); "
                    "Adam: w kept, m → m/Q̂'(w), v → v/Q̂'(w)²; clipped STE where Q̂' vanishes, App. G). "
                    f"lrtweak: Q̂-net with lr × qat.lr_tweak (default {LR_TWEAK}). unadjusted: the STE-net's "
                    "estimator with w, lr and optimiser state unchanged. The schedule position is kept.")
    p.add_argument("--pretrained", required=True, help="fork-point checkpoint from `stelab pretrain`")
    p.add_argument("--variant", required=True, choices=VARIANTS, help="branch to derive")
    p.add_argument("--qat", help=QAT_HELP + " (reads lr_tweak and ste_lr_scope)")
    p.add_argument("--out", required=True, help="branch start checkpoint (.pt)")
    p.set_defaults(func=_fork)

    p = subparsers.add_parser(
        "train-branch", help="train one forked branch to the end of its schedule",
        description="Continue a branch checkpoint to the end of the schedule (same batch order as every "
                    "other branch of its seed), evaluating each epoch; write the final checkpoint, the "
                    "per-epoch history TSV and the quantized-weight snapshots used for tracking Ē.")
    p.add_argument("--init", required=True, help="branch start checkpoint from `stelab fork`")
    p.add_argument("--history", required=True, help="per-epoch train/val loss and accuracy (.tsv)")
    p.add_argument("--timings", help="wall-clock seconds per epoch (.tsv; default: HISTORY with "
                                     ".timings.tsv for .tsv), kept apart so the history is reproducible")
    p.add_argument("--snapshots", required=True, help="quantized weights every qat.track_every steps (.pt)")
    _add_train_args(p, "final checkpoint (.pt)")
    p.set_defaults(func=_train_branch)

    p = subparsers.add_parser(
        "compare", help="alignment metrics of all branch pairs (Ē, agreement, Table 5 differences)",
        description="Group final branch checkpoints by (bits, optimizer, lr factor, seed) and compare each "
                    "pair: " + ", ".join(f"{pair} ({a} vs {b})" for pair, (a, b) in PAIRS.items()) + ". Ē uses |M(w_Q̂) − w_STE| for the SGD/momentum baseline and the plain "
                    "difference otherwise, normalised by the range length; mean over quantized weights, %.")
    p.add_argument("--runs", nargs="+", required=True, help="final branch checkpoints (grouped by bits, optimizer, lr factor, seed)")
    p.add_argument("--snapshots", nargs="*", default=[], help="snapshot files for Ē over training")
    p.add_argument("--runs-out", required=True, help="per-branch final metrics (.tsv)")
    p.add_argument("--pairs-out", required=True, help="per-pair metrics (.tsv)")
    p.add_argument("--tracking-out", required=True, help="Ē and agreement over training (.tsv)")
    p.add_argument("--scatter-out", required=True, help="Fig. 3 weight pairs (.npz)")
    p.add_argument("--scatter-points", type=int, default=4000, help="weights sampled for Fig. 3 (default 4000)")
    p.add_argument("--scatter-bits", type=int, help="bit width drawn in Fig. 3 (default: 2 if run, else the fewest)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.set_defaults(func=_compare)

    p = subparsers.add_parser(
        "qat-tables", help="Tables 3–5 and the lr sweep (CSV, LaTeX, TSV) from `compare` output",
        description="Mean ± sd over seeds with the paper's MNIST numbers in adjacent columns. Writes "
                    "qat_table3, qat_table4, qat_table5 and qat_lr_sweep as .csv (numbers), .tex "
                    "(formatted) and .tsv, plus qat_lr_sweep_fit.json (log-log slope of Ē vs η).")
    p.add_argument("--pairs", required=True, help="pairs TSV from `stelab compare`")
    p.add_argument("--runs", required=True, help="runs TSV from `stelab compare`")
    p.add_argument("--out-dir", required=True, help="folder for the table files")
    p.set_defaults(func=_tables)


def _default_ckpt(args) -> Path:
    return Path(args.checkpoint) if args.checkpoint else Path(str(args.out) + ".ckpt")


def _check_train_args(args) -> None:
    _non_negative("--checkpoint-every", args.checkpoint_every)
    _non_negative("--workers", args.workers)


def _pretrain(args) -> int:
    from ..qat import jobs

    qat = load_qat_settings(args.qat)
    _positive_finite("--lr-factor", args.lr_factor)
    _non_negative("--seed", args.seed)
    _seed_in_range(args.seed)
    _check_train_args(args)
    _setup_threads(args.threads)
    jobs.pretrain(qat, data_dir=args.data, optimizer=args.optimizer, seed=args.seed,
                  lr_factor=args.lr_factor, bits=args.bits, out=args.out, ckpt_path=_default_ckpt(args),
                  checkpoint_every=args.checkpoint_every, workers=args.workers, pin_memory=args.pin_memory,
                  device=args.device, on_divergence=args.on_divergence)
    return 0


def _fork(args) -> int:
    from ..qat import jobs

    jobs.fork_branch(load_qat_settings(args.qat) if args.qat else {}, pretrained=args.pretrained,
                     variant=args.variant, out=args.out)
    return 0


def _train_branch(args) -> int:
    from ..qat import jobs

    _check_train_args(args)
    _setup_threads(args.threads)
    history = Path(args.history)
    timings = Path(args.timings) if args.timings else history.with_name(f"{history.stem}.timings{history.suffix}")
    jobs.train_branch(init=args.init, data_dir=args.data, out=args.out, history=history, timings=timings,
                      snapshots=args.snapshots, ckpt_path=_default_ckpt(args),
                      checkpoint_every=args.checkpoint_every, workers=args.workers, pin_memory=args.pin_memory,
                      device=args.device, on_divergence=args.on_divergence)
    return 0


def _compare(args) -> int:
    from ..qat import jobs

    _setup_threads(args.threads)
    jobs.compare(runs=args.runs, snapshots=args.snapshots, runs_out=args.runs_out, pairs_out=args.pairs_out,
                 tracking_out=args.tracking_out, scatter_out=args.scatter_out,
                 scatter_points=args.scatter_points, scatter_bits=args.scatter_bits)
    return 0


def _tables(args) -> int:
    from ..qat import jobs

    jobs.write_tables(pairs=args.pairs, runs=args.runs, out_dir=args.out_dir)
    return 0
