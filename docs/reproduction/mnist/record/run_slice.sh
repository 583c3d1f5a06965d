#!/usr/bin/env bash
# Run record slices of the paper-scale record (docs/reproduction/mnist/record/README.md):
#
#   docs/reproduction/mnist/record/run_slice.sh [--commit] b2-seed0 b2-seed1 ...
#   docs/reproduction/mnist/record/run_slice.sh --verify b2-seed0
#
# A slice b<bits>-seed<k> trains every branch of both optimizers (S: qhat, ste, lrtweak,
# unadjusted; A: qhat, ste, lrtweak) with config/config.yaml + config/paper.yaml +
# record/_slice.yaml + record/slices/<slice>.yaml, one thread per job, two jobs at a time
# (CORES, default 2), from a frozen copy of the current commit (runs/record/code-<commit>),
# in runs/record/<slice>/. Safe under nohup; after a kill the same command resumes, from the
# commit the slice started from (runs/record/<slice>/commit), even if HEAD moved since: finished
# jobs are kept, a killed job continues from its last resume checkpoint. A finished slice is
# packed into docs/reproduction/mnist/record/<slice>/ (stelab record-slice) and, with --commit,
# committed at once (that folder only).
#
# --verify <slice> ...: regenerate each committed slice from its provenance.json (the commit it
# names; its configs, checked by sha256 first, stelab record-preflight) in
# runs/record/verify-<slice>/ and compare its rows and checkpoint sha256 with the committed ones;
# exit 1 on any difference. Bit-identity needs the same torch build and CPU kernels as
# provenance.json's torch and cpu (e.g. "AMD EPYC (AVX512)"; a difference is reported before the
# run); a slice costs about 45 core-minutes of jobs on idle cores (b2-seed2: 46, in 26 min wall),
# 1–2.5× that on a shared machine (record/tables/slices.csv).
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
record=docs/reproduction/mnist/record
cores=${CORES:-2}
commit_each=0 verify=0
while [ $# -gt 0 ]; do
  case "$1" in
    --commit) commit_each=1; shift ;;
    --verify) verify=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--commit|--verify] b<bits>-seed<k> ..." >&2; exit 2; }

frozen_copy() {  # frozen_copy <commit>: runs/record/code-<commit> from git archive
  local code="$repo/runs/record/code-${1:0:12}"
  if [ ! -d "$code" ]; then
    mkdir -p "$code.tmp"
    git -C "$repo" archive "$1" | tar -x -C "$code.tmp"
    mv "$code.tmp" "$code"
  fi
  echo "$code"
}

slice_configs() {  # slice_configs <slice>: the config files of a slice, in Snakemake's order
  echo config/config.yaml config/paper.yaml "$record/_slice.yaml" "$record/slices/$1.yaml"
}

run_one() {  # run_one <slice> <commit> <run dir> <out dir>
  local slice=$1 commit=$2 dir=$3 out=$4
  local code; code=$(frozen_copy "$commit")
  [ -f "$code/$record/slices/$slice.yaml" ] || { echo "$slice: no $record/slices/$slice.yaml at ${commit:0:12}" >&2; return 2; }
  local configs; read -r -a configs <<< "$(slice_configs "$slice")"
  mkdir -p "$dir/results/data/mnist"
  # a verified local copy saves a download per slice; a resumed slice keeps its data untouched
  if [ -d "$repo/runs/record/mnist" ] && [ ! -f "$dir/results/data/mnist/SHA256SUMS" ]; then
    PYTHONPATH="$code/src" python -m stelab download-mnist --out "$dir/results/data/mnist" \
      --mirror "$repo/runs/record/mnist" >> "$dir/data.log" 2>&1
  fi
  local cmd=(snakemake -s Snakefile --directory "$dir" --cores "$cores" --rerun-incomplete --nolock
             results/qat/runs.tsv results/qat/pairs.tsv results/qat/tracking.tsv --configfile "${configs[@]}")
  local start t0; start=$(date -u +%FT%TZ); t0=$(date +%s)
  echo "$slice: started $start from ${commit:0:12} in $dir" >&2
  (cd "$code" && PYTHONPATH="$code/src" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "${cmd[@]}") >> "$dir/snakemake.log" 2>&1 \
    || { echo "$slice: snakemake failed; see $dir/snakemake.log" >&2; return 1; }
  local args=(); for c in "${configs[@]}"; do args+=(--config "$c"); done
  # packed by this checkout's stelab (it copies the rows and hashes the checkpoints the commit's code
  # wrote; newer packers also record a resumed slice's earlier Snakemake runs)
  PYTHONPATH="$repo/src" python -m stelab record-slice --run-dir "$dir" --out "$out" --code "$code" \
    --commit "$commit" "${args[@]}" --threads 1 --command "(cd <frozen copy of commit> && ${cmd[*]})" \
    --started "$start" --wall "$(( $(date +%s) - t0 ))"
}

export PATH="$repo/.venv/bin:$PATH"
if [ "$verify" = 1 ]; then
  for slice in "$@"; do  # refuse before any work when a slice is not committed
    [ -f "$repo/$record/$slice/provenance.json" ] || { echo "$slice: no $repo/$record/$slice/provenance.json" >&2; exit 2; }
  done
  status=0
  for slice in "$@"; do
    prov="$repo/$record/$slice/provenance.json"
    commit=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["commit"])' "$prov")
    # the configs it would run must be the ones provenance.json names (else it is no regeneration);
    # another torch build or CPU kernels are reported up front: the bytes will differ
    read -r -a configs <<< "$(slice_configs "$slice")"
    args=(); for c in "${configs[@]}"; do args+=(--config "$c"); done
    PYTHONPATH="$repo/src" python -m stelab record-preflight --provenance "$prov" --code "$(frozen_copy "$commit")" \
      --threads 1 "${args[@]}" || { status=1; continue; }
    out="$repo/runs/record/verify-$slice.packed"
    run_one "$slice" "$commit" "$repo/runs/record/verify-$slice" "$out" || { status=1; continue; }
    for f in runs.tsv pairs.tsv tracking.tsv scatter.tsv checkpoints.sha256; do
      if cmp -s "$out/$f" "$repo/$record/$slice/$f"; then echo "$slice/$f: identical"
      else echo "$slice/$f: DIFFERS" >&2; status=1; fi
    done
  done
  exit $status
fi

head=$(git -C "$repo" rev-parse HEAD)
for slice in "$@"; do
  # a slice started before (killed, or the machine went away) resumes from the commit it started
  # from, so its finished jobs are kept; a new slice runs from HEAD
  dir="$repo/runs/record/$slice"
  if [ -s "$dir/commit" ]; then commit=$(cat "$dir/commit"); else commit=$head; fi
  mkdir -p "$dir" && echo "$commit" > "$dir/commit"
  run_one "$slice" "$commit" "$dir" "$repo/$record/$slice" || continue
  if [ "$commit_each" = 1 ]; then
    for try in 1 2 3 4 5 6; do  # the index may be locked by a commit in progress
      if git -C "$repo" add "$record/$slice" && \
         git -C "$repo" commit -q -m "record: slice $slice (from ${commit:0:12})" -- "$record/$slice"; then break; fi
      sleep 20
    done
  fi
done
