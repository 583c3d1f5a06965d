"""The theory track's experiments as resolved "case" specs, and their validation.

A case spec is plain data (JSON), fully resolved from the ``theory:`` config section::

    {"experiment": ..., "case": ..., "model": {...}, "sim": {"d", "seeds", "block"},
     "tau_max": ..., "n_times": ..., "snapshot_taus": [...], "pde": {...},
     "solvers": [...], "particles": {...}, "bridge": {...} (bridge only)}

Experiments with cases (one simulation + one theory solve per case, then a comparison; see
:mod:`stelab.theory.case_runs` and :mod:`stelab.theory.comparison`), each tied to a claim of
paper B (arXiv 2510.10693):

* ``density``: paper B's density figure, μ_τ(ŵ | w* = 1) at τ ∈ {10, 25, 50, 100}
  (d = 3000, w* = 1, μ₀ = N(0, 1), weights and inputs quantized with b = 2, ω = 2);
* ``curves``: ε(τ) for several ω and b (paper B: a plateau, then a sharp drop);
* ``plateau``: plateau length vs ω (paper B: it depends on the quantization range);
* ``variants``: weight-only quantization, the clipped STE and a tanh pair (paper B's
  extension to nonlinear maps of weights and inputs);
* ``bridge``: this workflow's own experiment, not in paper B: paper A's (arXiv 2405.05171)
  Q̂-net vs STE-net with M-init and lr αη in this model (:mod:`stelab.theory.bridge`).

Sweeps without cases (:mod:`stelab.theory.sweeps`): ``fixed_points`` (paper B's fixed-point
analysis, deviation from the unquantized model) and ``stability`` (its stability analysis, as a
learning-rate sweep).

Bridge cases run to τ_max = t_max/η (a common clock t = ητ for every η) with the PDE time
step scaled by 0.1/η, which keeps the step per unit of t fixed.
"""

from __future__ import annotations

import copy

from .model import Model

CASE_EXPERIMENTS = ("density", "curves", "plateau", "variants", "bridge")
SWEEP_EXPERIMENTS = ("fixed_points", "stability")
SOLVERS = ("pde", "linear_ode", "closure", "transport", "particles")


def deep_merge(base: dict, override: dict | None) -> dict:
    """Recursive dict merge (override wins); returns a new dict."""
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and "kind" not in v:
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and v.get("kind") == out[k].get("kind"):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def experiment_config(theory: dict, exp: str) -> dict:
    """The ``theory.experiments.<exp>`` section (ValueError naming the key when missing)."""
    exps = theory.get("experiments", {})
    if exp not in exps:
        raise ValueError(f"theory.experiments.{exp}: not configured (have {sorted(exps)})")
    return exps[exp]


def _base_case(theory: dict, exp: str, name: str, cfg: dict, model_override: dict | None) -> dict:
    model = deep_merge(theory["model"], cfg.get("model"))
    model = deep_merge(model, model_override)
    return {
        "experiment": exp,
        "case": name,
        "model": model,
        "sim": deep_merge(theory.get("sim", {}), cfg.get("sim")),
        "pde": deep_merge(theory.get("pde", {}), cfg.get("pde")),
        "particles": deep_merge(theory.get("particles", {}), cfg.get("particles")),
        "tau_max": float(cfg.get("tau_max", theory.get("tau_max", 100.0))),
        "n_times": int(cfg.get("n_times", theory.get("n_times", 120))),
        "snapshot_taus": [float(t) for t in cfg.get("snapshot_taus", [])],
        "solvers": list(cfg.get("solvers", theory.get("solvers", ["pde", "closure"]))),
    }


def check_experiment(exp: str) -> None:
    """ValueError naming ``exp`` and listing the experiments when it is none of them."""
    if exp not in CASE_EXPERIMENTS + SWEEP_EXPERIMENTS:
        raise ValueError(f"theory experiment {exp!r} is unknown; the experiments: "
                         f"{', '.join(CASE_EXPERIMENTS + SWEEP_EXPERIMENTS)}")


def experiment_cases(theory: dict, exp: str) -> dict:
    """Resolved case specs of an experiment, by case name (empty for sweeps / disabled ones; ValueError for
    an unknown experiment)."""
    check_experiment(exp)
    if exp not in CASE_EXPERIMENTS:
        return {}
    cfg = experiment_config(theory, exp)
    if not cfg.get("enabled", True):
        return {}
    if exp == "density":
        return {"main": _base_case(theory, exp, "main", cfg, None)}
    if exp in ("curves", "variants"):
        return {name: _base_case(theory, exp, name, cfg, ov) for name, ov in cfg.get("cases", {}).items()}
    if exp == "plateau":
        out = {}
        for om in cfg.get("omegas", []):
            ov = {"weight_map": {"omega": float(om)}}
            if cfg.get("vary_input", False):
                ov["input_map"] = {"omega": float(om)}
            out[f"w{om:g}"] = _base_case(theory, exp, f"w{om:g}", cfg, ov)
        return out
    out = {}
    for eta in cfg.get("etas", []):
        for net in ("qhat", "ste"):
            name = f"{net}_eta{eta:g}"
            case = _base_case(theory, exp, name, cfg, {"eta": float(eta)})
            case["tau_max"] = float(cfg.get("t_max", 10.0)) / float(eta)
            case["pde"] = dict(case["pde"], dt=float(case["pde"].get("dt", 0.01)) * 0.1 / float(eta))
            case["bridge"] = {"net": net, "estimator": cfg.get("estimator", {"name": "htge", "k0": 5.5}),
                              "optimizer": "sgd"}
            out[name] = case
    return out


def section_for(theory: dict, exp: str) -> dict:
    """The theory section reduced to one experiment (a rule's parameter: editing another
    experiment does not re-trigger it)."""
    out = {k: v for k, v in theory.items() if k != "experiments"}
    out["experiments"] = {exp: experiment_config(theory, exp)}
    return out


def case_spec(theory: dict, exp: str, case: str) -> dict:
    """The resolved spec of one case (ValueError naming the experiment when it is unknown, a sweep, disabled, or
    has no such case)."""
    cases = experiment_cases(theory, exp)
    if exp in SWEEP_EXPERIMENTS:
        raise ValueError(f"theory.experiments.{exp}: a sweep without cases (stelab theory fixed-point or sweep runs "
                         f"it); the experiments with cases: {', '.join(CASE_EXPERIMENTS)}")
    if not experiment_config(theory, exp).get("enabled", True):
        raise ValueError(f"theory.experiments.{exp}: disabled (enabled: false), so it has no case {case!r}")
    if case not in cases:
        raise ValueError(f"theory.experiments.{exp}: no case {case!r} (have {sorted(cases)})")
    return cases[case]


def validate_theory(theory: dict) -> None:
    """Semantic checks before any job runs: every case's model builds (maps, surrogate, laws,
    zero-mean input map) and every solver name is known. Raises ValueError naming the key. (Case
    names, which name folders, are checked by :mod:`stelab.config.names`.)"""
    for exp in CASE_EXPERIMENTS:
        if exp not in theory.get("experiments", {}):
            continue
        for name, case in experiment_cases(theory, exp).items():
            key = f"theory.experiments.{exp}[{name}]"
            model = Model.from_spec(case["model"], key=f"{key}.model")
            unknown = set(case["solvers"]) - set(SOLVERS)
            if unknown:
                raise ValueError(f"{key}.solvers: unknown {sorted(unknown)}; allowed {list(SOLVERS)}")
            if exp == "bridge" and not model.g.is_step:
                raise ValueError(f"{key}.model.weight_map: the bridge needs a quantizer weight map")
    for exp in SWEEP_EXPERIMENTS:
        if exp in theory.get("experiments", {}):
            Model.from_spec(deep_merge(theory["model"], theory["experiments"][exp].get("model")),
                            key=f"theory.experiments.{exp}.model")
