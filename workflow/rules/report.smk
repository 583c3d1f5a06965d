# The HTML report: every registered notebook is executed with papermill (inputs passed as
# parameters), kept under results/notebooks/, converted to report/{name}.html, and linked
# from the landing page report/index.html, which also shows the verdicts at a glance from the
# results files of the tracks this run includes (a missing track's section says "not run").
# Every page opens with the provenance line of results/report/provenance.json (configs, data,
# QAT scale, seeds, commit, date). The paper-scale record (docs/reproduction/mnist/record/, found
# beside the Snakefile) is shown on the QAT page and the landing page once its tables exist;
# until then both say "no record yet". Include this file last: it reads NOTEBOOKS.

import shlex

from stelab.report.provenance import config_names, git_commit

REPORT_INDEX = "report/index.html"
REPORT_PAGES = sorted(NOTEBOOKS)
# notebook templates, found beside this rule file (the workflow runs from any working directory)
NOTEBOOK_TEMPLATES = {
    name: workflow.source_path(f"../notebooks/{name}.ipynb") for name in REPORT_PAGES
}
# landing-page summaries: option of `stelab report index` → results file(s) registered by the tracks
REPORT_SUMMARIES = {
    "table4": NOTEBOOKS.get("qat", {}).get("inputs", {}).get("table4"),
    "pairs": NOTEBOOKS.get("qat", {}).get("inputs", {}).get("pairs"),
    "app-h": NOTEBOOKS.get("constants", {}).get("inputs", {}).get("app_h"),
    "gaps": [
        path
        for key, path in NOTEBOOKS.get("theory", {}).get("inputs", {}).items()
        if key.endswith("_gaps")
    ],
}
REPORT_SUMMARIES = {
    option: paths for option, paths in REPORT_SUMMARIES.items() if paths
}
PROVENANCE = "results/report/provenance.json"
# config files in merge order: the Snakefile's default first, then each --configfile overlay
CONFIG_FILES_IN_ORDER = [
    f for f in workflow.configfiles if f not in workflow.overwrite_configfiles
] + list(workflow.overwrite_configfiles)
PROVENANCE_COMMIT, PROVENANCE_LOCAL_CHANGES = git_commit(workflow.basedir)
# the training images of the QAT runs (MNIST only; their count sets the images per run)
PROVENANCE_TRAIN_IMAGES = [
    f for f in MNIST_FILES if "train-images" in f and "qat" in NOTEBOOKS
][:1]
# the committed paper-scale record: its tables folder once the assembly has written it
RECORD_DIR = Path(workflow.basedir) / "docs" / "reproduction" / "mnist" / "record"
RECORD_FILES = [
    RECORD_DIR / "tables" / f"{name}.csv"
    for name in ("qat_table3", "qat_table4", "qat_table5", "claims", "slices")
]
RECORD = (
    str(RECORD_DIR)
    if "qat" in NOTEBOOKS and all(f.is_file() for f in RECORD_FILES)
    else ""
)
# files of the checkout a page reads besides the results (its template; the record's tables on the
# QAT page): their content is a param (checkout_files_param); their absolute paths reach the shell
# only through derived params (functions of input), so a run moved with its checkout stays complete
PAGE_SOURCES = {
    name: [NOTEBOOK_TEMPLATES[name]]
    + (RECORD_FILES if name == "qat" and RECORD else [])
    for name in REPORT_PAGES
}
# papermill parameters of each page: its results files, the provenance, and (QAT) the record
NOTEBOOK_PARAMETERS = {
    name: {
        **NOTEBOOKS[name]["inputs"],
        "provenance": PROVENANCE,
        **({"record": RECORD} if name == "qat" else {}),
    }
    for name in REPORT_PAGES
}


rule report_provenance:
    input:
        train_images=PROVENANCE_TRAIN_IMAGES,
    output:
        PROVENANCE,
    log:
        f"{LOGS}/report/provenance.log",
    localrule: True
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        config=as_json(config),
        configfiles=" ".join(
            shlex.quote(f)
            for f in config_names(CONFIG_FILES_IN_ORDER, workflow.basedir)
        ),
        commit=PROVENANCE_COMMIT,
        local_changes="--local-changes" if PROVENANCE_LOCAL_CHANGES else "",
        train_images=lambda wildcards, input: (
            f"--train-images {shlex.quote(input.train_images[0])}"
            if input.train_images
            else ""
        ),
    shell:
        "{params.stelab} report provenance --config {params.config:q} --configfiles {params.configfiles} "
        "--commit {params.commit} {params.local_changes} {params.train_images} --out {output:q} > {log:q} 2>&1"


wildcard_constraints:
    notebook="|".join(REPORT_PAGES) or "none",


rule notebook:
    input:
        data=lambda wc: list(NOTEBOOKS[wc.notebook]["inputs"].values()),
        provenance=PROVENANCE,
    output:
        executed="results/notebooks/{notebook}.ipynb",
        html=report(
            "report/{notebook}.html",
            caption="../report/notebook.rst",
            category="Notebooks",
        ),
    log:
        f"{LOGS}/report/{{notebook}}.log",
    localrule: True
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        sources=lambda wc: checkout_files_param(PAGE_SOURCES[wc.notebook]),
        template=lambda wildcards, input: NOTEBOOK_TEMPLATES[wildcards.notebook],
        parameters=lambda wildcards, input: as_json(
            NOTEBOOK_PARAMETERS[wildcards.notebook]
        ),
        kernel=config["report"]["kernel"],
    shell:
        "{params.stelab} report notebook --template {params.template:q} --parameters {params.parameters:q} "
        "--kernel {params.kernel:q} --executed {output.executed:q} --html {output.html:q} > {log:q} 2>&1"


rule report_index:
    input:
        **{
            option.replace("-", "_"): paths
            for option, paths in REPORT_SUMMARIES.items()
        },
        pages=expand("report/{notebook}.html", notebook=REPORT_PAGES),
        executed=expand("results/notebooks/{notebook}.ipynb", notebook=REPORT_PAGES),
        provenance=PROVENANCE,
    output:
        REPORT_INDEX,
    log:
        f"{LOGS}/report/index.log",
    localrule: True
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        title=config["report"]["title"],
        sources=checkout_files_param(RECORD_FILES if RECORD else []),
        record=lambda wildcards, input: (
            f"--record {shlex.quote(RECORD)}" if RECORD else ""
        ),
        summaries=" ".join(
            f"--{option} "
            + " ".join(
                shlex.quote(p) for p in ([paths] if isinstance(paths, str) else paths)
            )
            for option, paths in REPORT_SUMMARIES.items()
        ),
    shell:
        "{params.stelab} report index --title {params.title:q} --out {output:q} --pages {input.pages:q} "
        "--executed {input.executed:q} --provenance {input.provenance:q} {params.record} {params.summaries} "
        "> {log:q} 2>&1"
