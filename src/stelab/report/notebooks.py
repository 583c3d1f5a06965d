"""The HTML report pages: execute parameterised notebooks with papermill, convert them with nbconvert.

Notebooks only read result files and draw; their parameters are the input paths (a cell
tagged ``parameters``). Executed copies are kept (``results/notebooks/``) for inspection and
for the landing page (:mod:`stelab.landing`), which links every page. A cell that fails (e.g. a
table without the column the notebook reads) is reported with the input files the cell reads; a
SIGTERM while the notebook runs removes its temporary output like any other failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
from pathlib import Path

from ..io import atomic_path, write_text

#: nbconvert's lab template without its CDN scripts (require.js, MathJax, Mermaid): the report works offline.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def execute_notebook(template, parameters: dict, executed, html_out, kernel: str = "python3") -> None:
    """Run ``template`` with ``parameters`` into ``executed`` (.ipynb) and ``html_out`` (HTML), atomically.

    A failing cell raises (papermill's PapermillExecutionError names the cell); no output is left.
    """
    import jinja2
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    template = Path(template)
    if not template.is_file():
        raise FileNotFoundError(f"notebook template {template} does not exist")
    missing = [f"{k}={v}" for k, v in parameters.items() if isinstance(v, str) and not Path(v).exists()]
    if missing:
        raise FileNotFoundError(f"notebook {template.name}: input files missing: {', '.join(missing)}")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    with _sigterm_as_exit(), atomic_path(executed) as tmp_nb:
        try:
            papermill.execute_notebook(
                str(template),
                str(tmp_nb),
                parameters=parameters,
                kernel_name=kernel,
                cwd=os.getcwd(),
                progress_bar=False,
                log_output=False,
            )
        except papermill.PapermillExecutionError as exc:
            raise ValueError(_cell_failure(template, parameters, exc)) from None
        nb = nbformat.read(tmp_nb, as_version=4)
        exporter = HTMLExporter(
            template_name="lab",
            extra_loaders=[jinja2.DictLoader({"stelab_offline.html.j2": OFFLINE_TEMPLATE})],
            template_file="stelab_offline.html.j2",
        )
        exporter.exclude_input = True
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        body, _ = exporter.from_notebook_node(nb)
        write_text(html_out, body)


def _cell_failure(template: Path, parameters: dict, exc) -> str:
    """What failed, naming the input files the failing cell reads (all of them when it names none)."""
    read = [f"{k}={v}" for k, v in parameters.items() if re.search(rf"\b{re.escape(k)}\b", exc.source or "")]
    inputs = read or [f"{k}={v}" for k, v in parameters.items()]
    return (f"notebook {template.name}: cell {exc.exec_count} failed with {exc.ename}: {exc.evalue}; "
            f"{'it reads' if read else 'the notebook reads'} {', '.join(inputs)}: is each the file the notebook "
            "expects (not another or an outdated table)?")


@contextlib.contextmanager
def _sigterm_as_exit():
    """SIGTERM (a cancelled Snakemake, a Slurm time limit) raises SystemExit inside the block, so the
    temporary notebook of :func:`stelab.io.atomic_path` is removed instead of left hidden beside the output."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
