"""Every configuration check, in one place: the JSON schema, then the semantic rules.

The Snakefile calls :func:`check_config_files` on the files Snakemake merged and
:func:`validate_config` on the merged config before any job runs; every command that takes a
config section as JSON (``stelab pretrain --qat …``) calls :func:`validate_section` on it. Errors
are :class:`ConfigError` and name the offending key as a dotted path (``config key
qat.optimizers.momentum.lr: …``), or the file, with the allowed values for enumerations and a
hint for YAML's usual traps.

The lists the schema enumerates (optimizers, variants, default mirrors) and the seed bound are not
retyped in the schema file: :func:`load_schema` fills them from the package. Importing this
package does not import torch; the checks that run estimators (:func:`user_code_checks`) need
torch and otherwise run in the job that first uses the estimator. Submodules: :mod:`.files`
(YAML files: duplicate keys, tabs, a top level that is not a mapping), :mod:`.schema` (the JSON
schema: strict integers, defaults, messages and hints), :mod:`.names` (names that become paths),
:mod:`.identity` (user code and versions in a job's identity), :mod:`.bounded` (checks of user
code under a time limit).
"""

from __future__ import annotations

import copy
import importlib.util
import math
from functools import partial
from pathlib import Path

import yaml

from .bounded import run_bounded
from .errors import ConfigError
from .files import check_config_files, read_config_file
from .identity import package_digest, software_versions, source_digests, user_code, user_modules
from .names import check_theory_names
from .schema import check_schema

__all__ = ["ConfigError", "SEED_MAX", "check_config_files", "load_config", "load_schema", "lr_factor_label",
           "merge_overlay", "package_digest", "read_config_file", "software_versions", "source_digests", "user_code", "user_code_checks",
           "validate_config", "validate_qat_job", "validate_section"]

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
#: the largest seed (torch's generators take a signed 64-bit integer; 2**63 overflows in the job)
SEED_MAX = 2**63 - 1


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The workflow's JSON schema with the package's lists filled in (``$defs``: optimizer, variant, seed
    bound, mirrors)."""
    from ..data.download import DEFAULT_MIRRORS
    from ..optimizers import OPTIMIZERS
    from ..qat.settings import VARIANTS

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config schema {path} does not exist")
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    defs = schema.setdefault("$defs", {})
    defs["optimizer"] = {**defs.get("optimizer", {}), "enum": list(OPTIMIZERS)}
    defs["variant"] = {**defs.get("variant", {}), "enum": list(VARIANTS)}
    defs["seed"] = {**defs.get("seed", {}), "maximum": SEED_MAX}
    data = schema["properties"]["data"]["properties"]
    data["mirrors"]["default"] = list(DEFAULT_MIRRORS)
    return schema


def _check_finite(value, key: str) -> None:
    """Every number is finite (YAML's .nan/.inf and JSON's NaN/Infinity pass the schema's range checks)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key {key}: {value} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, f"{key}[{i}]")


def validate_config(cfg: dict, schema: dict | None = None) -> dict:
    """Validate ``cfg`` in place: schema (filling defaults), then every semantic rule; returns ``cfg``."""
    _check_finite(cfg, "")
    check_schema(cfg, load_schema() if schema is None else schema)
    _check_data(cfg["data"])
    _check_qat(cfg["qat"])
    _check_imagefolder(cfg)
    check_theory_names(cfg["theory"])
    _check_user_code(cfg, grid=True, theory=True)
    return cfg


def validate_section(name: str, section: dict, schema: dict | None = None) -> dict:
    """Validate one top-level section (e.g. the ``qat`` JSON a command receives) with its defaults."""
    schema = load_schema() if schema is None else schema
    if name not in schema["properties"]:
        raise ConfigError(f"unknown config section {name!r}; sections: {sorted(schema['properties'])}")
    if not isinstance(section, dict):
        raise ConfigError(f"config key {name}: expected a mapping, got {type(section).__name__}")
    cfg = {name: copy.deepcopy(section)}
    _check_finite(cfg, "")
    check_schema(cfg, {**schema, "required": [name]})
    if name == "data":
        _check_data(cfg["data"])
    elif name == "qat":
        _check_qat(cfg["qat"])
        _check_user_code(cfg, grid=True, theory=False)
    return cfg[name]


def merge_overlay(base: dict, overlay: dict) -> dict:
    """``base`` updated by ``overlay`` key by key, recursively, as ``snakemake --configfile`` merges files.

    Mappings merge; every other value (lists included) replaces the base's.
    """
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate_qat_job(section: dict, schema: dict | None = None) -> dict:
    """The qat keys one training job receives (:data:`stelab.qat.settings.RUN_KEYS`, the ``--qat`` JSON).

    Schema types, ranges and defaults as for the whole config, finite numbers, and each estimator's
    parameters; the keys only the workflow reads (``variants``, ``seeds``, the lr sweep) are not required.
    """
    from ..qat.settings import RUN_KEYS

    schema = copy.deepcopy(load_schema() if schema is None else schema)
    if not isinstance(section, dict):
        raise ConfigError(f"config key qat: expected a mapping, got {type(section).__name__}")
    qat_schema = schema["properties"]["qat"]
    qat_schema["required"] = [k for k in qat_schema.get("required", []) if k in RUN_KEYS]
    cfg = {"qat": copy.deepcopy(section)}
    _check_finite(cfg, "")
    check_schema(cfg, {**schema, "required": ["qat"]})
    _check_user_code(cfg, grid=False, theory=False)
    return cfg["qat"]


def load_config(path: str | Path, *overlays: str | Path) -> dict:
    """Read ``path`` merged with each overlay file in turn (:func:`read_config_file`: duplicate keys, tabs
    and non-mappings refused, naming the file), and validate it; errors name the files and the key."""
    paths = [Path(p) for p in (path, *overlays)]
    cfg: dict = {}
    for p in paths:
        cfg = merge_overlay(cfg, read_config_file(p))
    try:
        return validate_config(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{' + '.join(map(str, paths))}: {exc}") from None


def lr_factor_label(factor) -> str:
    """Path form of a learning-rate factor (``lr0.25``, ``lr1``, ``lr4``): the one spelling rules and tables use."""
    return f"{float(factor):g}"


def _check_data(data: dict) -> None:
    """data.source folder needs data.folder holding the four IDX files (plain or .gz)."""
    if data["source"] != "folder":
        return
    from ..data.idx import MNIST_FILES

    folder = Path(data["folder"])
    if not folder.is_dir():
        raise ConfigError(f"config key data.folder: {folder} does not exist or is not a folder")
    for name in MNIST_FILES:
        if not ((folder / name).is_file() or (folder / f"{name}.gz").is_file()):
            raise ConfigError(f"config key data.folder: {folder} holds neither {name} nor {name}.gz")


def _check_qat(qat: dict) -> None:
    """Cross-key rules of the qat section: every trained optimizer has a Q̂-net branch, sweeps are distinct."""
    for opt in qat["optimizers"]:
        if "qhat" not in qat["variants"].get(opt, []):
            raise ConfigError(f"config key qat.variants.{opt}: missing, or lacks 'qhat' "
                              "(every pair compares against the Q̂-net)")
    sweep = qat.get("lr_sweep", {})
    for opt in sweep.get("optimizers", []):
        if opt not in qat["optimizers"]:
            raise ConfigError(f"config key qat.lr_sweep.optimizers: {opt!r} is not a key of qat.optimizers "
                              f"({sorted(qat['optimizers'])})")
    labels = {}
    for factor in sweep.get("factors", []):
        label = lr_factor_label(factor)
        if label in labels:
            raise ConfigError(f"config key qat.lr_sweep.factors: {labels[label]!r} and {factor!r} both give the "
                              f"folder lr{label}; give factors that differ in 6 significant digits")
        labels[label] = factor
    if qat["gpu"] and qat["workers"] and qat["threads"] < qat["workers"] + 1:
        raise ConfigError(f"config key qat.threads: {qat['threads']} CPUs per GPU job cannot feed qat.workers = "
                          f"{qat['workers']} loader processes plus the training process; set qat.threads >= "
                          f"{qat['workers'] + 1}")
    main_bits = qat["quantize"]["bits"]
    seen = set()
    for i, extra in enumerate(qat.get("extra_bits", [])):
        if extra["bits"] == main_bits:
            raise ConfigError(f"config key qat.extra_bits[{i}].bits: {main_bits} is qat.quantize.bits already "
                              "(its estimator is qat.estimator); remove the entry or change its width")
        if extra["bits"] in seen:
            raise ConfigError(f"config key qat.extra_bits[{i}].bits: {extra['bits']} appears twice")
        seen.add(extra["bits"])


def _check_imagefolder(cfg: dict) -> None:
    """A ResNet QAT model needs data.imagefolder: an existing folder with train/ and val/ class folders.

    Only the layout is checked here (cheap on ImageNet); the check_imagefolder rule counts the images.
    """
    name = cfg["qat"]["model"]["name"]
    root = cfg["data"].get("imagefolder")
    if name == "mnist_convnet":
        if root and not Path(root).is_dir():
            raise ConfigError(f"config key data.imagefolder: {root} does not exist or is not a folder")
        return
    if not root:
        raise ConfigError(f"config key data.imagefolder: qat.model.name {name} trains on an ImageFolder dataset; "
                          "set data.imagefolder to its root (holding train/ and val/)")
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"config key data.imagefolder: {root} does not exist or is not a folder")
    for split in ("train", "val"):
        split_dir = root / split
        if not split_dir.is_dir() or not any(e.is_dir() for e in split_dir.iterdir()):
            raise ConfigError(f"config key data.imagefolder: {root} needs a {split}/ folder holding one folder "
                              "per class (ImageFolder layout)")


def _estimator_uses(cfg: dict):
    """(dotted key, spec, [(bits, m, layout)]) of every estimator the config names; the quantizers are those
    of the constants table (a QAT estimator's layer ranges are known only when its model is built)."""
    constants = cfg.get("constants") or {}
    layers = [(la["bits"], la["m"], la["layout"]) for la in constants.get("layers", [])]
    for name, spec in (constants.get("estimators") or {}).items():
        only = [(b, 1.0, "range") for b in spec["bits"]] if spec.get("bits") else layers
        yield f"constants.estimators.{name}", {k: v for k, v in spec.items() if k != "bits"}, only
    qat = cfg.get("qat") or {}
    if "estimator" in qat:
        yield "qat.estimator", qat["estimator"], []
    for i, extra in enumerate(qat.get("extra_bits", [])):
        yield f"qat.extra_bits[{i}].estimator", extra["estimator"], []


def _merge_hint(spec) -> str:
    if isinstance(spec, dict) and len(spec) > 1:
        return (" (an override file's mapping is merged key by key into config.yaml's, so parameters of the "
                "default estimator stay; write the estimator as a string, e.g. 'pwl' or 'htge,k0=5.5', "
                "to replace it whole)")
    return ""


def user_code_checks(cfg: dict, grid: bool = True, theory: bool = True):
    """(dotted key, check) of every check that runs an estimator or a theory map the config names.

    Every named estimator resolves with valid parameters; with ``grid``, the constants' estimators
    also pass :func:`stelab.estimators.validate_estimator` on each layer quantizer they are
    tabulated for. The QAT estimators meet layers whose range m is known only when the model is
    built (He-uniform bounds), where :mod:`stelab.qat.models` runs the same grid check on the real
    quantizers: checking absolute parameters (pwl lo/hi, mad s, htge k) on a unit quantizer here
    would refuse valid configs. With ``theory``, each experiment's models build
    (:func:`stelab.theory.experiments.validate_theory`). Without torch (a head node) the
    estimator checks are left to the jobs.
    """
    if importlib.util.find_spec("torch") is not None:
        for key, spec, quantizers in _estimator_uses(cfg):
            yield key, partial(_check_estimator, key, spec, quantizers if grid else [])
    if theory and "theory" in cfg:
        for exp in cfg["theory"].get("experiments") or {}:
            yield f"theory.experiments.{exp}", partial(_check_theory_experiment, cfg["theory"], exp)


def _check_user_code(cfg: dict, grid: bool, theory: bool) -> None:
    """Run :func:`user_code_checks`: in a child under a time limit (:mod:`.bounded`) when the checked
    sections name user code, in-process otherwise."""
    checks = list(user_code_checks(cfg, grid, theory))
    user_keys = [key for key, _ in user_modules({k: v for k, v in cfg.items() if theory or k != "theory"})]
    if checks and user_keys:
        run_bounded({"cfg": cfg, "grid": grid, "theory": theory}, ", ".join(user_keys))
        return
    for _, check in checks:
        check()


def _check_estimator(key: str, spec, quantizers) -> None:
    try:
        from ..estimators import get_estimator, validate_estimator
    except ImportError:  # a head node without a working torch: the jobs check their estimators themselves
        return
    from ..quantizers import UniformQuantizer

    try:
        get_estimator(spec)
        for bits, m, layout in quantizers:
            validate_estimator(spec, UniformQuantizer(bits, m, layout))
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"config key {key}: {exc}{_merge_hint(spec)}") from None


def _check_theory_experiment(theory: dict, exp: str) -> None:
    """Model combinations the theory track cannot solve (e.g. an exact-derivative surrogate of a quantizer)."""
    from ..theory.experiments import section_for, validate_theory

    try:
        validate_theory(section_for(theory, exp))
    except ValueError as exc:
        raise ConfigError(f"config key {exc}") from None
