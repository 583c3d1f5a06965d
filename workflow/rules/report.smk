# The HTML report: every registered notebook is executed with papermill (inputs passed as
# parameters), kept under results/notebooks/, converted to report/{name}.html, and linked
# from the landing page report/index.html, which also shows the verdicts at a glance from the
# results files of the tracks this run includes (a missing track's section says "not run").
# Include this file last: it reads NOTEBOOKS.

import shlex

REPORT_INDEX = "report/index.html"
REPORT_PAGES = sorted(NOTEBOOKS)
# notebook templates, found beside this rule file (the workflow runs from any working directory)
NOTEBOOK_TEMPLATES = {
    name: workflow.source_path(f"../notebooks/{name}.ipynb") for name in REPORT_PAGES
}
# landing-page summaries: option of `stelab report index` → results file(s) registered by the tracks
REPORT_SUMMARIES = {
    "table4": NOTEBOOKS.get("qat", {}).get("inputs", {}).get("table4"),
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


wildcard_constraints:
    notebook="|".join(REPORT_PAGES) or "none",


rule notebook:
    input:
        template=lambda wc: NOTEBOOK_TEMPLATES[wc.notebook],
        data=lambda wc: list(NOTEBOOKS[wc.notebook]["inputs"].values()),
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
        parameters=lambda wc: as_json(NOTEBOOKS[wc.notebook]["inputs"]),
        kernel=config["report"]["kernel"],
    shell:
        "{params.stelab} report notebook --template {input.template:q} --parameters {params.parameters:q} "
        "--kernel {params.kernel:q} --executed {output.executed:q} --html {output.html:q} > {log:q} 2>&1"


rule report_index:
    input:
        **{
            option.replace("-", "_"): paths
            for option, paths in REPORT_SUMMARIES.items()
        },
        pages=expand("report/{notebook}.html", notebook=REPORT_PAGES),
        executed=expand("results/notebooks/{notebook}.ipynb", notebook=REPORT_PAGES),
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
        title=config["report"]["title"],
        summaries=" ".join(
            f"--{option} "
            + " ".join(
                shlex.quote(p) for p in ([paths] if isinstance(paths, str) else paths)
            )
            for option, paths in REPORT_SUMMARIES.items()
        ),
    shell:
        "{params.stelab} report index --title {params.title:q} --out {output:q} --pages {input.pages:q} "
        "--executed {input.executed:q} {params.summaries} > {log:q} 2>&1"
