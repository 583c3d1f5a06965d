"""The HTML report pages: execute parameterised notebooks with papermill, convert them with nbconvert.

Notebooks only read result files and draw; their parameters are the input paths (a cell
tagged ``parameters``). Executed copies are kept (``results/notebooks/``) for inspection and
for the landing page (:mod:`stelab.landing`), which links every page.
"""

from __future__ import annotations

import os
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
    with atomic_path(executed) as tmp_nb:
        papermill.execute_notebook(
            str(template),
            str(tmp_nb),
            parameters=parameters,
            kernel_name=kernel,
            cwd=os.getcwd(),
            progress_bar=False,
            log_output=False,
        )
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
