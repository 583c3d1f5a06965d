"""Config checks that run user code, under a time limit, in a child process.

Checking an estimator or a theory map calls the function the config names. A user function that
never returns (a loop, a deadlock, an import that blocks) would hang the Snakefile's parse, so
when a config names user code (:func:`stelab.config.identity.user_modules`) these checks run in a
child Python process that is killed after :func:`check_timeout_s` seconds; the error names the
config key whose check was running. The child announces each key before checking it and reports
a :class:`~stelab.config.errors.ConfigError` back as text; the parent raises it. Configs naming
only built-in estimators and maps are checked in-process (no child, no torch start-up cost).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from .errors import ConfigError

#: environment variable overriding the time limit of a user-code check (seconds)
TIMEOUT_ENV = "STELAB_CHECK_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 120.0
_KEY, _ERROR = "@stelab-check-key ", "@stelab-check-error "
_CHILD = "import sys; from stelab.config.bounded import child_main; sys.exit(child_main())"


def check_timeout_s() -> float:
    """Seconds a check of user code may take: ``$STELAB_CHECK_TIMEOUT_S``, else 120."""
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"${TIMEOUT_ENV}: {text!r} is not a number of seconds") from None
    if not value > 0:
        raise ConfigError(f"${TIMEOUT_ENV}: {text!r} must be > 0")
    return value


def run_bounded(payload: dict, user_keys: str) -> None:
    """Run :func:`stelab.config.user_code_checks` of ``payload`` in a child; raise its ConfigError, or
    a ConfigError naming the running key (``user_keys``, the keys naming user code, before the first
    check began) when it exceeds the time limit or crashes."""
    limit = check_timeout_s()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p or os.getcwd() for p in sys.path))
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(json.dumps(payload, default=str), timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        key = _last_key(out) or user_keys
        raise ConfigError(f"config key {key}: its check did not finish within {limit:g} s (a function that never "
                          f"returns?); set ${TIMEOUT_ENV} to allow longer") from None
    errors = [line[len(_ERROR):] for line in out.splitlines() if line.startswith(_ERROR)]
    if errors:
        raise ConfigError(json.loads(errors[-1]))
    if proc.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise ConfigError(f"config key {_last_key(out) or user_keys}: its check crashed (exit {proc.returncode}): "
                          f"{tail}")


def _last_key(out: str) -> str | None:
    keys = [line[len(_KEY):] for line in out.splitlines() if line.startswith(_KEY)]
    return keys[-1] if keys else None


def child_main() -> int:
    """The child's side: read the payload from stdin, announce and run each check, report a ConfigError."""
    from . import user_code_checks

    payload = json.loads(sys.stdin.read())
    for key, check in user_code_checks(payload["cfg"], grid=payload["grid"], theory=payload["theory"]):
        print("\n" + _KEY + key, flush=True)
        try:
            check()
        except ConfigError as exc:
            print("\n" + _ERROR + json.dumps(str(exc)), flush=True)
            return 0
    return 0
