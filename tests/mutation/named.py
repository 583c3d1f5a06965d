"""The mutations issue 17 names, applied one at a time to a scratch copy: each must fail the fast tier.

    .venv/bin/python tests/mutation/named.py            # all; exit 1 if any survives
    .venv/bin/python tests/mutation/named.py bf16 app_h  # some, by name

Each mutation replaces one exact snippet of a source file (it must occur exactly once, so a refactor
that moves the code makes this script fail loudly instead of testing nothing) and runs the fast test
files that judge it. "killed" means pytest exited 1 (tests failed), not 2–5 (collection or usage errors).
The checkout itself is never written to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAST = ["-m", "not slow and not slurm and not browser", "-q", "-x", "-p", "no:cacheprovider"]

#: name → (file, original snippet, mutated snippet, test files)
MUTATIONS = {
    "app_h_k_doubled": (
        "src/stelab/constants/table.py",
        'c = estimator_constants({"name": "htge", "k": k}, UniformQuantizer(bits, 1.0))',
        'c = estimator_constants({"name": "htge", "k": 2 * k}, UniformQuantizer(bits, 1.0))',
        ["tests/test_numbers.py", "tests/constants"]),
    "curves_M_is_w": (
        "src/stelab/constants/table.py",
        '"M": wm(w).numpy(),',
        '"M": w.numpy(),',
        ["tests/test_numbers.py", "tests/constants"]),
    "clipped_surrogate_is_ste": (
        "src/stelab/theory/surrogate.py",
        "return ((w >= lo) & (w <= hi)).astype(np.float64)",
        "return np.ones_like(w, dtype=np.float64)",
        ["tests/theory"]),
    "clipped_surrogate_half_width": (
        "src/stelab/theory/surrogate.py",
        "return ((w >= lo) & (w <= hi)).astype(np.float64)",
        "return ((w >= lo / 2) & (w <= hi / 2)).astype(np.float64)",
        ["tests/theory"]),
    "alpha_closed_form_off_by_1e-4": (
        "src/stelab/estimators/zoo.py",
        "return t * t / (math.tanh(t / 2) * (t + math.sinh(t)))",
        "return 1.0001 * t * t / (math.tanh(t / 2) * (t + math.sinh(t)))",
        ["tests/test_numbers.py", "tests/test_equivalence.py"]),
    "sweep_ignores_eta": (
        "src/stelab/theory/sweeps.py",
        "**fixed_point(m, eta=float(eta), **fp_grid)})",
        "**fixed_point(m, **fp_grid)})",
        ["tests/theory/test_sweeps.py"]),
    "sweep_ignores_input_bits": (
        "src/stelab/theory/sweeps.py",
        'spec = deep_merge(spec, {"input_map": {"bits": int(b), "omega": float(om)}})',
        "spec = spec",
        ["tests/theory/test_sweeps.py"]),
    "stationary_eps_star_off_by_1pc": (
        "src/stelab/theory/case_runs.py",
        'eps = st.solve()["eps_star"]',
        'eps = 1.01 * st.solve()["eps_star"]',
        ["tests/theory/test_sweeps.py", "tests/theory/test_case_runs.py"]),
    "bf16_autocast_off": (
        "src/stelab/qat/device.py",
        'if run.amp == "bf16":',
        "if False:",
        ["tests/qat/test_bf16.py"]),
    "paper_table4_typo": (
        "src/stelab/qat/paper_values.py",
        '("adam", "lrtweak"): {"E_bar": 1.74, "agreement": 95.4}',
        '("adam", "lrtweak"): {"E_bar": 1.47, "agreement": 95.4}',
        ["tests/test_paper_values.py"]),
    "paper_table5_typo": (
        "src/stelab/qat/paper_values.py",
        '"val_acc": 97.14, "val_loss": 0.1468',
        '"val_acc": 97.41, "val_loss": 0.1468',
        ["tests/test_paper_values.py"]),
    "paper_app_h_typo": (
        "src/stelab/constants/paper_values.py",
        "(3, 4): 2.82",
        "(3, 4): 2.28",
        ["tests/test_paper_values.py", "tests/test_numbers.py"]),
}


def scratch_copy(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(MUTATIONS))
    if unknown:
        print(f"unknown mutation(s) {unknown}; known: {sorted(MUTATIONS)}", file=sys.stderr)
        return 2
    survived = []
    with tempfile.TemporaryDirectory(prefix="stelab-named-") as tmp:
        work = Path(tmp)
        scratch_copy(work)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(work / "src"), str(work / "tests")]),
               "MPLBACKEND": "Agg"}
        for name in names or list(MUTATIONS):
            rel, old, new, tests = MUTATIONS[name]
            path = work / rel
            original = path.read_text()
            if original.count(old) != 1:
                print(f"{name}: the snippet occurs {original.count(old)} times in {rel}; update this script",
                      file=sys.stderr)
                return 2
            path.write_text(original.replace(old, new))
            start = time.time()
            try:
                proc = subprocess.run([sys.executable, "-m", "pytest", *FAST, *tests], cwd=work, env=env,
                                      capture_output=True, text=True)
            finally:
                path.write_text(original)
            verdict = "killed" if proc.returncode == 1 else "SURVIVED" if proc.returncode == 0 else \
                f"error (pytest exit {proc.returncode})"
            print(f"{name:32s} {verdict:10s} {time.time() - start:6.1f} s  {rel}", flush=True)
            if verdict != "killed":
                survived.append(name)
                print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
