"""``config/README.md``, generated from the workflow's config schema: one table row per key.

The facts live in one place, the ``description`` fields of ``workflow/schemas/config.schema.yaml``
(loaded by :func:`stelab.config.load_schema`, which fills in the package's lists of optimizers,
variants and default mirrors); this module only lays them out, adds each key's type, bounds,
default and whether it is required, and lists the config files of ``config/``.

Key paths are dotted; ``<name>`` stands for a key the user chooses (the entries of a mapping
such as ``qat.optimizers``) and ``[]`` for the items of a list (``qat.extra_bits[].bits``). A
block reached through a ``$ref`` (the theory model, map, PDE, simulation, particles and cases)
is documented once, at the first key path that reaches it (its home); every later key that
reaches it gets one row whose meaning says ``same keys as `<home>```.

A key without a description stops the generator with an error naming it, so a key cannot be
added to the schema without being documented.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import yaml

REGENERATE = "stelab config-docs --out config/README.md"
SCHEMA_FILE = "workflow/schemas/config.schema.yaml"
SAME_KEYS = "Same keys as"


class KeyRow(NamedTuple):
    """One documented key: dotted path, type (with bounds) and meaning (description, required, default)."""

    path: str
    type: str
    meaning: str


def _resolve(schema: dict, node):
    """``node`` with its ``$ref`` chain followed; sibling keys of a ``$ref`` override the target's.

    Returns (resolved node, the first ``$ref`` string or None)."""
    first = None
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        first = first or ref
        target = schema
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node, first


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bounds(node: dict) -> str:
    lo = ("[", node["minimum"]) if "minimum" in node else ("(", node["exclusiveMinimum"]) \
        if "exclusiveMinimum" in node else None
    hi = ("]", node["maximum"]) if "maximum" in node else (")", node["exclusiveMaximum"]) \
        if "exclusiveMaximum" in node else None
    if lo and hi:
        return f" in {lo[0]}{_number(lo[1])}, {_number(hi[1])}{hi[0]}"
    if lo:
        return f" {'≥' if lo[0] == '[' else '>'} {_number(lo[1])}"
    if hi:
        return f" {'≤' if hi[0] == ']' else '<'} {_number(hi[1])}"
    return ""


def _enum(values) -> str:
    return " | ".join(f"`{v}`" for v in values)


def _type(schema: dict, node) -> str:
    """Human form of a node's type: enumerations, alternatives, bounds, list items, mapping keys."""
    node, _ = _resolve(schema, node)
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return _enum(node["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            return " or ".join(dict.fromkeys(_type(schema, member) for member in node[combinator]))
    types = node.get("type") or (["object"] if "properties" in node or "additionalProperties" in node else [])
    parts = []
    for kind in [types] if isinstance(types, str) else types:
        if kind in ("integer", "number"):
            parts.append(kind + _bounds(node))
        elif kind == "array":
            parts.append(_array_type(schema, node))
        elif kind == "object":
            names, _ = _resolve(schema, node.get("propertyNames", {}))
            parts.append(f"mapping with keys from {_enum(names['enum'])}" if "enum" in names else "mapping")
        else:
            parts.append(kind)
    return " or ".join(parts) or "any"


def _array_type(schema: dict, node: dict) -> str:
    items, _ = _resolve(schema, node.get("items", {}))
    item = "mappings" if items.get("properties") else _type(schema, items)
    size = node.get("minItems", 0)
    if size and size == node.get("maxItems"):
        head = f"list of {size} ×"
    else:
        head = "non-empty list of" if size else "list of"
    return f"{head}{' distinct' if node.get('uniqueItems') else ''} {item}"


def _default(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return text.strip().removesuffix("...").strip()


def _expands(node: dict) -> bool:
    """Whether a key's node has keys of its own to document (properties, named entries or list items)."""
    extra = node.get("additionalProperties")
    items = node.get("items")
    return bool(node.get("properties")) or isinstance(extra, dict) or (isinstance(items, dict) and "properties" in items)


class _Walker:
    """Collects :class:`KeyRow` for every key path, documenting each ``$ref`` target at its home only."""

    def __init__(self, schema: dict, embedded: dict | None = None):
        self.schema = schema
        self.embedded = embedded or {}
        self.homes: dict[str, str] = {}
        self.rows: list[KeyRow] = []

    def key(self, path: str, node, required: bool) -> None:
        resolved, ref = _resolve(self.schema, node)
        description = " ".join(str(resolved.get("description") or "").split())
        if not description:
            raise ValueError(f"{SCHEMA_FILE}: config key {path} has no description; add one and run {REGENERATE}")
        meaning = [description.rstrip(".") + "."]
        repeat = ref is not None and ref in self.homes and _expands(resolved)
        if repeat:
            meaning.append(f"{SAME_KEYS} `{self.homes[ref]}`.")
        if required:
            meaning.append("Required.")
        if "default" in resolved and resolved["default"] != {}:
            meaning.append(f"Default: `{_default(resolved['default'])}`.")
        found, value = _lookup(self.embedded, path)
        if found and not isinstance(value, dict) and value != resolved.get("default", _ABSENT):
            meaning.append(f"`config/config.yaml`: `{_default(value)}`.")
        self.rows.append(KeyRow(path, _type(self.schema, resolved), " ".join(meaning)))
        if repeat:
            return
        if ref is not None:
            self.homes.setdefault(ref, path)
        self.children(path, resolved)

    def children(self, path: str, node: dict) -> None:
        required = set(node.get("required", []))
        for name, sub in node.get("properties", {}).items():
            self.key(f"{path}.{name}", sub, name in required)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and _expands(_resolve(self.schema, extra)[0]):
            self.key(f"{path}.<name>", extra, False)
        items, _ = _resolve(self.schema, node.get("items", {}))
        if isinstance(items, dict) and items.get("properties"):
            self.children(f"{path}[]", items)


_ABSENT = object()


def _lookup(config: dict, path: str):
    """(True, value) of the dotted ``path`` in ``config``, (False, None) when absent or a pattern path."""
    node = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def section_rows(schema: dict, embedded: dict | None = None) -> dict[str, list[KeyRow]]:
    """Rows of every top-level section, in schema order (ValueError naming a key without description);
    ``embedded``: the embedded default config, whose values are shown where they differ from the schema's."""
    walker = _Walker(schema, embedded)
    out = {}
    for name, node in schema["properties"].items():
        start = len(walker.rows)
        walker.children(name, _resolve(schema, node)[0])
        out[name] = walker.rows[start:]
    return out


def _cell(text: str) -> str:
    """Markdown table cell: pipes escaped; outside code spans ``<`` (no stray HTML tags) and ``*``
    (no emphasis between the stars of w*, ε*) escaped."""
    parts = text.split("`")
    parts[::2] = [p.replace("<", "&lt;").replace("*", "\\*") for p in parts[::2]]
    return "`".join(parts).replace("|", "\\|")


def _summary(path: Path) -> str:
    """First sentence of a config file's leading comment block (empty without one)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") or line.startswith("#  "):
            break
        lines.append(line.lstrip("#").strip())
    return re.split(r"(?<=\.)\s+", " ".join(lines).strip(), maxsplit=1)[0]


def config_files(config_dir: str | Path) -> list[tuple[str, str, list[str]]]:
    """(file name, summary, top-level sections it sets) of every YAML file in ``config_dir``,
    config.yaml first."""
    config_dir = Path(config_dir)
    paths = sorted(config_dir.glob("*.yaml"), key=lambda p: (p.name != "config.yaml", p.name))
    if not any(p.name == "config.yaml" for p in paths):
        raise FileNotFoundError(f"config file {config_dir / 'config.yaml'} does not exist")
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            content = yaml.safe_load(fh) or {}
        if not isinstance(content, dict):
            raise ValueError(f"config file {path}: expected a mapping of sections, got {type(content).__name__}")
        out.append((path.name, _summary(path), list(content)))
    return out


INTRO = """\
# Configuration keys

<!-- Generated from {schema} by `{regenerate}`: edit the schema's description fields, then regenerate. -->

Every key the workflow reads, generated from the schema (`{schema}`) that checks them. A test
(`tests/test_config_docs.py`) fails when a key is missing here or this file is out of date.

## Files and overlays

| file | role | sections | summary |
|---|---|---|---|
{files}

`config/config.yaml` is the embedded default: `snakemake --cores all` uses it alone. The other files
are overlays, given with `--configfile` (`snakemake --cores all --configfile config/smoke.yaml`), and
hold only what differs from `config.yaml`. Snakemake merges an overlay into the default key by key:
a mapping in the overlay merges into the default's mapping (keys it does not name keep their default
value, and new keys are added, e.g. another entry of `constants.estimators`), while a list or a plain
value replaces the default's whole (`qat.seeds: [0]` runs seed 0 only). Estimators follow the same
rule: an estimator written as a mapping (`{{name: htge, k0: 18.0}}`) merges into the default's mapping,
so the default estimator's parameters stay (a new name with the old parameters fails the check, which
says so); an estimator written as a string (`pwl`, `mypkg.estimators:my_grad`) replaces it whole, with
no parameters. Several overlays may be given; later ones win.

Every key is validated before any job runs (`stelab.config.validate_config`, called by the Snakefile
on the merged config): the schema (types, bounds, allowed values, no unknown keys except estimator
parameters), then cross-key rules, every estimator's Q̂' on a grid and every theory case's model. An
error names the offending key, e.g. `config key qat.optimizers.momentum.lr: -0.1 is less than or equal
to the minimum of 0`, and a YAML trap gets a hint (YAML reads `1e-3` as a string: write `1.0e-3`).
An integer key takes an integer only (`2`, not `2.0`). Snakemake's `--config` passes the values inside
a nested mapping as strings (`--config 'qat={{"epochs": 3}}'` gives `'3'`), and every key here is
inside a section: set keys in a YAML overlay given with `--configfile`. Validation also writes each
missing key's default into the config. *Default* below is the schema's value, used when no config
file sets the key; where `config/config.yaml` (the embedded default, what `snakemake --cores all`
runs) sets another value, the row gives it too.

## Reading the tables

- **key**: the dotted path; `<name>` is a key you choose (an entry of a mapping), `[]` an item of a
  list.
- **type**: `[a, b]` and `(a, b)` are closed and open intervals; `` `x` | `y` `` lists the allowed
  values.
- **meaning**: *Required.* marks a key that must be present whenever its parent is; *Default* is
  the value validation fills in when the key is absent; `config/config.yaml` is its value there
  when that differs. The theory blocks (`theory.model`,
  `theory.pde`, `theory.sim`, `theory.particles`, a map) are documented once; a key marked
  "{same} `…`" takes the keys of that block (a partial block, deep-merged as its meaning says).
"""


def render_config_docs(*, schema: dict, config_dir: str | Path) -> str:
    """The text of config/README.md for ``schema`` (as :func:`stelab.config.load_schema` returns it)
    and the config files in ``config_dir``."""
    files = "\n".join(
        f"| `config/{name}` | {'default' if name == 'config.yaml' else 'overlay'} | "
        f"{', '.join(f'`{s}`' for s in sections)} | {_cell(summary)} |"
        for name, summary, sections in config_files(config_dir)
    )
    out = [INTRO.format(schema=SCHEMA_FILE, regenerate=REGENERATE, files=files, same=SAME_KEYS)]
    embedded = yaml.safe_load((Path(config_dir) / "config.yaml").read_text()) or {}
    for name, rows in section_rows(schema, embedded).items():
        description = " ".join(str(schema["properties"][name].get("description") or "").split())
        if not description:
            raise ValueError(f"{SCHEMA_FILE}: config section {name} has no description; add one and run {REGENERATE}")
        out.append(f"## `{name}`\n\n{_cell(description)}\n\n| key | type | meaning |\n|---|---|---|")
        out.append("\n".join(f"| `{r.path}` | {_cell(r.type)} | {_cell(r.meaning)} |" for r in rows) + "\n")
    return "\n".join(out)
