# The HTML report: every registered notebook is executed with papermill (inputs passed as
# parameters), kept under results/notebooks/, converted to report/{name}.html, and linked
# from report/index.html. Include this file last: it reads NOTEBOOKS.

REPORT_INDEX = "report/index.html"


wildcard_constraints:
    notebook="|".join(NOTEBOOKS) or "none",


rule notebook:
    input:
        template="workflow/notebooks/{notebook}.ipynb",
        data=lambda wc: list(NOTEBOOKS[wc.notebook]["inputs"].values()),
    output:
        executed="results/notebooks/{notebook}.ipynb",
        html=report("report/{notebook}.html", caption="../report/notebook.rst", category="Notebooks"),
    params:
        parameters=lambda wc: as_json(NOTEBOOKS[wc.notebook]["inputs"]),
        kernel=config["report"]["kernel"],
    log:
        f"{LOGS}/report/{{notebook}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    localrule: True
    conda:
        STELAB_ENV
    shell:
        "stelab report notebook --template {input.template:q} --parameters {params.parameters:q} "
        "--kernel {params.kernel} --executed {output.executed:q} --html {output.html:q} > {log:q} 2>&1"


rule report_index:
    input:
        expand("report/{notebook}.html", notebook=sorted(NOTEBOOKS)),
    output:
        REPORT_INDEX,
    params:
        title=config["report"]["title"],
    log:
        f"{LOGS}/report/index.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    localrule: True
    conda:
        STELAB_ENV
    shell:
        "stelab report index --title {params.title:q} --out {output:q} {input:q} > {log:q} 2>&1"
