"""Names from the config that become path components: checked once, here, before any rule exists.

A theory case names its folder ``results/theory/<experiment>/<case>/`` (and its logs), and is a
Snakemake wildcard value. A name must

* hold only letters, digits and ``_ . + -``, and not start with ``.``: ``.`` or ``..`` would put a
  case's outputs outside its experiment's folder (``..`` shares ``results/theory/sim.npz`` with
  every other experiment that has such a case), and a hidden name hides them;
* not end in the suffix of a file the workflow writes (``.tsv``, ``.npz``, ``.log``, …): a case
  ``gaps.tsv`` would be a folder where the experiment's table ``gaps.tsv`` is written;
* differ from the other names of its folder when letter case is ignored (macOS and Windows file
  systems would give two cases one folder); generated names (plateau ``w<ω>``, bridge
  ``<net>_eta<η>``) must not collapse either.
"""

from __future__ import annotations

import re

from .errors import ConfigError

PATH_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,99}")
#: suffixes of the files the workflow writes; a path name ending in one could clash with an output
OUTPUT_SUFFIXES = (".tsv", ".csv", ".npz", ".json", ".log", ".pt", ".ckpt", ".tex", ".pdf", ".svg", ".png",
                   ".html", ".ipynb", ".tmp", ".corrupt")
#: theory experiments whose case names are generated from a list of values: (list key, cases per value)
_GENERATED = {"plateau": ("omegas", 1), "bridge": ("etas", 2)}


def check_path_name(name, key: str) -> None:
    """ConfigError naming ``key`` unless ``name`` is a safe single path component (module docstring)."""
    if not isinstance(name, str):
        raise ConfigError(f"config key {key}: {name!r} is not a string; a name here becomes a folder name")
    if not PATH_NAME.fullmatch(name):
        raise ConfigError(f"config key {key}: {name!r} is not a usable folder name: letters, digits and _ . + - "
                          "only, at most 100 characters, not starting with '.' ('.' and '..' would write outside "
                          "the experiment's folder)")
    if name.lower().endswith(OUTPUT_SUFFIXES):
        raise ConfigError(f"config key {key}: {name!r} ends like an output file of the workflow "
                          f"({', '.join(OUTPUT_SUFFIXES)}), whose path it could take; choose another name")


def check_distinct(names, key: str) -> None:
    """ConfigError naming ``key`` when two of ``names`` are equal up to letter case."""
    seen = {}
    for name in names:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise ConfigError(f"config key {key}: {other!r} and {name!r} differ only in letter case, so they name "
                              "one folder on case-insensitive file systems")


def check_theory_names(theory: dict) -> None:
    """Every case name of every case experiment (configured or generated) is a safe, distinct folder name."""
    from ..theory.experiments import CASE_EXPERIMENTS, experiment_cases

    experiments = theory.get("experiments") or {}
    for exp in CASE_EXPERIMENTS:
        cfg = experiments.get(exp)
        if not isinstance(cfg, dict):
            continue
        for name in cfg.get("cases") or {}:
            check_path_name(name, f"theory.experiments.{exp}.cases")
        cases = experiment_cases(theory, exp)
        for name in cases:
            check_path_name(name, f"theory.experiments.{exp}")
        check_distinct(list(cases), f"theory.experiments.{exp}.cases")
        if exp in _GENERATED and cfg.get("enabled", True):
            field, per_value = _GENERATED[exp]
            values = cfg.get(field) or []
            if len(cases) < per_value * len(values):
                raise ConfigError(f"config key theory.experiments.{exp}.{field}: the values {values} name only the "
                                  f"cases {sorted(cases)}: two of them agree in 6 significant digits, so they would "
                                  "share a folder; give values that differ there")
