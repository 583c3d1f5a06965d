#!/usr/bin/env bash
# Run search points one after another (docs/reproduction/mnist/README.md):
#   docs/reproduction/mnist/run_search.sh keras-5k keras-2k ...
# Each point trains the Q̂-net and STE-net of both optimizers (seed 0, 2 bits) with
# config/config.yaml + config/paper.yaml + points/_common.yaml + points/<point>.yaml, one job
# at a time on one core, from a frozen copy of a commit (runs/search/code-<commit>), in
# runs/search/<point>/, and writes runs/search/<point>/provenance.json. A point runs from the
# commit in runs/search/<point>/commit, written at its first start (HEAD then): a resumed point
# keeps its code, since the points rerun on file times only (--rerun-triggers mtime), and the
# comparison refuses pairs of runs from two sources.
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
export PATH="$repo/.venv/bin:$PATH" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# the points share runs/search/mnist (points/_common.yaml); the record's verified copy saves a download
if [ -d "$repo/runs/record/mnist" ] && [ ! -f "$repo/runs/search/mnist/SHA256SUMS" ]; then
  python -m stelab download-mnist --out "$repo/runs/search/mnist" --mirror "$repo/runs/record/mnist"
fi
failed=()
for point in "$@"; do
  dir="$repo/runs/search/$point"
  mkdir -p "$dir"
  [ -f "$dir/commit" ] || git -C "$repo" rev-parse HEAD > "$dir/commit"
  commit=$(cat "$dir/commit")
  code="$repo/runs/search/code-${commit:0:12}"
  if [ ! -d "$code" ]; then
    mkdir -p "$code.tmp"
    git -C "$repo" archive "$commit" | tar -x -C "$code.tmp"
    mv "$code.tmp" "$code"
  fi
  export PYTHONPATH="$code/src"
  configs=("$code/config/config.yaml" "$code/config/paper.yaml"
           "$code/docs/reproduction/mnist/points/_common.yaml" "$code/docs/reproduction/mnist/points/$point.yaml")
  start=$(date -u +%FT%TZ); t0=$(date +%s)
  snakemake -s "$code/Snakefile" --directory "$dir" --configfile "${configs[@]}" --cores 1 \
    --rerun-triggers mtime --nolock results/tables/qat_table4.csv > "$dir/snakemake.log" 2>&1 || {
    echo "$point failed; see $dir/snakemake.log (no provenance.json written)" >&2
    failed+=("$point"); continue
  }
  # provenance by this checkout's stelab (stelab.qat.point_provenance): the fields of a record slice's
  args=(); for c in "${configs[@]}"; do args+=(--config "$c"); done
  PYTHONPATH="$repo/src" python -m stelab.qat.point_provenance "$dir" --commit "$commit" --started "$start" \
    --wall "$(( $(date +%s) - t0 ))" "${args[@]}" || failed+=("$point")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed points: ${failed[*]}" >&2
  exit 1
fi
