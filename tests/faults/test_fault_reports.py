"""Wrong inputs of the commands that tabulate, draw and report: each error names the option or the file,
and a report page killed by SIGTERM leaves no temporary notebook behind."""

import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest
import torch
from fault_chain import assert_nothing_complete
from helpers import workflow_env

from stelab.cli import main


def test_constants_spec_that_is_not_json_names_the_option(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["constants", "--spec", "garbage", "--json", str(out)]) == 2
    assert "--spec: not valid JSON" in capsys.readouterr().err
    assert main(["constants", "--spec", '{"estimators": {"s": {"name": "ste"}}, "layers": [{"bits": 0}]}',
                 "--json", str(out)]) == 2
    assert "config key constants.layers.0.bits: 0 is less than the minimum of 1" in capsys.readouterr().err
    assert main(["constants", "--spec", '{"layers": [{"bits": 2}]}', "--json", str(out)]) == 2
    assert "config key constants: 'estimators' is a required property" in capsys.readouterr().err
    assert_nothing_complete(out)


@pytest.mark.parametrize("kind", ["checkpoint", "other table", "empty"])
def test_figure_from_the_wrong_file_names_it(tmp_path, capsys, kind):
    bad = tmp_path / ("bad.pt" if kind == "checkpoint" else "bad.tsv")
    if kind == "checkpoint":
        torch.save({"model": torch.zeros(3)}, bad)
    elif kind == "other table":
        bad.write_text("bits\talpha\n2\t0.5\n")
    else:
        bad.write_text("")
    out = tmp_path / "figures"
    assert main(["figures", "constants", "--curves", str(bad), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and ("no column or entry 'label'" in err or "is not a readable table" in err)
    assert not out.exists() or not any(out.iterdir())


def test_qat_figure_from_a_file_that_is_not_npz_names_it(tmp_path, capsys):
    bad = tmp_path / "scatter.npz"
    bad.write_text("not an archive")
    tracking = tmp_path / "tracking.tsv"
    tracking.write_text("step\tE_bar\n0\t1\n")
    assert main(["figures", "qat", "--scatter", str(bad), "--tracking", str(tracking), "--out-dir",
                 str(tmp_path / "f")]) == 2
    assert f"input file {bad} is not an .npz archive" in capsys.readouterr().err


def _notebook(path, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('table = "missing.tsv"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_notebook_given_the_wrong_table_names_the_file(tmp_path, capsys):
    template = tmp_path / "page.ipynb"
    _notebook(template, 'import pandas as pd\nrows = pd.read_csv(table, sep="\\t")["E_bar_m"]')
    table = tmp_path / "runs.tsv"
    table.write_text("variant\tval_acc\nqhat\t97.1\n")
    executed, html = tmp_path / "out" / "page.ipynb", tmp_path / "out" / "page.html"
    rc = main(["report", "notebook", "--template", str(template), "--parameters", f'{{"table": "{table}"}}',
               "--executed", str(executed), "--html", str(html)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "notebook page.ipynb: cell" in err and "KeyError: 'E_bar_m'" in err and f"it reads table={table}" in err
    assert_nothing_complete(executed, html)


def test_notebook_killed_by_sigterm_leaves_no_temporary_file(tmp_path):
    template = tmp_path / "slow.ipynb"
    _notebook(template, "import time\ntime.sleep(600)")
    (tmp_path / "missing.tsv").write_text("")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "stelab.cli", "report", "notebook", "--template", str(template),
                             "--parameters", '{"table": "missing.tsv"}', "--executed", str(out / "slow.ipynb"),
                             "--html", str(out / "slow.html")], cwd=tmp_path, env=workflow_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (out.is_dir() and any(".tmp" in p.name for p in out.iterdir())):
        time.sleep(0.5)
    assert out.is_dir() and any(".tmp" in p.name for p in out.iterdir()), "the notebook never started"
    time.sleep(5)  # papermill is executing the cell that sleeps
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    assert proc.returncode != 0
    assert_nothing_complete(out / "slow.ipynb", out / "slow.html")
    assert os.listdir(out) == []
