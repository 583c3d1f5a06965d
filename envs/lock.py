"""Write the lock file and the conda environment's pins from the environment this interpreter runs in.

    python envs/lock.py            # rewrite envs/requirements.lock and the pip pins of envs/stelab.yaml
    python envs/lock.py --check    # exit 1 when either file differs from what this environment gives

The pins are the installed versions of every distribution that ``stelab[dev]`` (pyproject.toml) needs,
directly or through its dependencies, under this platform's markers: nothing else installed in the
environment enters. Local version labels are dropped (torch 2.14.1, not 2.14.1+cu130); the CUDA
wheels torch pulls in on Linux keep a ``sys_platform == "linux"`` marker, so the lock also installs
on macOS. ``make lock`` runs this in a fresh environment installed from pyproject.toml alone.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "envs" / "requirements.lock"
CONDA = ROOT / "envs" / "stelab.yaml"
#: distributions that only Linux installs of torch need
LINUX_ONLY = re.compile(r"^(nvidia-|cuda-|triton$)")
HEADER = ("# Exact versions of stelab[dev] and everything it needs (written by `make lock`, i.e. envs/lock.py;\n"
          "# do not edit by hand). `make` installs from this file; envs/stelab.yaml holds the same pins.\n")


def closure(extras=("dev",)) -> dict[str, str]:
    """{canonical name: installed version} of the requirements of pyproject.toml (with ``extras``), transitively."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    todo += [Requirement(r) for e in extras for r in project["optional-dependencies"][e]]
    pins, seen_extras = {}, set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, tuple(sorted(req.extras)))
        if key in seen_extras:
            continue
        seen_extras.add(key)
        dist = metadata.distribution(req.name)
        pins[name] = dist.version
        for text in dist.requires or []:
            sub = Requirement(text)
            env = [{"extra": e} for e in req.extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(e) for e in env):
                todo.append(sub)
    return pins


def lines(pins: dict[str, str]) -> list[str]:
    """``name==version`` per pin (local label dropped), Linux-only wheels with their marker."""
    out = []
    for name, version in sorted(pins.items()):
        pin = f"{name}=={version.split('+')[0]}"
        out.append(f'{pin} ; sys_platform == "linux"' if LINUX_ONLY.match(name) else pin)
    return out


def conda_text(pinned: list[str]) -> str:
    """envs/stelab.yaml with its pip section replaced by ``pinned``."""
    text = CONDA.read_text()
    head = text[: text.index("      - ") if "      - " in text else len(text)]
    return head + "".join(f"      - '{p}'\n" for p in pinned)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    args = p.parse_args(argv)
    pinned = lines(closure())
    wanted = {LOCK: HEADER + "".join(f"{p}\n" for p in pinned), CONDA: conda_text(pinned)}
    if args.check:
        stale = [str(f.relative_to(ROOT)) for f, text in wanted.items() if not f.is_file() or f.read_text() != text]
        print(f"checked {len(pinned)} pins in {', '.join(str(f.relative_to(ROOT)) for f in wanted)}: "
              + (f"out of date: {', '.join(stale)}" if stale else "up to date"))
        return 1 if stale else 0
    for f, text in wanted.items():  # atomically: a temporary file beside it, then rename
        tmp = f.with_name(f".{f.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, f)
    print(f"wrote {len(pinned)} pins to {LOCK.relative_to(ROOT)} and {CONDA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
