"""The JSON-schema check of a config, with defaults filled in and messages that name the key.

:func:`check_schema` validates against the workflow's schema with two changes to JSON Schema:
``integer`` means a YAML/JSON integer (JSON Schema also takes 2.0, which then reaches a job as
``'2.0'`` and a path as ``seed1000.0``), and each property's ``default`` is written into the
config. The first error is raised as :class:`ConfigError` naming the dotted key, with a hint for a
number given as a string (YAML 1.1 reads ``1e-3`` as a string; Snakemake's ``--config`` passes the
values inside a nested mapping as strings) and the condition of an ``if``/``then`` rule that made
a key required.
"""

from __future__ import annotations

import copy
import math

import jsonschema
import yaml

from .errors import ConfigError

#: how to give a config value that Snakemake's --config would pass as a string
CONFIGFILE_HINT = ("snakemake --config passes the values inside a nested mapping (qat={...}) as strings: set the key "
                   "in a YAML file given with --configfile instead")


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def _types(error: jsonschema.ValidationError) -> list:
    value = error.validator_value
    return list(value) if isinstance(value, list) else [value]


def _yaml_float(text: str, value: float) -> str:
    """A spelling of ``value`` that YAML 1.1 reads as that float: a decimal point and a signed exponent."""
    for spelling in (text.strip(), repr(value)):
        mantissa, _, exponent = spelling.lower().partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        if exponent and exponent[0] not in "+-":
            exponent = f"+{exponent}"
        candidate = f"{mantissa}e{exponent}" if exponent else mantissa
        if yaml.safe_load(candidate) == value:
            return candidate
    return repr(value)


def _string_hint(text: str, types: list) -> str:
    """What to write for a string where a number or boolean is expected; empty if it spells neither."""
    if "boolean" in types and text.lower() in ("true", "false", "yes", "no", "on", "off"):
        return f"; {CONFIGFILE_HINT}, written {text.lower()} (no quotes)"
    if "integer" not in types and "number" not in types:
        return ""
    try:
        value = float(text)
    except ValueError:
        return ""
    if "integer" in types:
        written = f", written {int(value)} (no quotes)" if value.is_integer() else ""
        return f"; {CONFIGFILE_HINT}{written}"
    if not math.isfinite(value):
        return ""
    spelling = _yaml_float(text, value)
    trap = (f"; YAML reads {text!r} as a string (a float needs a decimal point and a signed exponent)"
            if isinstance(yaml.safe_load(text), str) else "")
    return f"{trap}; {CONFIGFILE_HINT}; write it {spelling} (no quotes)"


def _condition(error: jsonschema.ValidationError, schema: dict) -> str:
    """' when data.source is folder' for an error raised by the ``then`` of an ``if`` of consts; else ''."""
    path = list(error.absolute_schema_path)
    if "then" not in path:
        return ""
    node = schema
    for step in path[:len(path) - 1 - path[::-1].index("then")]:
        if not isinstance(node, (dict, list)) or step == "$ref":
            return ""
        node = node[step]
    consts = {k: v["const"] for k, v in node.get("if", {}).get("properties", {}).items() if "const" in v}
    parent = list(error.absolute_path)[:-1] if error.validator != "required" else list(error.absolute_path)
    prefix = f"{_key(parent)}." if parent else ""
    return f" when {' and '.join(f'{prefix}{k} is {v}' for k, v in consts.items())}" if consts else ""


def _describe(error: jsonschema.ValidationError, schema: dict) -> str:
    key = _key(error.absolute_path)
    condition = _condition(error, schema)
    if error.validator == "required" and condition:
        missing = next(name for name in error.validator_value if name not in error.instance)
        return f"config key {_key([*error.absolute_path, missing])} is required{condition}"
    if error.validator == "type" and error.instance is None and condition:
        return f"config key {key} is required{condition}"
    if error.validator == "enum":
        return f"config key {key}: {error.instance!r} is not allowed; allowed values: {error.validator_value}"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"config key {key}: {error.message}; allowed keys: {allowed}"
    if error.validator == "propertyNames":
        return f"config key {key}: {error.message}"
    if error.validator == "type":
        types = _types(error)
        if "integer" in types and isinstance(error.instance, float):
            written = f" (write {int(error.instance)})" if error.instance.is_integer() else ""
            return f"config key {key}: {error.instance!r} is not an integer{written}"
        if isinstance(error.instance, str):
            hint = _string_hint(error.instance, types)
            if hint:
                return f"config key {key}: {error.instance!r} is a string, expected {' or '.join(types)}{hint}"
        return f"config key {key}: {error.instance!r} has the wrong type; expected {error.validator_value}"
    if error.validator == "pattern":
        return f"config key {key}: {error.instance!r} may only hold letters, digits and _ . + -"
    return f"config key {key}: {error.message}"


def _strict_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _validator(schema: dict):
    """The schema's validator class with strict integers and each property's ``default`` written into the instance."""
    base = jsonschema.validators.validator_for(schema)
    strict = jsonschema.validators.extend(base, type_checker=base.TYPE_CHECKER.redefine("integer", _strict_integer))
    validate_properties = strict.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sub_schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, sub_schema)

    return jsonschema.validators.extend(strict, {"properties": set_defaults})(schema)


def check_schema(cfg: dict, schema: dict) -> None:
    """Validate ``cfg`` against ``schema`` in place (defaults filled in); :class:`ConfigError` naming the key."""
    errors = list(_validator(schema).iter_errors(cfg))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors), schema))
