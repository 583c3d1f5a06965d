# QAT rules (paper A, arXiv 2405.05171, §6): pretrain the Q̂-net → fork → train each branch →
# compare → tables.
#
# One chain per bit width × optimizer × learning-rate factor × seed:
#   results/qat/b{bits}/{optimizer}/lr{factor}/seed{seed}/pretrain.pt             qat_pretrain
#   results/qat/b{bits}/{optimizer}/lr{factor}/seed{seed}/{variant}/init.pt       qat_fork
#   results/qat/b{bits}/{optimizer}/lr{factor}/seed{seed}/{variant}/final.pt      qat_train_branch
# Factor 1 runs every variant of qat.variants[optimizer] at qat.quantize.bits and at every
# qat.extra_bits width; the other factors of qat.lr_sweep.factors run the baseline pair
# (qhat, ste) at qat.quantize.bits only. A ResNet model (qat.model.name resnet50/resnet18)
# trains on data.imagefolder: the training rules then take the check_imagefolder output as
# input and pass the ImageFolder root as --data. Training jobs get more memory and time on
# each Slurm retry (attempt 1, 2, 3). A training job's --device follows its gpu resource
# (qat_device): cpu without one, cuda when qat.gpu asks for one (failing at once on a node without
# a visible GPU), auto when only a profile gives one (profiles/slurm). They stop or keep a diverging
# run by qat.on_divergence; a branch's wall-clock seconds per epoch go to timings.tsv, so its
# history.tsv, final.pt and snapshots.pt are byte-identical across identical runs.
# A job's identity for Snakemake (params; a change reruns the job): the run settings, the user
# code its estimator names (qat_user_code), the thread count qat.threads (passed to --threads as
# it is, so a job's numerics never follow --cores), the device asked for, and the stelab,
# Python and torch versions.

from stelab.config import lr_factor_label, software_versions
from stelab.optimizers import OPTIMIZERS
from stelab.qat.settings import RESNETS, RUN_KEYS, VARIANTS

QAT = config["qat"]
QAT_DIR = "results/qat"
QAT_LOGS = f"{LOGS}/qat"
QAT_BENCH = "results/benchmarks/qat"
QAT_TABLES = "results/tables"
QAT_CHAIN = "b{bits}/{optimizer}/lr{factor}/seed{seed}"
QAT_SETTINGS = as_json({k: QAT[k] for k in RUN_KEYS if k in QAT})
QAT_IMAGEFOLDER = QAT["model"]["name"] in RESNETS
QAT_DATA_FILES = [IMAGEFOLDER_CHECK] if QAT_IMAGEFOLDER else MNIST_FILES
QAT_LOADER = f"--workers {QAT['workers']}" + (
    " --pin-memory" if QAT["pin_memory"] else ""
)
QAT_JOB = f"--on-divergence {QAT['on_divergence']}"


QAT_VERSIONS = software_versions()
QAT_BITS = QAT["quantize"]["bits"]
QAT_ALL_BITS = [QAT_BITS] + [e["bits"] for e in QAT["extra_bits"]]
QAT_OUT = {
    "runs": f"{QAT_DIR}/runs.tsv",
    "pairs": f"{QAT_DIR}/pairs.tsv",
    "tracking": f"{QAT_DIR}/tracking.tsv",
    "scatter": f"{QAT_DIR}/scatter.npz",
}
QAT_TABLE_NAMES = ("qat_table3", "qat_table4", "qat_table5", "qat_lr_sweep")
QAT_TABLE_FILES = [
    f"{QAT_TABLES}/{n}.{ext}" for n in QAT_TABLE_NAMES for ext in ("csv", "tex", "tsv")
]
QAT_SWEEP_FIT = f"{QAT_TABLES}/qat_lr_sweep_fit.json"


wildcard_constraints:
    bits=r"\d+",
    optimizer="|".join(OPTIMIZERS),
    factor=r"[0-9.e+-]+",
    seed=r"\d+",
    variant="|".join(VARIANTS),


rule qat_pretrain:
    input:
        data=QAT_DATA_FILES,
    output:
        f"{QAT_DIR}/{QAT_CHAIN}/pretrain.pt",
    log:
        f"{QAT_LOGS}/{QAT_CHAIN}/pretrain.log",
    benchmark:
        f"{QAT_BENCH}/{QAT_CHAIN}/pretrain.tsv"
    conda:
        STELAB_ENV
    threads: QAT["threads"]
    resources:
        mem_mb=lambda wildcards, attempt: QAT["mem_mb"] * attempt,
        runtime=qat_runtime(60),
        gpu=QAT["gpu"],
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        data=qat_data_dir,
        qat=QAT_SETTINGS,
        code=qat_user_code,
        threads=QAT["threads"],
        device=qat_device("qat_pretrain"),
        versions=QAT_VERSIONS,
        loader=QAT_LOADER,
        job=QAT_JOB,
        every=QAT["checkpoint_every"],
    shell:
        "{params.stelab} pretrain --data {params.data:q} --qat {params.qat:q} --optimizer {wildcards.optimizer} "
        "--seed {wildcards.seed} --lr-factor {wildcards.factor} --bits {wildcards.bits} --out {output:q} "
        "--threads {params.threads} --checkpoint-every {params.every} {params.loader} --device {params.device} "
        "{params.job} > {log:q} 2>&1"


rule qat_fork:
    input:
        f"{QAT_DIR}/{QAT_CHAIN}/pretrain.pt",
    output:
        f"{QAT_DIR}/{QAT_CHAIN}/{{variant}}/init.pt",
    log:
        f"{QAT_LOGS}/{QAT_CHAIN}/{{variant}}/fork.log",
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=max(2000, QAT["mem_mb"]),
        runtime=10,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        qat=QAT_SETTINGS,
        code=qat_user_code,
        versions=QAT_VERSIONS,
    shell:
        "{params.stelab} fork --pretrained {input:q} --variant {wildcards.variant} --qat {params.qat:q} "
        "--out {output:q} > {log:q} 2>&1"


rule qat_train_branch:
    input:
        init=f"{QAT_DIR}/{QAT_CHAIN}/{{variant}}/init.pt",
        data=QAT_DATA_FILES,
    output:
        final=f"{QAT_DIR}/{QAT_CHAIN}/{{variant}}/final.pt",
        history=f"{QAT_DIR}/{QAT_CHAIN}/{{variant}}/history.tsv",
        timings=f"{QAT_DIR}/{QAT_CHAIN}/{{variant}}/timings.tsv",
        snapshots=f"{QAT_DIR}/{QAT_CHAIN}/{{variant}}/snapshots.pt",
    log:
        f"{QAT_LOGS}/{QAT_CHAIN}/{{variant}}/train.log",
    benchmark:
        f"{QAT_BENCH}/{QAT_CHAIN}/{{variant}}/train.tsv"
    conda:
        STELAB_ENV
    threads: QAT["threads"]
    resources:
        mem_mb=lambda wildcards, attempt: QAT["mem_mb"] * attempt,
        runtime=qat_runtime(120),
        gpu=QAT["gpu"],
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        data=qat_data_dir,
        code=qat_user_code,
        threads=QAT["threads"],
        device=qat_device("qat_train_branch"),
        versions=QAT_VERSIONS,
        every=QAT["checkpoint_every"],
        loader=QAT_LOADER,
        job=QAT_JOB,
    shell:
        "{params.stelab} train-branch --init {input.init:q} --data {params.data:q} --out {output.final:q} "
        "--history {output.history:q} --timings {output.timings:q} --snapshots {output.snapshots:q} "
        "--checkpoint-every {params.every} --threads {params.threads} {params.loader} --device {params.device} "
        "{params.job} > {log:q} 2>&1"


rule qat_compare:
    input:
        runs=qat_branch_files("final.pt"),
        snapshots=qat_branch_files("snapshots.pt", main_only=True),
    output:
        runs=QAT_OUT["runs"],
        pairs=QAT_OUT["pairs"],
        tracking=QAT_OUT["tracking"],
        scatter=QAT_OUT["scatter"],
    log:
        f"{QAT_LOGS}/compare.log",
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=max(4000, QAT["mem_mb"]),
        runtime=30,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        points=QAT["scatter_points"],
        bits=QAT_BITS,
    shell:
        "{params.stelab} compare --runs {input.runs:q} --snapshots {input.snapshots:q} "
        "--runs-out {output.runs:q} --pairs-out {output.pairs:q} --tracking-out {output.tracking:q} "
        "--scatter-out {output.scatter:q} --scatter-points {params.points} --scatter-bits {params.bits} "
        "> {log:q} 2>&1"


rule qat_tables:
    input:
        pairs=QAT_OUT["pairs"],
        runs=QAT_OUT["runs"],
    output:
        [f for f in QAT_TABLE_FILES if not f.endswith(".csv")],
        table3=report(
            f"{QAT_TABLES}/qat_table3.csv",
            caption="../report/qat_table3.rst",
            category="QAT (MNIST)",
        ),
        table4=report(
            f"{QAT_TABLES}/qat_table4.csv",
            caption="../report/qat_table4.rst",
            category="QAT (MNIST)",
        ),
        table5=report(
            f"{QAT_TABLES}/qat_table5.csv",
            caption="../report/qat_table5.rst",
            category="QAT (MNIST)",
        ),
        sweep=report(
            f"{QAT_TABLES}/qat_lr_sweep.csv",
            caption="../report/qat_lr_sweep.rst",
            category="QAT (MNIST)",
        ),
        fit=QAT_SWEEP_FIT,
    log:
        f"{QAT_LOGS}/tables.log",
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        out=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "{params.stelab} qat-tables --pairs {input.pairs:q} --runs {input.runs:q} --out-dir {params.out:q} > {log:q} 2>&1"


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
