"""``stelab report``: execute a report notebook, and build the index page."""

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
        help="write the index page linking every report page",
        description="Write an index.html linking the given HTML pages, each described by its notebook's first "
        "markdown cell (read from results/notebooks/NAME.ipynb).",
    )
    idx.add_argument("pages", nargs="+", help="HTML pages to link")
    idx.add_argument("--out", required=True, help="index file to write")
    idx.add_argument("--title", default="stelab report", help="page title")
    idx.set_defaults(func=run_index)


def run_notebook(args) -> int:
    from ..report import execute_notebook

    try:
        parameters = json.loads(args.parameters)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--parameters is not valid JSON: {exc}") from None
    execute_notebook(args.template, parameters, args.executed, args.html, kernel=args.kernel)
    return 0


def run_index(args) -> int:
    from ..report import build_index

    build_index(args.pages, args.out, args.title)
    return 0
