"""Configuration: load YAML, validate against the workflow's JSON schema, then semantic checks.

Every error names the offending key as a dotted path (``qat.estimator.name``) and, for
enumerations, the allowed values, before any job runs.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    if error.validator == "enum":
        return f"config key {key}: {error.instance!r} is not allowed; allowed values: {error.validator_value}"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"config key {key}: {error.message}; allowed keys: {allowed}"
    if error.validator == "required":
        return f"config key {key}: {error.message}"
    if error.validator == "type":
        return f"config key {key}: {error.instance!r} has the wrong type; expected {error.validator_value}"
    if error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return f"config key {key}: {error.message}"
    return f"config key {key}: {error.message}"


def validate_config(cfg: dict, schema: dict | None = None) -> dict:
    """Validate ``cfg`` in place against the schema (filling defaults) and the semantic rules.

    Raises :class:`ConfigError` with a message naming the key.
    """
    schema = load_schema() if schema is None else schema
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = _with_defaults(validator_cls)(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best))
    _check_estimators(cfg)
    _check_imagefolder(cfg)
    _check_theory(cfg)
    return cfg


def load_config(path: str | Path) -> dict:
    """Read and validate a YAML config file; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    with open(path) as fh:
        cfg = yaml.safe_load(fh) or {}
    try:
        return validate_config(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _with_defaults(validator_cls):
    """A validator class that also writes each property's ``default`` into the instance."""
    validate_properties = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


def _estimator_specs(cfg: dict):
    """(dotted key, spec) of every estimator named in the config."""
    for name, spec in (cfg.get("constants", {}).get("estimators") or {}).items():
        yield f"constants.estimators.{name}", {k: v for k, v in spec.items() if k != "bits"}
    qat = cfg.get("qat") or {}
    if "estimator" in qat:
        yield "qat.estimator", qat["estimator"]


def _check_theory(cfg: dict) -> None:
    """Model combinations the theory track cannot solve (e.g. an exact-derivative surrogate of a quantizer)."""
    if "theory" not in cfg:
        return
    from .theory.experiments import validate_theory

    try:
        validate_theory(cfg["theory"])
    except ValueError as exc:
        raise ConfigError(f"config key {exc}") from None


def _check_imagefolder(cfg: dict) -> None:
    """A ResNet QAT model needs data.imagefolder: an existing folder with train/ and val/ class folders.

    Only the layout is checked here (cheap on ImageNet); the check_imagefolder rule counts the images.
    """
    name = ((cfg.get("qat") or {}).get("model") or {}).get("name")
    if name in (None, "mnist_convnet"):  # the schema allows only ResNets besides it
        return
    root = (cfg.get("data") or {}).get("imagefolder")
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


def _check_estimators(cfg: dict) -> None:
    from .estimators import get_estimator

    for key, spec in _estimator_specs(cfg):
        try:
            get_estimator(spec)
        except ValueError as exc:
            raise ConfigError(f"config key {key}: {exc}") from None
