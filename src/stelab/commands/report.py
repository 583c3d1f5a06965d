"""``stelab report``: execute a report notebook, and build the landing page (report/index.html)."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="execute report notebooks (papermill → HTML) and build report/index.html",
        description="Build the HTML report: run one parameterised notebook, or write the index page.",
    )
    rsub = p.add_subparsers(dest="report_command", metavar="<report command>", required=True)
    nb = rsub.add_parser(
        "notebook",
        help="execute a notebook with papermill and convert it to HTML",
        description=(
            "Execute TEMPLATE (a notebook with a cell tagged 'parameters') with the given parameters, keep "
            "the executed copy, and convert it to HTML (inputs hidden). Both outputs are written atomically."
        ),
    )
    nb.add_argument("--template", required=True, help="notebook to execute (workflow/notebooks/NAME.ipynb)")
    nb.add_argument("--parameters", default="{}", help="JSON object of papermill parameters (input paths)")
    nb.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3)")
    nb.add_argument("--executed", required=True, help="where to write the executed notebook")
    nb.add_argument("--html", required=True, help="where to write the HTML page")
    nb.set_defaults(func=run_notebook)
    idx = rsub.add_parser(
        "index",
        help="write the landing page: verdicts at a glance and a thumbnail per report page",
        description=(
            "Write the landing page: the provenance line (--provenance), paper A's claims A and B over seeds "
            "(--pairs) and Table 4 (--table4) beside the paper and the record (--record), App. H recomputed vs "
            "printed (--app-h), the theory gaps with verdicts (--gaps), and one card per page (title, summary and first figure "
            "of its executed notebook). A section whose file is not given says 'not run'. Written atomically."
        ),
    )
    idx.add_argument("--provenance", required=True, help="provenance JSON (`stelab report provenance`)")
    idx.add_argument("--record", help="the paper-scale record's folder, docs/reproduction/mnist/record "
                                      "(absent, or without tables/: 'no record yet')")
    idx.add_argument("--pages", nargs="+", required=True, help="HTML report pages to link (report/NAME.html)")
    idx.add_argument("--executed", nargs="+", required=True,
                     help="the executed notebook of each page, in the same order (results/notebooks/NAME.ipynb)")
    idx.add_argument("--table4", help="results/tables/qat_table4.csv (Table 4, the paper's claim ratios)")
    idx.add_argument("--pairs", help="results/qat/pairs.tsv (claims A and B over seeds)")
    idx.add_argument("--app-h", help="results/constants/app_h.tsv (App. H recomputed vs printed)")
    idx.add_argument("--gaps", nargs="+", default=[], help="gaps.tsv of each theory experiment")
    idx.add_argument("--out", required=True, help="index file to write")
    idx.add_argument("--title", default="stelab report", help="page title")
    idx.set_defaults(func=run_index)
    prov = rsub.add_parser(
        "provenance",
        help="write what produced the report: configs, data, QAT scale, seeds, commit, date (JSON)",
        description=(
            "Write the provenance facts every report page opens with: the config files in merge order, the data "
            "source, the optimizer steps and training images of one QAT run (from the config and the training "
            "images file), subsets, bit widths, seeds, the commit and the date. Written atomically."
        ),
    )
    prov.add_argument("--config", required=True, help="the merged config as one JSON object")
    prov.add_argument("--configfiles", nargs="*", default=[], help="config files in merge order (as shown)")
    prov.add_argument("--commit", default="unknown", help="commit of the workflow's checkout")
    prov.add_argument("--local-changes", action="store_true", help="the checkout had uncommitted changes")
    prov.add_argument("--train-images", help="MNIST train-images IDX file of the QAT runs (absent: no QAT track)")
    prov.add_argument("--out", required=True, help="JSON file to write")
    prov.set_defaults(func=run_provenance)


def run_notebook(args) -> int:
    from ..report.notebooks import execute_notebook

    try:
        parameters = json.loads(args.parameters)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--parameters is not valid JSON: {exc}") from None
    execute_notebook(args.template, parameters, args.executed, args.html, kernel=args.kernel)
    return 0


def run_index(args) -> int:
    from ..landing import build_index

    build_index(out=args.out, title=args.title, pages=args.pages, executed=args.executed, table4=args.table4,
                pairs=args.pairs, app_h=args.app_h, gaps=args.gaps, provenance=args.provenance, record=args.record)
    return 0


def run_provenance(args) -> int:
    from ..report.provenance import facts, write

    try:
        config = json.loads(args.config)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--config is not valid JSON: {exc}") from None
    steps = images = None
    if args.train_images:
        from ..data.idx import read_idx
        from ..qat.settings import run_from_config

        qat = config["qat"]
        available = len(read_idx(args.train_images))
        images = min(qat.get("train_subset") or available, available)
        optimizer = sorted(qat["optimizers"])[0]
        steps = run_from_config(qat, optimizer, qat["seeds"][0], images).total_steps
    write(args.out, facts(config, args.configfiles, args.commit, args.local_changes, steps, images))
    return 0
