# QAT rules (paper A §6): pretrain the Q̂-net → fork → train each branch → compare → tables.
#
# One chain per bit width × optimizer × learning-rate factor × seed:
#   results/qat/b{bits}/{optimizer}/lr{factor}/seed{seed}/pretrain.pt             qat_pretrain
#   results/qat/b{bits}/{optimizer}/lr{factor}/seed{seed}/{variant}/init.pt       qat_fork
#   results/qat/b{bits}/{optimizer}/lr{factor}/seed{seed}/{variant}/final.pt      qat_train_branch
# Factor 1 runs every variant of qat.variants[optimizer] at qat.quantize.bits and at every
# qat.extra_bits width; the other factors of qat.lr_sweep.factors run the baseline pair
# (qhat, ste) at qat.quantize.bits only. Uses MNIST_FILES and
# mnist_dir() from data.smk and ALL_TARGETS / NOTEBOOKS from common.smk. A ResNet model
# (qat.model.name resnet50/resnet18) trains on data.imagefolder instead: the training rules
# then take the check_imagefolder output as input and pass the ImageFolder root as --data.

import json

from stelab.estimators import get_estimator

QAT = config["qat"]
QAT_DIR = "results/qat"
QAT_LOGS = "results/logs/qat"
QAT_TABLES = "results/tables"
# the keys that change what a training job computes (others only affect compare/report)
QAT_RUN_KEYS = ("model", "quantize", "estimator", "optimizers", "epochs", "batch_size", "warmup_frac",
                "track_every", "pretrain_fraction", "train_subset", "val_subset", "eval_train_subset",
                "lr_tweak", "ste_lr_scope", "extra_bits", "image_size", "amp", "channels_last", "deterministic",
                "cudnn_benchmark")
QAT_SETTINGS = json.dumps({k: QAT[k] for k in QAT_RUN_KEYS if k in QAT}, sort_keys=True)
QAT_THREADS = QAT.get("threads", 1)
for _opt in [*QAT["optimizers"], *QAT.get("lr_sweep", {}).get("optimizers", [])]:
    if _opt not in QAT["optimizers"]:
        raise ValueError(f"config key qat.lr_sweep.optimizers: {_opt!r} is not a key of qat.optimizers")
    if _opt not in QAT["variants"] or "qhat" not in QAT["variants"][_opt]:
        raise ValueError(f"config key qat.variants.{_opt}: missing, or lacks 'qhat' (every pair compares against it)")
QAT_GPU = QAT.get("gpu", 0)
QAT_MEM_MB = QAT.get("mem_mb", 3000)  # training jobs; fork and compare get at least this too
QAT_RUNTIME = QAT.get("runtime_min")  # null: 60 min per pretraining job, 120 per branch job
QAT_IMAGEFOLDER = QAT.get("model", {}).get("name", "mnist_convnet") != "mnist_convnet"
QAT_DATA_FILES = [IMAGEFOLDER_CHECK] if QAT_IMAGEFOLDER else MNIST_FILES
QAT_LOADER = f"--workers {QAT.get('workers', 0)}" + (" --pin-memory" if QAT.get("pin_memory", True) else "")
QAT_BITS = QAT.get("quantize", {}).get("bits", 2)
QAT_ALL_BITS = [QAT_BITS] + [e["bits"] for e in QAT.get("extra_bits", []) if e["bits"] != QAT_BITS]
for _i, _extra in enumerate(QAT.get("extra_bits", [])):
    try:
        get_estimator(_extra["estimator"])
    except ValueError as _exc:
        raise ValueError(f"config key qat.extra_bits[{_i}].estimator: {_exc}") from None


QAT_OUT = {
    "runs": f"{QAT_DIR}/runs.tsv",
    "pairs": f"{QAT_DIR}/pairs.tsv",
    "tracking": f"{QAT_DIR}/tracking.tsv",
    "scatter": f"{QAT_DIR}/scatter.npz",
}
QAT_TABLE_NAMES = ("qat_table3", "qat_table4", "qat_table5", "qat_lr_sweep")
QAT_TABLE_FILES = [f"{QAT_TABLES}/{n}.{ext}" for n in QAT_TABLE_NAMES for ext in ("csv", "tex", "tsv")]
QAT_SWEEP_FIT = f"{QAT_TABLES}/qat_lr_sweep_fit.json"


QAT_WILDCARDS = {"bits": r"\d+", "optimizer": "sgd|momentum|adam", "factor": r"[0-9.]+", "seed": r"\d+",
                 "variant": "qhat|ste|lrtweak|unadjusted"}


rule qat_pretrain:
    wildcard_constraints:
        **QAT_WILDCARDS,
    input:
        data=QAT_DATA_FILES,
    output:
        f"{QAT_DIR}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/pretrain.pt",
    params:
        data=qat_data_dir,
        qat=QAT_SETTINGS,
        loader=QAT_LOADER,
    log:
        f"{QAT_LOGS}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/pretrain.log",
    threads: QAT_THREADS
    resources:
        mem_mb=QAT_MEM_MB,
        runtime=QAT_RUNTIME or 60,
        gpu=QAT_GPU,
    conda:
        STELAB_ENV
    shell:
        "stelab pretrain --data {params.data:q} --qat {params.qat:q} --optimizer {wildcards.optimizer} "
        "--seed {wildcards.seed} --lr-factor {wildcards.factor} --bits {wildcards.bits} --out {output:q} "
        "--threads {threads} {params.loader} "
        "> {log:q} 2>&1"


rule qat_fork:
    wildcard_constraints:
        **QAT_WILDCARDS,
    input:
        f"{QAT_DIR}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/pretrain.pt",
    output:
        f"{QAT_DIR}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/{{variant}}/init.pt",
    params:
        qat=QAT_SETTINGS,
    log:
        f"{QAT_LOGS}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/{{variant}}/fork.log",
    threads: 1
    resources:
        mem_mb=max(2000, QAT_MEM_MB),
        runtime=10,
    conda:
        STELAB_ENV
    shell:
        "stelab fork --pretrained {input:q} --variant {wildcards.variant} --qat {params.qat:q} "
        "--out {output:q} > {log:q} 2>&1"


rule qat_train_branch:
    wildcard_constraints:
        **QAT_WILDCARDS,
    input:
        init=f"{QAT_DIR}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/{{variant}}/init.pt",
        data=QAT_DATA_FILES,
    output:
        final=f"{QAT_DIR}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/{{variant}}/final.pt",
        history=f"{QAT_DIR}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/{{variant}}/history.tsv",
        snapshots=f"{QAT_DIR}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/{{variant}}/snapshots.pt",
    params:
        data=qat_data_dir,
        every=QAT.get("checkpoint_every", 200),
        loader=QAT_LOADER,
    log:
        f"{QAT_LOGS}/b{{bits}}/{{optimizer}}/lr{{factor}}/seed{{seed}}/{{variant}}/train.log",
    threads: QAT_THREADS
    resources:
        mem_mb=QAT_MEM_MB,
        runtime=QAT_RUNTIME or 120,
        gpu=QAT_GPU,
    conda:
        STELAB_ENV
    shell:
        "stelab train-branch --init {input.init:q} --data {params.data:q} --out {output.final:q} "
        "--history {output.history:q} --snapshots {output.snapshots:q} "
        "--checkpoint-every {params.every} --threads {threads} {params.loader} > {log:q} 2>&1"


rule qat_compare:
    input:
        runs=qat_branch_files("final.pt"),
        snapshots=qat_branch_files("snapshots.pt", main_only=True),
    output:
        runs=QAT_OUT["runs"],
        pairs=QAT_OUT["pairs"],
        tracking=QAT_OUT["tracking"],
        scatter=QAT_OUT["scatter"],
    params:
        points=QAT.get("scatter_points", 4000),
        bits=QAT_BITS,
    log:
        f"{QAT_LOGS}/compare.log",
    threads: 1
    resources:
        mem_mb=max(4000, QAT_MEM_MB),
        runtime=30,
    conda:
        STELAB_ENV
    shell:
        "stelab compare --runs {input.runs:q} --snapshots {input.snapshots:q} "
        "--runs-out {output.runs:q} --pairs-out {output.pairs:q} --tracking-out {output.tracking:q} "
        "--scatter-out {output.scatter:q} --scatter-points {params.points} --scatter-bits {params.bits} "
        "> {log:q} 2>&1"


rule qat_tables:
    input:
        pairs=QAT_OUT["pairs"],
        runs=QAT_OUT["runs"],
    output:
        [f for f in QAT_TABLE_FILES if not f.endswith(".csv")],
        table3=report(f"{QAT_TABLES}/qat_table3.csv", caption="../report/qat_table3.rst", category="QAT (MNIST)"),
        table4=report(f"{QAT_TABLES}/qat_table4.csv", caption="../report/qat_table4.rst", category="QAT (MNIST)"),
        table5=report(f"{QAT_TABLES}/qat_table5.csv", caption="../report/qat_table5.rst", category="QAT (MNIST)"),
        sweep=report(f"{QAT_TABLES}/qat_lr_sweep.csv", caption="../report/qat_lr_sweep.rst", category="QAT (MNIST)"),
        fit=QAT_SWEEP_FIT,
    params:
        out=lambda wildcards, output: os.path.dirname(output[0]),
    log:
        f"{QAT_LOGS}/tables.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        STELAB_ENV
    shell:
        "stelab qat-tables --pairs {input.pairs:q} --runs {input.runs:q} --out-dir {params.out:q} > {log:q} 2>&1"


ALL_TARGETS.extend([*QAT_OUT.values(), *QAT_TABLE_FILES, QAT_SWEEP_FIT])
NOTEBOOKS["qat"] = {
    "inputs": {
        **QAT_OUT,
        "table3": f"{QAT_TABLES}/qat_table3.csv",
        "table4": f"{QAT_TABLES}/qat_table4.csv",
        "table5": f"{QAT_TABLES}/qat_table5.csv",
        "sweep": f"{QAT_TABLES}/qat_lr_sweep.csv",
        "sweep_fit": QAT_SWEEP_FIT,
    }
}
