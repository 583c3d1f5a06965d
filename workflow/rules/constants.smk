# Estimator constants (paper A Thm 5.1, App. H) and the curves behind Fig. 1 and the M(w) plots.

CONSTANTS_DIR = "results/constants"
CONSTANTS = {
    "json": f"{CONSTANTS_DIR}/constants.json",
    "tsv": f"{CONSTANTS_DIR}/constants.tsv",
    "app_h": f"{CONSTANTS_DIR}/app_h.tsv",
    "curves": f"{CONSTANTS_DIR}/curves.tsv",
}


rule estimator_constants:
    output:
        json=CONSTANTS["json"],
        tsv=report(
            CONSTANTS["tsv"],
            caption="../report/constants.rst",
            category="Estimator constants",
        ),
        app_h=report(
            CONSTANTS["app_h"],
            caption="../report/app_h.rst",
            category="Estimator constants",
        ),
        curves=CONSTANTS["curves"],
    log:
        f"{LOGS}/constants/estimator_constants.log",
    localrule: True
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        spec=as_json(config["constants"]),
        code=user_code_param(config["constants"]),
    shell:
        "{params.stelab} constants --spec {params.spec:q} --json {output.json:q} --tsv {output.tsv:q} "
        "--app-h {output.app_h:q} --curves {output.curves:q} > {log:q} 2>&1"


ALL_TARGETS.extend(CONSTANTS.values())
NOTEBOOKS["constants"] = {"inputs": dict(CONSTANTS)}
