# stelab: the straight-through estimator in quantization-aware training, reproducibly.
#
#   snakemake --cores all                                   # default: real MNIST on CPU + theory
#   snakemake --cores all --configfile config/smoke.yaml    # whole DAG on tiny data in ~2 min
#   snakemake --profile profiles/slurm                      # on a Slurm GPU cluster
#   snakemake --report report/snakemake.html                # Snakemake's own report
#
# Rules only pass arguments to `stelab <command>`; all logic lives in src/stelab/.

from snakemake.utils import min_version

from stelab.config import load_schema, validate_config

min_version("8.0")


configfile: "config/config.yaml"


validate_config(config, load_schema(f"{workflow.basedir}/workflow/schemas/config.schema.yaml"))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/constants.smk"
include: "workflow/rules/qat.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
        REPORT_INDEX,
