# Data rules: the MNIST IDX folder every QAT rule reads, and the optional ImageFolder check.
#
# config data.source picks the single rule that produces MNIST_FILES:
#   download  -> download_mnist        (mirrors tried in order, MD5-verified, atomic; runs first)
#   folder    -> import_mnist_folder   (verifies the user's data.folder, copies it into data.root)
#   synthetic -> make_synthetic_mnist  (tiny seven-segment digits for smoke runs and tests)
# Each also writes the sha256 manifest (stelab.data.manifest) that every job reading the data
# checks, and it is part of MNIST_FILES. The QAT rules take MNIST_FILES (or IMAGEFOLDER_CHECK for
# a ResNet) as input. The config was validated by stelab.config (data.folder and data.imagefolder exist).

from stelab.data.idx import MNIST_FILES as MNIST_FILE_NAMES
from stelab.data.manifest import MANIFEST

DATA_LOGS = f"{LOGS}/data"
MNIST_FILES = [f"{mnist_dir()}/{name}" for name in (*MNIST_FILE_NAMES, MANIFEST)]
IMAGEFOLDER_ROOT = config["data"]["imagefolder"]
IMAGEFOLDER_CHECK = "results/data/imagefolder.json"


if config["data"]["source"] == "download":

    rule download_mnist:
        output:
            MNIST_FILES,
        log:
            f"{DATA_LOGS}/download_mnist.log",
        priority: 100
        localrule: True
        conda:
            STELAB_ENV
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            stelab=STELAB,
            out=lambda wildcards, output: os.path.dirname(output[0]),
            mirrors=" ".join(
                f"--mirror {shlex.quote(m)}" for m in config["data"]["mirrors"]
            ),
            timeout=config["data"]["timeout_s"],
        shell:
            "{params.stelab} download-mnist --out {params.out:q} {params.mirrors} "
            "--timeout {params.timeout} > {log:q} 2>&1"

elif config["data"]["source"] == "folder":

    rule import_mnist_folder:
        input:
            user_mnist_files,
        output:
            MNIST_FILES,
        log:
            f"{DATA_LOGS}/import_mnist_folder.log",
        localrule: True
        conda:
            STELAB_ENV
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            stelab=STELAB,
            out=lambda wildcards, output: os.path.dirname(output[0]),
            folder=config["data"]["folder"],
        shell:
            "{params.stelab} download-mnist --out {params.out:q} --mirror {params.folder:q} > {log:q} 2>&1"

else:

    rule make_synthetic_mnist:
        output:
            MNIST_FILES,
        log:
            f"{DATA_LOGS}/make_synthetic_mnist.log",
        localrule: True
        conda:
            STELAB_ENV
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        params:
            stelab=STELAB,
            source=STELAB_SOURCE,
            out=lambda wildcards, output: os.path.dirname(output[0]),
            n_train=config["data"]["synthetic"]["n_train"],
            n_test=config["data"]["synthetic"]["n_test"],
            seed=config["data"]["synthetic"]["seed"],
        shell:
            "{params.stelab} make-synthetic --out {params.out:q} --n-train {params.n_train} "
            "--n-test {params.n_test} --seed {params.seed} > {log:q} 2>&1"


if IMAGEFOLDER_ROOT:

    rule check_imagefolder:
        output:
            IMAGEFOLDER_CHECK,
        log:
            f"{DATA_LOGS}/check_imagefolder.log",
        localrule: True
        conda:
            STELAB_ENV
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            stelab=STELAB,
            root=IMAGEFOLDER_ROOT,
        shell:
            "{params.stelab} check-imagefolder {params.root:q} --out {output:q} > {log:q} 2>&1"
