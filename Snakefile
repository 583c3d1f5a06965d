# stelab: the straight-through estimator in quantization-aware training, reproducibly.
#
#   snakemake --cores all                                   # default: real MNIST on CPU + theory
#   snakemake --cores all --configfile config/smoke.yaml    # whole DAG on tiny data (times: README)
#   snakemake --profile profiles/slurm                      # on a Slurm GPU cluster
#   snakemake --report report/snakemake.html                # Snakemake's own report
#
# Works from any working directory (`snakemake -s /path/to/Snakefile --directory /scratch/run`)
# and as a Snakemake module. Rules only pass arguments to `stelab <command>`; all logic, and
# every config check, lives in src/stelab/ (imported from this checkout: no install needed to parse).

import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("8.0")
sys.path.insert(0, str(Path(workflow.current_basedir) / "src"))

from stelab.config import ConfigError, check_config_files, load_schema, validate_config


configfile: str(Path(workflow.current_basedir) / "config" / "config.yaml")


# A bad config stops here with its one-line message (the key or file it names), not a traceback.
try:
    check_config_files(workflow.configfiles)
    validate_config(
        config,
        load_schema(
            Path(workflow.current_basedir)
            / "workflow"
            / "schemas"
            / "config.schema.yaml"
        ),
    )
except ConfigError as exc:
    sys.exit(f"config error: {exc}")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/constants.smk"
include: "workflow/rules/qat.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
        REPORT_INDEX,
