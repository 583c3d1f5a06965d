"""The install: envs/requirements.lock pins every requirement of pyproject.toml exactly, envs/stelab.yaml holds the
same pins, and the Makefile installs from the lock."""

from __future__ import annotations

import tomllib

import yaml
from helpers import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _pins(lines) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in reqs}


def lock() -> dict[str, Requirement]:
    return _pins((REPO / "envs/requirements.lock").read_text().splitlines())


def test_the_lock_pins_every_requirement_exactly_within_pyproject():
    pins = lock()
    for r in pins.values():
        (spec,) = r.specifier
        assert spec.operator == "==" and "+" not in spec.version, f"{r}: not an exact pin without a local label"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"] + project["optional-dependencies"]["dev"]:
        wanted = Requirement(text)
        pinned = pins.get(canonicalize_name(wanted.name))
        assert pinned is not None, f"{wanted.name} is not in the lock"
        assert wanted.specifier.contains(next(iter(pinned.specifier)).version), f"{pinned} violates {wanted}"
    assert all(str(r.marker) == 'sys_platform == "linux"' for name, r in pins.items()
               if name.startswith("nvidia-")), "CUDA wheels must stay Linux-only"


def test_the_conda_environment_has_the_same_pins():
    env = yaml.safe_load((REPO / "envs/stelab.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {n: str(r) for n, r in _pins(pip).items()} == {n: str(r) for n, r in lock().items()}


def test_make_installs_from_the_lock():
    makefile = (REPO / "Makefile").read_text()
    assert "LOCK   := envs/requirements.lock" in makefile
    assert "-r $(VENV)/requirements.txt" in makefile and "$(LOCK_FILTER) $(LOCK) > $(VENV)/requirements.txt" in makefile
