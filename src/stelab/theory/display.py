"""The theory tables as the report page shows them (paper B, arXiv 2510.10693): column specs for the one
renderer (:mod:`stelab.report.tables`), labelled with symbols and units (the model is dimensionless;
τ = steps/d). Verdicts and their rules come from :mod:`stelab.theory.verdicts`.
"""

from __future__ import annotations

from ..report.tables import Col
from .verdicts import LIMIT_NAMES

EXPERIMENT_NAMES = {"density": "density", "curves": "error curves", "plateau": "plateau", "variants": "variants",
                    "bridge": "bridge to paper A"}

GAP_SUMMARY = [Col("Experiment", "experiment", "text", names=EXPERIMENT_NAMES), Col("Limit", "limit", "text"),
               Col("Cases", "cases", "int"), Col("Largest max |Δε|", "max_abs_diff", "sig"),
               Col("in case", "worst_case", "text"), Col("seed s.e. of ε", "seed_sem", "sig"),
               Col("max |Δε| ÷ s.e.", "noise_ratio", "sig", 2), Col("ε verdict", "eps_verdict", "verdict"),
               Col("Mean |Δε|", "mean_abs_diff", "sig"), Col("Largest KS", "ks", "sig"),
               Col("KS 95 % critical", "ks_critical", "sig"), Col("KS verdict", "ks_verdict", "verdict")]
EPS_GAPS = [Col("Case", "case", "text"), Col("Limit", "limit", "text"), Col("max |Δε|", "max_abs_diff", "sig"),
            Col("mean |Δε|", "mean_abs_diff", "sig"), Col("seed s.e. of ε", "seed_sem", "sig"),
            Col("max |Δε| ÷ s.e.", "noise_ratio", "sig", 2), Col("Verdict", "verdict", "verdict"),
            Col("d", "d", "int"), Col("Seeds", "seeds", "int")]
DENSITY_GAPS = [Col("Case", "case", "text"), Col("Against", "limit", "text"), Col("Density", "quantity", "text"),
                Col("τ", "tau", "printed"), Col("KS distance", "ks", "sig"), Col("95 % critical", "ks_critical", "sig"),
                Col("Verdict", "verdict", "verdict"), Col("d", "d", "int"), Col("Seeds", "seeds", "int")]
PLATEAU = [Col("Case", "case", "text"), Col("ω", "omega", "printed"), Col("target position p in its bin", "p_target", "sig"),
           Col("τ_p formula (θ − ŵ₀)/v", "tau_p_formula", "sig"), Col("τ_p simulation", "tau_p_sim", "sig"),
           Col("τ_p PDE", "tau_p_pde", "sig"), Col("drift speed v", "speed", "sig")]
FIXED_POINTS = [Col("Sweep", "sweep", "text", names={"bits_omega": "b × ω", "eta": "η"}), Col("b", "bits", "int"),
                Col("ω", "omega", "printed"), Col("η", "eta", "printed"), Col("σ", "sigma", "printed"),
                Col("ε*", "eps_star", "sig"), Col("Status", "status", "text"),
                Col("input error", "input_error", "sig"), Col("dither", "dither", "sig"),
                Col("saturation", "saturation", "sig"), Col("small-noise ε*", "small_noise", "sig"),
                Col("unquantized ε*₀", "eps_star_0", "sig"), Col("ε* − ε*₀", "deviation", "sig")]
FIXED_POINT_CHECKS = [Col("Case", "case", "text"), Col("ε* (self-consistent)", "eps_star", "sig"),
                      Col("PDE ε at τ_max", "pde_final", "sig"), Col("|difference|", "abs_diff", "sig"),
                      Col("PDE change over the last stretch", "pde_last_change", "sig"),
                      Col("τ_max", "tau_max", "printed"), Col("mass drift", "mass_drift", "sig")]
STABILITY = [Col("η", "eta", "printed"), Col("Model", "model", "text"), Col("c", "c", "sig"),
             Col("ηc", "eta_c", "sig"), Col("simulated ε (mean)", "sim_eps_mean", "sig"),
             Col("Limit", "theory", "text", names=LIMIT_NAMES), Col("limit ε", "theory_eps", "sig"),
             Col("ε*", "eps_star", "sig"), Col("stable (ηc < 2)", "stable_theory", "text")]
BRIDGE = [Col("η", "eta", "printed"), Col("α", "alpha", "sig"), Col("simulation max |Δε|", "sim_max_gap", "sig"),
          Col("simulation mean |Δε|", "sim_mean_gap", "sig"), Col("PDE max |Δε|", "pde_max_gap", "sig"),
          Col("PDE mean |Δε|", "pde_mean_gap", "sig"), Col("PDE final KS", "pde_final_ks", "sig")]
