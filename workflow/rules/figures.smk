# Report figures as files a paper can include: results/figures/{track}/{name}.{pdf,svg,png}, drawn by
# `stelab figures {track}` from the results files the report notebooks read (NOTEBOOKS[track]["inputs"],
# THEORY_INPUTS) and registered with report() under "Figures", each with its caption
# workflow/report/figure_{name}.rst (the error-curve figures share figure_error_curves.rst).
# The figure names come from stelab.commands.figures. Include after the track rule files, before report.smk.

from stelab.commands.figures import (
    CONSTANTS_FIGURES,
    QAT_FIGURES,
    THEORY_FIGURES,
    error_curves_figure,
)
from stelab.report.theme import FIGURE_FORMATS

FIGURES_DIR = "results/figures"
FIGURE_SUBCATEGORY = {
    "constants": "Estimator constants",
    "qat": "QAT",
    "theory": "Theory",
}
# case experiments drawn as error curves (the bridge has its own figure)
FIGURE_CURVE_EXPERIMENTS = [exp for exp in THEORY_CASES if exp != "bridge"]
QAT_FIGURE_SWEEP = any(factor != "1" for _, _, factor, _, _ in qat_branches())
# theory figure → (option of `stelab figures theory`, its THEORY_INPUTS keys); drawn when the track writes them
THEORY_FIGURE_SOURCES = {
    "density": ("--density", ("density_sim", "density_theory")),
    "plateau": ("--plateau", ("plateau_table",)),
    "fixed_points": ("--fixed-points", ("fixed_points",)),
    "stability": ("--stability", ("stability",)),
    "bridge": ("--bridge", ("bridge_curves", "bridge_table")),
}
THEORY_FIGURE_KEYS = [
    key
    for key, (_, sources) in THEORY_FIGURE_SOURCES.items()
    if all(s in THEORY_INPUTS for s in sources)
]
FIGURE_INPUTS = {
    "constants": {"curves": NOTEBOOKS["constants"]["inputs"]["curves"]},
    "qat": {
        key: NOTEBOOKS["qat"]["inputs"][key]
        for key in (
            "scatter",
            "tracking",
            *(("sweep", "sweep_fit") if QAT_FIGURE_SWEEP else ()),
        )
    },
    "theory": {
        **{
            f"curves_{exp}": THEORY_INPUTS[f"{exp}_curves"]
            for exp in FIGURE_CURVE_EXPERIMENTS
        },
        **{
            s: THEORY_INPUTS[s]
            for key in THEORY_FIGURE_KEYS
            for s in THEORY_FIGURE_SOURCES[key][1]
        },
    },
}
FIGURE_NAMES = {
    "constants": list(CONSTANTS_FIGURES.values()),
    "qat": [QAT_FIGURES["scatter"], QAT_FIGURES["tracking"]]
    + ([QAT_FIGURES["sweep"]] if QAT_FIGURE_SWEEP else []),
    "theory": [error_curves_figure(exp) for exp in FIGURE_CURVE_EXPERIMENTS]
    + [THEORY_FIGURES[key] for key in THEORY_FIGURE_KEYS],
}


# Input options of `stelab figures theory` (fixed paths: the theory inputs have no wildcards)
THEORY_FIGURE_ARGS = " ".join(
    [
        f"--curves {exp}={shlex.quote(THEORY_INPUTS[f'{exp}_curves'])}"
        for exp in FIGURE_CURVE_EXPERIMENTS
    ]
    + [
        " ".join([option, *(shlex.quote(THEORY_INPUTS[s]) for s in sources)])
        for option, sources in (
            THEORY_FIGURE_SOURCES[key] for key in THEORY_FIGURE_KEYS
        )
    ]
)
# {track: {name_format: path}}: every figure file, registered for the report with its caption
# (workflow/report/figure_{name}.rst; the error-curve figures share figure_error_curves.rst)
FIGURE_OUTPUTS = {
    track: {
        f"{name}_{fmt}": report(
            f"{FIGURES_DIR}/{track}/{name}.{fmt}",
            caption="../report/figure_{}.rst".format(
                "error_curves" if name.startswith(error_curves_figure("")) else name
            ),
            category="Figures",
            subcategory=FIGURE_SUBCATEGORY[track],
            labels={"figure": name, "format": fmt.upper()},
        )
        for name in names
        for fmt in FIGURE_FORMATS
    }
    for track, names in FIGURE_NAMES.items()
}


rule figures_constants:
    input:
        **FIGURE_INPUTS["constants"],
    output:
        **FIGURE_OUTPUTS["constants"],
    log:
        f"{LOGS}/figures/constants.log",
    localrule: True
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        out=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "{params.stelab} figures constants --curves {input.curves:q} --out-dir {params.out:q} > {log:q} 2>&1"


rule figures_qat:
    input:
        **FIGURE_INPUTS["qat"],
    output:
        **FIGURE_OUTPUTS["qat"],
    log:
        f"{LOGS}/figures/qat.log",
    localrule: True
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        out=lambda wildcards, output: os.path.dirname(output[0]),
        sweep=lambda wildcards, input: (
            f"--sweep {shlex.quote(input.sweep)} --sweep-fit {shlex.quote(input.sweep_fit)}"
            if "sweep" in input.keys()
            else ""
        ),
    shell:
        "{params.stelab} figures qat --scatter {input.scatter:q} --tracking {input.tracking:q} {params.sweep} "
        "--out-dir {params.out:q} > {log:q} 2>&1"


rule figures_theory:
    input:
        **FIGURE_INPUTS["theory"],
    output:
        **FIGURE_OUTPUTS["theory"],
    log:
        f"{LOGS}/figures/theory.log",
    localrule: True
    conda:
        STELAB_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        stelab=STELAB,
        source=STELAB_SOURCE,
        out=lambda wildcards, output: os.path.dirname(output[0]),
        inputs=THEORY_FIGURE_ARGS,
    shell:
        "{params.stelab} figures theory {params.inputs} --out-dir {params.out:q} > {log:q} 2>&1"


ALL_TARGETS.extend(
    f"{FIGURES_DIR}/{track}/{name}.{fmt}"
    for track, names in FIGURE_NAMES.items()
    for name in names
    for fmt in FIGURE_FORMATS
)
