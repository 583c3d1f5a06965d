"""Config files as read by ``stelab`` and re-read for the Snakefile: YAML's silent traps refused.

YAML takes a key given twice silently (the last wins), so an overlay that sets ``qat:`` twice
loses half of itself. :func:`read_config_file` refuses that, names the file, the line and the key
path; it also names the file for a tab in the indentation, any other YAML error, and a top level
that is not a mapping of sections. The Snakefile passes every file Snakemake loaded
(``workflow.configfiles``) through :func:`check_config_files` before validating the merged config.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ConfigError


def _duplicates(node, path=()):
    """(dotted key, line, first line) of every mapping key that appears twice under one parent."""
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                if key in seen:
                    yield ".".join((*path, key)), key_node.start_mark.line + 1, seen[key]
                seen.setdefault(key, key_node.start_mark.line + 1)
            yield from _duplicates(value_node, (*path, str(key)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicates(item, (*path[:-1], f"{path[-1]}[{i}]") if path else (f"[{i}]",))


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    if "'\\t'" in problem:
        return ConfigError(f"config file {path}: {where}a tab character; YAML indents with spaces only")
    return ConfigError(f"config file {path}: {where}not valid YAML ({problem})")


def read_config_file(path) -> dict:
    """The mapping in the YAML (or JSON) file ``path``; ConfigError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    for key, line, first in _duplicates(node):
        raise ConfigError(f"config file {path}: line {line}: key {key} appears twice (first on line {first}); "
                              "YAML would silently keep only the last one")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level is a {type(data).__name__}, not a mapping of "
                              "config sections (constants, data, qat, theory, report)")
    return data


def check_config_files(paths) -> None:
    """:func:`read_config_file` on each of ``paths`` (the files Snakemake merged), for its checks only."""
    for path in paths:
        read_config_file(path)
