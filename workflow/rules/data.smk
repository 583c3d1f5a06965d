# Data rules: the MNIST IDX folder every QAT rule reads, and the optional ImageFolder check.
#
# config data.source picks the single rule that produces MNIST_FILES:
#   download  -> download_mnist        (mirrors tried in order, MD5-verified, atomic)
#   folder    -> import_mnist_folder   (verifies the user's data.folder, copies it into data.root)
#   synthetic -> make_synthetic_mnist  (tiny seven-segment digits for smoke runs and tests)
# The QAT rules take `MNIST_FILES` as input and pass `mnist_dir()` to `stelab`.

import shlex
from pathlib import Path

MNIST_FILE_NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
DATA_LOGS = "results/logs/data"


MNIST_FILES = [f"{mnist_dir()}/{name}" for name in MNIST_FILE_NAMES]


if config["data"]["source"] == "download":

    rule download_mnist:
        output:
            MNIST_FILES,
        params:
            out=lambda wildcards, output: os.path.dirname(output[0]),
            mirrors=" ".join(f"--mirror {shlex.quote(m)}" for m in config["data"]["mirrors"]),
            timeout=config["data"]["timeout_s"],
        log:
            f"{DATA_LOGS}/download_mnist.log",
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        localrule: True
        conda:
            STELAB_ENV
        shell:
            "stelab download-mnist --out {params.out:q} {params.mirrors} "
            "--timeout {params.timeout} > {log:q} 2>&1"

elif config["data"]["source"] == "folder":

    rule import_mnist_folder:
        input:
            user_mnist_files(),
        output:
            MNIST_FILES,
        params:
            out=lambda wildcards, output: os.path.dirname(output[0]),
            folder=config["data"].get("folder"),
        log:
            f"{DATA_LOGS}/import_mnist_folder.log",
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        localrule: True
        conda:
            STELAB_ENV
        shell:
            "stelab download-mnist --out {params.out:q} --mirror {params.folder:q} > {log:q} 2>&1"

elif config["data"]["source"] == "synthetic":

    rule make_synthetic_mnist:
        output:
            MNIST_FILES,
        params:
            out=lambda wildcards, output: os.path.dirname(output[0]),
            n_train=config["data"]["synthetic"]["n_train"],
            n_test=config["data"]["synthetic"]["n_test"],
            seed=config["data"]["synthetic"]["seed"],
        log:
            f"{DATA_LOGS}/make_synthetic_mnist.log",
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        localrule: True
        conda:
            STELAB_ENV
        shell:
            "stelab make-synthetic --out {params.out:q} --n-train {params.n_train} "
            "--n-test {params.n_test} --seed {params.seed} > {log:q} 2>&1"

else:
    raise ValueError(f"config data.source: unknown source {config['data']['source']!r}")


IMAGEFOLDER_ROOT = config["data"].get("imagefolder")
IMAGEFOLDER_CHECK = "results/data/imagefolder.json"

if IMAGEFOLDER_ROOT:
    if not Path(IMAGEFOLDER_ROOT).is_dir():
        raise ValueError(f"config data.imagefolder: {IMAGEFOLDER_ROOT} does not exist or is not a folder")

    rule check_imagefolder:
        output:
            IMAGEFOLDER_CHECK,
        params:
            root=IMAGEFOLDER_ROOT,
        log:
            f"{DATA_LOGS}/check_imagefolder.log",
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        localrule: True
        conda:
            STELAB_ENV
        shell:
            "stelab check-imagefolder {params.root:q} --out {output:q} > {log:q} 2>&1"
