"""The parts of a job's identity that are not config values: user code and software versions.

A config may name user code by a dotted path ``package.module:function``: an estimator
(``constants.estimators.<label>.name``, ``qat.estimator``, ``qat.extra_bits[i].estimator``, a theory
``surrogate: {estimator: …}``, ``theory.experiments.bridge.estimator``) or a theory map with
``kind: callable`` (``path``). The dotted path alone does not decide the numbers; the module's
source does. :func:`user_code` gives ``{dotted path: sha256 of the module's source file}`` for a
config section, which the rules pass as a param (Snakemake reruns exactly the jobs whose section
names an edited module) and the training jobs record in their identity
(:mod:`stelab.qat.identity`). Only the named module's file is hashed: code it imports from other
files is not covered. Modules are located without being imported (no user code runs here).

:func:`package_digest` is the content of the stelab package itself (every ``*.py`` file under it): the
version number alone does not change when the code does, so the rules that compute numbers hold the
digest as a param and the training jobs record it (a code change reruns them and refuses their
stale resume checkpoints). :func:`software_versions` is the stelab, Python and torch version of the environment that builds
the DAG, read without importing torch, so a head node without the training stack can still parse.
:func:`source_digests` is the content of files of the checkout a rule reads (notebook templates,
the committed record's tables), keyed by their file names: a rule holds it as a param instead of
their absolute paths, so a finished run moved with its checkout stays complete.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import platform
import sys
from pathlib import Path

from .. import __version__
from .errors import ConfigError


def _estimator_name(spec):
    """The ``name`` of an estimator spec (a mapping, or a string ``NAME[,key=value,...]``)."""
    if isinstance(spec, dict):
        return spec.get("name")
    if isinstance(spec, str):
        return spec.split(",", 1)[0].strip()
    return None


def _is_dotted(name) -> bool:
    return isinstance(name, str) and (":" in name or "." in name)


def user_modules(section, key: str = ""):
    """(dotted config key, dotted path) of every user callable named anywhere in ``section``."""
    if isinstance(section, dict):
        if section.get("kind") == "callable" and isinstance(section.get("path"), str):
            yield f"{key}.path", section["path"]
        for name, value in section.items():
            sub = f"{key}.{name}" if key else str(name)
            if name == "estimator" and _is_dotted(_estimator_name(value)):
                yield sub, _estimator_name(value)
            elif name in ("estimators", "qhat_estimators") and isinstance(value, dict):
                for label, spec in value.items():
                    if _is_dotted(_estimator_name(spec)):
                        yield f"{sub}.{label}", _estimator_name(spec)
            else:
                yield from user_modules(value, sub)
    elif isinstance(section, list):
        for i, value in enumerate(section):
            yield from user_modules(value, f"{key}[{i}]")


def _module_name(path: str) -> str:
    return path.rpartition(":")[0] if ":" in path else path.rpartition(".")[0]


def _find_spec(module: str):
    """The import spec of ``module`` found on ``sys.path`` without executing any of its packages."""
    spec, locations = None, None
    parts = module.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        loaded = sys.modules.get(name)
        spec = getattr(loaded, "__spec__", None) if loaded is not None else None
        if spec is None:
            spec = importlib.machinery.PathFinder.find_spec(name, locations)
        if spec is None:
            return importlib.util.find_spec(module) if i == 0 else None
        locations = spec.submodule_search_locations
    return spec


def module_digest(path: str, key: str = "") -> str:
    """``sha256:<hex>`` of the source file of the module of ``path`` (``built-in`` for compiled-in ones)."""
    module = _module_name(path)
    try:
        spec = _find_spec(module) if module else None
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"config key {key}: cannot locate module {module!r} of {path!r} ({exc})") from None
    if spec is None:
        raise ConfigError(f"config key {key}: cannot locate module {module!r} of {path!r} on the Python path")
    origin = spec.origin
    if not origin or not Path(origin).is_file():
        return f"{origin or 'namespace'}:{module}"
    return "sha256:" + hashlib.sha256(Path(origin).read_bytes()).hexdigest()


def user_code(section) -> dict:
    """{dotted path: digest of its module's source} of every user callable ``section`` names (sorted)."""
    return {path: module_digest(path, key) for key, path in sorted(user_modules(section), key=lambda kv: kv[1])}


def source_digests(paths) -> dict:
    """{file name: ``sha256:<hex>``} of ``paths`` (named by their last component only, which does not move)."""
    return {Path(p).name: "sha256:" + hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def package_digest(root=None) -> str:
    """``sha256:<hex>`` over the relative path and bytes of every ``*.py`` file under ``root`` (default:
    this stelab package's folder), in sorted order; caches and other files are not read."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + h.hexdigest()


def software_versions() -> str:
    """``stelab V, python X.Y.Z, torch A.B.C`` of this environment (torch read from its metadata, not imported)."""
    try:
        torch = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "not installed"
    return f"stelab {__version__}, python {platform.python_version()}, torch {torch}"
