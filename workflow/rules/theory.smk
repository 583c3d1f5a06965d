# Theory track (paper B, arXiv 2510.10693): finite-d simulations and limit-equation solves per case, one
# comparison per experiment (curves + gap tables), fixed points, the stability sweep.
# Case specs are resolved from config["theory"] by the package (stelab.theory.experiments); each
# rule's params hold its spec and the user code that spec names (user_code_param).

from stelab.theory.experiments import (
    CASE_EXPERIMENTS,
    case_spec,
    experiment_cases,
    section_for,
)

THEORY_DIR = "results/theory"
THEORY_CASES = {
    exp: list(experiment_cases(config["theory"], exp)) for exp in CASE_EXPERIMENTS
}
THEORY_CASES = {exp: cases for exp, cases in THEORY_CASES.items() if cases}
THEORY_EXTRA = ("plateau", "bridge")


wildcard_constraints:
    texp="|".join(CASE_EXPERIMENTS),
    tcase="[^/]+",


rule theory_simulate:
    output:
        f"{THEORY_DIR}/{{texp}}/{{tcase}}/sim.npz",
    log:
        f"{LOGS}/theory/{{texp}}/{{tcase}}/simulate.log",
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        spec=lambda wc: as_json(case_spec(config["theory"], wc.texp, wc.tcase)),
        code=lambda wc: user_code_param(case_spec(config["theory"], wc.texp, wc.tcase)),
    shell:
        "{params.stelab} theory simulate --spec {params.spec:q} --threads {threads} --out {output:q} > {log:q} 2>&1"


rule theory_solve:
    output:
        f"{THEORY_DIR}/{{texp}}/{{tcase}}/theory.npz",
    log:
        f"{LOGS}/theory/{{texp}}/{{tcase}}/solve.log",
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        spec=lambda wc: as_json(case_spec(config["theory"], wc.texp, wc.tcase)),
        code=lambda wc: user_code_param(case_spec(config["theory"], wc.texp, wc.tcase)),
    shell:
        "{params.stelab} theory solve --spec {params.spec:q} --threads {threads} --out {output:q} > {log:q} 2>&1"


for _exp, _cases in THEORY_CASES.items():
    _outputs = {
        "curves": f"{THEORY_DIR}/{_exp}/curves.tsv",
        "gaps": report(
            f"{THEORY_DIR}/{_exp}/gaps.tsv",
            caption="../report/theory_gaps.rst",
            category="Theory",
        ),
    }
    if _exp in THEORY_EXTRA:
        _outputs["extra"] = report(
            f"{THEORY_DIR}/{_exp}/{_exp}.tsv",
            caption=f"../report/theory_{_exp}.rst",
            category="Theory",
        )

    rule:
        name:
            f"theory_compare_{_exp}"
        input:
            sim=[f"{THEORY_DIR}/{_exp}/{c}/sim.npz" for c in _cases],
            theory=[f"{THEORY_DIR}/{_exp}/{c}/theory.npz" for c in _cases],
        output:
            **_outputs,
        log:
            f"{LOGS}/theory/{_exp}/compare.log",
        conda:
            STELAB_ENV
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            stelab=STELAB,
            source=STELAB_SOURCE,
            spec=as_json(section_for(config["theory"], _exp)),
            code=user_code_param(section_for(config["theory"], _exp)),
            exp=_exp,
            extra=(
                lambda wc, output: (
                    f"--extra {output.extra}" if "extra" in output.keys() else ""
                )
            ),
        shell:
            "{params.stelab} theory compare --spec {params.spec:q} --experiment {params.exp} --sim {input.sim:q} "
            "--theory {input.theory:q} --curves {output.curves:q} --gaps {output.gaps:q} {params.extra} "
            "> {log:q} 2>&1"


THEORY_FIXED = {
    "table": f"{THEORY_DIR}/fixed_points/fixed_points.tsv",
    "checks": f"{THEORY_DIR}/fixed_points/checks.tsv",
}
THEORY_STABILITY = f"{THEORY_DIR}/stability/stability.tsv"


rule theory_fixed_points:
    output:
        table=report(
            THEORY_FIXED["table"],
            caption="../report/theory_fixed_points.rst",
            category="Theory",
        ),
        checks=THEORY_FIXED["checks"],
    log:
        f"{LOGS}/theory/fixed_points.log",
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        spec=as_json(section_for(config["theory"], "fixed_points")),
        code=user_code_param(section_for(config["theory"], "fixed_points")),
    shell:
        "{params.stelab} theory fixed-point --spec {params.spec:q} --out {output.table:q} --checks {output.checks:q} "
        "> {log:q} 2>&1"


rule theory_stability:
    output:
        report(
            THEORY_STABILITY,
            caption="../report/theory_stability.rst",
            category="Theory",
        ),
    log:
        f"{LOGS}/theory/stability.log",
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        spec=as_json(section_for(config["theory"], "stability")),
        code=user_code_param(section_for(config["theory"], "stability")),
    shell:
        "{params.stelab} theory sweep --experiment stability --spec {params.spec:q} --threads {threads} "
        "--out {output:q} > {log:q} 2>&1"


THEORY_INPUTS = {
    "fixed_points": THEORY_FIXED["table"],
    "fixed_point_checks": THEORY_FIXED["checks"],
    "stability": THEORY_STABILITY,
    "theory_dir": THEORY_DIR,
}
for _exp, _cases in THEORY_CASES.items():
    THEORY_INPUTS[f"{_exp}_curves"] = f"{THEORY_DIR}/{_exp}/curves.tsv"
    THEORY_INPUTS[f"{_exp}_gaps"] = f"{THEORY_DIR}/{_exp}/gaps.tsv"
    if _exp in THEORY_EXTRA:
        THEORY_INPUTS[f"{_exp}_table"] = f"{THEORY_DIR}/{_exp}/{_exp}.tsv"
if "density" in THEORY_CASES:
    THEORY_INPUTS["density_sim"] = f"{THEORY_DIR}/density/main/sim.npz"
    THEORY_INPUTS["density_theory"] = f"{THEORY_DIR}/density/main/theory.npz"

ALL_TARGETS.extend(v for k, v in THEORY_INPUTS.items() if k != "theory_dir")
NOTEBOOKS["theory"] = {
    "inputs": {k: v for k, v in THEORY_INPUTS.items() if k != "theory_dir"}
}
