#!/usr/bin/env bash
# Mutation testing of the modules that produce numbers (issue 17). Not part of CI: it is long.
#
#   tests/mutation/run.sh                 # every module of tests/mutation/modules.tsv
#   tests/mutation/run.sh quantizers qat_fork
#   MUTATION_DIR=/scratch/mut MUTATION_CHILDREN=2 tests/mutation/run.sh equivalence
#
# For each module it copies the checkout (tracked + untracked-not-ignored files, as a fresh clone
# plus work in progress) to $MUTATION_DIR/<module> (default: /tmp/stelab-mutation), writes a
# setup.cfg [mutmut] section there that mutates only that module's files and runs only its fast test
# files (tests/mutation/modules.tsv; slow/slurm/browser tiers excluded), runs `mutmut run`, and prints
# killed / survived / no-tests / timeout counts and the score (killed + timeout) / all. Survivors are
# listed in $MUTATION_DIR/<module>/survivors.txt (see them with `cd $MUTATION_DIR/<module> && mutmut
# show <name>`); a summary line per module is appended to $MUTATION_DIR/scores.tsv.
# The checkout itself is never written to. Needs the dev extra (mutmut) in .venv.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${MUTATION_DIR:-/tmp/stelab-mutation}"
CHILDREN="${MUTATION_CHILDREN:-1}"
PY="${PYTHON:-$REPO/.venv/bin/python}"
MUTMUT="$(dirname "$PY")/mutmut"
TABLE="$REPO/tests/mutation/modules.tsv"
mkdir -p "$OUT"

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  mapfile -t modules < <(grep -v '^#' "$TABLE" | cut -f1)
fi

for name in "${modules[@]}"; do
  line="$(grep -P "^${name}\t" "$TABLE" || true)"
  if [ -z "$line" ]; then
    echo "unknown module '$name'; known: $(grep -v '^#' "$TABLE" | cut -f1 | tr '\n' ' ')" >&2
    exit 2
  fi
  files="$(cut -f2 <<<"$line")"
  tests="$(cut -f3 <<<"$line")"
  work="$OUT/$name"
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$REPO" && git ls-files -co --exclude-standard -z) | (cd "$REPO" && xargs -0 cp --parents -t "$work" 2>/dev/null || true)
  # A [tool.mutmut] table in pyproject.toml would take precedence over setup.cfg: keep it out of the copy.
  # mutmut re-selects each test by its node id: ids with a backslash or non-ASCII text (regex parameters,
  # Q̂) must reach pytest unescaped, or the selection fails and mutmut reports a bogus "timeout".
  "$PY" - "$work/pyproject.toml" <<'EOF'
import re, sys
p = sys.argv[1]
text = open(p).read()
text = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", text)
text = text.replace("[tool.pytest.ini_options]\n", "[tool.pytest.ini_options]\n"
                    "disable_test_id_escaping_and_forfeit_all_rights_to_community_support = true\n", 1)
open(p, "w").write(text)
EOF
  {
    echo "[mutmut]"
    echo "source_paths = src"
    echo "only_mutate ="
    tr ',' '\n' <<<"$files" | sed 's/^/    /'
    echo "pytest_add_cli_args_test_selection ="
    tr ',' '\n' <<<"$tests" | while read -r t; do if [ -e "$work/$t" ]; then echo "    $t"; fi; done
    echo "pytest_add_cli_args ="
    echo "    -m"
    echo "    not slow and not slurm and not browser"
    echo "    -p"
    echo "    no:cacheprovider"
    echo "    -p"
    echo "    no:randomly"
    echo "also_copy ="
    echo "    config"
    echo "    workflow"
    echo "    Snakefile"
    echo "process_isolation = forkserver"
    echo "use_git_change_detection = false"
  } >"$work/setup.cfg"
  echo "== $name: mutating $files; judged by $tests"
  start=$(date +%s)
  (cd "$work" && OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg PYTHONPATH="$work/tests" \
     "$MUTMUT" run --max-children "$CHILDREN" >"$work/mutmut.log" 2>&1) || {
    echo "mutmut run failed for $name; see $work/mutmut.log" >&2
    tail -30 "$work/mutmut.log" >&2
    continue
  }
  (cd "$work" && "$MUTMUT" results --all true >"$work/results.txt" 2>&1) || true
  grep -v ': killed$' "$work/results.txt" | grep -E ': ' >"$work/survivors.txt" || true
  secs=$(( $(date +%s) - start ))
  "$PY" - "$name" "$work/results.txt" "$secs" "$OUT/scores.tsv" <<'EOF'
import collections, re, sys
name, path, secs, scores = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
count = collections.Counter()
for line in open(path):
    m = re.match(r"\s+\S+: (.+)$", line)
    if m:
        count[m.group(1).strip()] += 1
total = sum(count.values())
killed = count["killed"] + count["timeout"]
score = 100.0 * killed / total if total else float("nan")
detail = ", ".join(f"{k} {v}" for k, v in sorted(count.items()))
print(f"{name}: {killed}/{total} killed ({score:.1f} %) [{detail}] in {secs} s")
with open(scores, "a") as fh:
    fh.write(f"{name}\t{total}\t{killed}\t{score:.1f}\t{detail}\t{secs}\n")
EOF
done
