"""config/README.md documents every config key, and is what `stelab config-docs` writes from the schema.

The key paths are collected here by their own walk of the schema (properties, ``additionalProperties``
that hold properties as ``<name>``, list items that hold properties as ``[]``, every ``$ref``
resolved); the README is read as a file. A key added to the schema without a row (or with an
empty meaning) fails with the key named.
"""

import copy
import re

import pytest

from helpers import REPO
from stelab.cli import main
from stelab.config import load_schema
from stelab.report.config_docs import render_config_docs

README = REPO / "config" / "README.md"
ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| (?P<type>.*?) \| (?P<meaning>.*) \|$")
SECTION = re.compile(r"^## `(\w+)`$")
SAME = re.compile(r"Same keys as `([^`]+)`")


def _deref(schema, node):
    while isinstance(node, dict) and "$ref" in node:
        target = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def schema_key_paths(schema, node=None, prefix=""):
    """Every key path of the schema, $refs resolved (so a shared block appears under each user)."""
    node = _deref(schema, schema if node is None else node)
    paths = []
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        paths.append(path)
        paths += schema_key_paths(schema, sub, path)
    extra = _deref(schema, node.get("additionalProperties"))
    if isinstance(extra, dict) and extra.get("properties"):
        paths.append(f"{prefix}.<name>")
        paths += schema_key_paths(schema, extra, f"{prefix}.<name>")
    items = _deref(schema, node.get("items"))
    if isinstance(items, dict) and items.get("properties"):
        paths += schema_key_paths(schema, items, f"{prefix}[]")
    return paths


def readme_rows(text):
    """{key path: (type, meaning)} of every table row of a config README; a top-level section is
    documented by its heading (``## `qat` ``) and the paragraph under it."""
    rows, section = {}, None
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            rows[m["path"]] = (m["type"], m["meaning"])
        elif m := SECTION.match(line):
            section = m[1]
        elif section and line.strip():
            rows[section] = ("section", line)
            section = None
    return rows


def documented_meaning(rows, path, seen=()):
    """The meaning that documents ``path``: its own row, or the row reached through the nearest
    documented prefix whose meaning says "Same keys as `block`" (None when there is none)."""
    if path in rows:
        return rows[path][1]
    parts = re.split(r"(?=\.)|(?=\[\])", path)
    for cut in range(len(parts) - 1, 0, -1):
        prefix, rest = "".join(parts[:cut]), "".join(parts[cut:])
        if prefix in rows:
            same = SAME.search(rows[prefix][1])
            if same is None or same.group(1) in seen:
                return None
            return documented_meaning(rows, same.group(1) + rest, (*seen, prefix))
    return None


def undocumented(rows, paths):
    out = []
    for path in paths:
        meaning = documented_meaning(rows, path)
        if meaning is None or not meaning.strip(" ."):
            out.append(path)
    return out


@pytest.fixture(scope="module")
def schema():
    return load_schema()


@pytest.fixture(scope="module")
def rows():
    return readme_rows(README.read_text(encoding="utf-8"))


def test_every_schema_key_is_documented_with_a_meaning(schema, rows):
    paths = schema_key_paths(schema)
    assert len(paths) > 300  # the shared theory blocks appear under every experiment
    missing = undocumented(rows, paths)
    assert not missing, f"config/README.md lacks these keys (add descriptions, run stelab config-docs): {missing}"


def test_readme_is_what_the_generator_writes_now(schema):
    expected = render_config_docs(schema=schema, config_dir=REPO / "config")
    assert README.read_text(encoding="utf-8") == expected, (
        "config/README.md is out of date with the schema or config/; run: stelab config-docs --out config/README.md")


def test_the_coverage_check_names_a_key_whose_row_is_gone(schema, rows):
    fewer = {path: row for path, row in rows.items() if path != "qat.epochs"}
    assert undocumented(fewer, schema_key_paths(schema)) == ["qat.epochs"]
    emptied = {**rows, "theory.pde.dx": ("number > 0", " ")}
    missing = undocumented(emptied, schema_key_paths(schema))
    assert "theory.pde.dx" in missing and "theory.experiments.stability.pde.dx" in missing


def test_a_new_key_without_description_stops_the_generator_naming_it(schema):
    broken = copy.deepcopy(schema)
    broken["properties"]["qat"]["properties"]["new_knob"] = {"type": "integer"}
    with pytest.raises(ValueError, match=r"config key qat\.new_knob has no description"):
        render_config_docs(schema=broken, config_dir=REPO / "config")


def test_rows_state_literal_facts(rows):
    assert "epochs" in rows["qat.epochs"][1] and "Required." in rows["qat.epochs"][1]
    assert rows["qat.epochs"][0] == "integer ≥ 1"
    assert rows["data.source"][0] == r"`download` \| `folder` \| `synthetic`"
    assert "Default: `download`." in rows["data.source"][1]
    assert rows["qat.optimizers.<name>.betas"][0] == "list of 2 × number in [0, 1)"
    assert rows["theory.pde.theta"][0] == "number in [0.5, 1]"
    assert "Default: `1.0`." in rows["constants.layers[].m"][1]
    assert "Same keys as `theory.model`." in rows["theory.experiments.density.model"][1]
    assert "Same keys as `theory.model.weight_map`." in rows["theory.model.input_map"][1]
    assert "Same keys as `theory.model`." in rows["theory.experiments.curves.cases.<name>"][1]
    assert "Same keys as `theory.experiments.curves.cases`." in rows["theory.experiments.fixed_points.check.cases"][1]
    assert "theory.experiments.density.model.eta" not in rows  # documented once, at theory.model.eta
    assert "η" in rows["theory.model.eta"][1]
    assert "Spec" not in README.read_text(encoding="utf-8")


def test_intro_explains_files_overlays_and_validation():
    text = README.read_text(encoding="utf-8")
    intro = text[:text.index("## `constants`")]
    for name in ("config.yaml", "smoke.yaml", "paper.yaml", "imagenet.yaml"):
        assert f"| `config/{name}` |" in intro
    assert "| `config/config.yaml` | default |" in intro
    assert "--configfile" in intro and "key by key" in intro and "replaces" in intro
    assert "written as a string" in intro
    assert "before any job runs" in intro and "names the offending key" in intro


def test_no_markup_characters_outside_code_spans(rows):
    for path, (type_, meaning) in rows.items():
        for cell in (type_, meaning):
            outside = "".join(cell.split("`")[::2])
            assert "<" not in outside, f"{path}: a raw '<' would be read as an HTML tag"
            assert not re.search(r"(?<!\\)\*", outside), f"{path}: a raw '*' would start emphasis"
    assert r"E[w\*² − 2a w\* g(ŵ)" in rows["theory.model.error"][1]


def test_config_docs_command_checks_the_file(tmp_path, capsys):
    assert main(["config-docs", "--check", str(README)]) == 0
    stale = tmp_path / "README.md"
    stale.write_text(README.read_text(encoding="utf-8").replace("| `qat.epochs` |", "| `qat.epoch` |"),
                     encoding="utf-8")
    assert main(["config-docs", "--check", str(stale)]) == 2
    assert "out of date" in capsys.readouterr().err
    written = tmp_path / "out" / "README.md"
    assert main(["config-docs", "--out", str(written)]) == 0
    assert written.read_text(encoding="utf-8") == README.read_text(encoding="utf-8")


def test_rows_show_the_embedded_default_where_it_differs_from_the_schema(tmp_path):
    """qat.threads: schema default 1; qat.epochs and qat.gpu set in the embedded config below."""
    (tmp_path / "config.yaml").write_text("# the default\nqat:\n  epochs: 7\n  gpu: 0\n")
    rows = readme_rows(render_config_docs(schema=load_schema(), config_dir=tmp_path))
    assert rows["qat.epochs"][1].endswith("`config/config.yaml`: `7`.")
    assert "config/config.yaml" not in rows["qat.gpu"][1]  # equal to the schema's default 0
    assert "config/config.yaml" not in rows["qat.threads"][1]  # not set there
