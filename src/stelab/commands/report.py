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
            "Write the landing page: paper A's claims A and B and Table 4 (from --table4), App. H recomputed vs "
            "printed (--app-h), the theory gaps (--gaps), and one card per page (title, summary and first figure "
            "of its executed notebook). A section whose file is not given says 'not run'. Written atomically."
        ),
    )
    idx.add_argument("--pages", nargs="+", required=True, help="HTML report pages to link (report/NAME.html)")
    idx.add_argument("--executed", nargs="+", required=True,
                     help="the executed notebook of each page, in the same order (results/notebooks/NAME.ipynb)")
    idx.add_argument("--table4", help="results/tables/qat_table4.csv (claims A and B, Table 4)")
    idx.add_argument("--app-h", help="results/constants/app_h.tsv (App. H recomputed vs printed)")
    idx.add_argument("--gaps", nargs="+", default=[], help="gaps.tsv of each theory experiment")
    idx.add_argument("--out", required=True, help="index file to write")
    idx.add_argument("--title", default="stelab report", help="page title")
    idx.set_defaults(func=run_index)


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
                app_h=args.app_h, gaps=args.gaps)
    return 0
