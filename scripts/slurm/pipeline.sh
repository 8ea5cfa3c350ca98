#!/bin/bash
# The data pipeline on Slurm, as dependent jobs: ingest (an array of N, --part slurm) → merge →
# filter into a subset → CLIP scores of it (an array of N, column parts) → the column merged into
# the index; FID statistics of the subset (an array of N) → their exact merge. Each job starts only
# after the one before succeeded (--dependency=afterok).
#
#   scripts/slurm/pipeline.sh DEST N --filter "RULES" --clip CLIP_DIR --weights INCEPTION \
#       [--subset NAME] [--column NAME] [--stats OUT.npz] [--stats-args "ARGS"] \
#       -- INPUT... [-- INGEST_OPTIONS...]
#   e.g. scripts/slurm/pipeline.sh /data/ds 64 --filter "--preset laion-safe --min-side 256" \
#       --clip /models/clip-vit-large-patch14 --weights /models/pt_inception-2015-12-05.pth \
#       -- /data/laion/{00000..00999}.tar
#
# Everything goes under DEST.pipeline/: the ingest parts, the statistics parts, one log per task
# (logs/), and one script per step (resubmit a failed array task alone with
#   PART=K/N sbatch --export=ALL --array=K DEST.pipeline/STEP.sh
# — each task skips what it finished — then the steps after it). The CLIP score tasks write column
# part files (the index has one writer: the merge-columns step, which checks every part is there).
# SBATCH_ARGS adds options to every sbatch (partition, time, cpus).
set -euo pipefail
usage() { sed -n '2,20p' "$0"; exit 2; }
[ $# -ge 2 ] || usage
dest=$1 n=$2
shift 2
filter="" clip="" weights="" subset=filtered column=clip_score stats="$dest.fid_stats.npz" stats_args=""
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  case "$1" in
    --filter) filter=$2; shift 2 ;;
    --clip) clip=$2; shift 2 ;;
    --weights) weights=$2; shift 2 ;;
    --subset) subset=$2; shift 2 ;;
    --column) column=$2; shift 2 ;;
    --stats) stats=$2; shift 2 ;;
    --stats-args) stats_args=$2; shift 2 ;;
    *) usage ;;
  esac
done
[ "${1:-}" = -- ] || usage
shift
inputs=() opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do inputs+=("$1"); shift; done
[ "${1:-}" = -- ] && shift && opts=("$@")
[ -n "$filter" ] && [ -n "$clip" ] && [ -n "$weights" ] && [ ${#inputs[@]} -gt 0 ] || usage
jf=${JF:-$(command -v jf || echo "$(cd "$(dirname "$0")/../.." && pwd)/build/cli/jf")}
p="$dest.pipeline"
mkdir -p "$p/logs"
q() { printf '%q ' "$@"; }
step() { # step NAME BODY: a task script
  { echo "#!/bin/bash"; echo "set -o pipefail"; echo "$2"; } > "$p/$1.sh"
  chmod +x "$p/$1.sh"
}
# ingest exits 1 when some samples went (each recorded with its reason): the task succeeded
step ingest "$(q "$jf") ingest \"$p/part_\$SLURM_ARRAY_TASK_ID\" $(q "${inputs[@]}") --part \${PART:-slurm} --quiet $(q "${opts[@]}")
[ \$? -le 1 ]"
step merge "$(q "$jf") shard merge $(q "$dest") \"$p\"/part_* --json"
step filter "$(q "$jf") filter $(q "$dest") $filter --into $(q "$subset") --replace --json"
step clipscore "$(q "$jf") eval clipscore $(q "$dest#$subset") --model $(q "$clip") --column $(q "$column") --part \${PART:-slurm} --column-part \"$p/clip_\$SLURM_ARRAY_TASK_ID.jsonl\" --json --json-out \"$p/clipscore_\$SLURM_ARRAY_TASK_ID.json\" > /dev/null
[ \$? -le 1 ]"
step clip_merge "$(q "$jf") shard merge-columns $(q "$dest") \"$p\"/clip_*.jsonl --json"
step stats "$(q "$jf") eval stats $(q "$dest#$subset") \"$p/stats_\$SLURM_ARRAY_TASK_ID.npz\" --weights $(q "$weights") --part \${PART:-slurm} $stats_args --json"
step stats_merge "$(q "$jf") eval stats --merge $(q "$stats") \"$p\"/stats_*.npz --json"
sb() { sbatch --parsable ${SBATCH_ARGS:-} "$@"; }
j1=$(sb --array=0-$((n - 1)) -o "$p/logs/ingest_%a.txt" "$p/ingest.sh")
j2=$(sb --dependency=afterok:"$j1" -o "$p/logs/merge.txt" "$p/merge.sh")
j3=$(sb --dependency=afterok:"$j2" -o "$p/logs/filter.txt" "$p/filter.sh")
j4=$(sb --dependency=afterok:"$j3" --array=0-$((n - 1)) -o "$p/logs/clipscore_%a.txt" "$p/clipscore.sh")
j4m=$(sb --dependency=afterok:"$j4" -o "$p/logs/clip_merge.txt" "$p/clip_merge.sh")
j5=$(sb --dependency=afterok:"$j3" --array=0-$((n - 1)) -o "$p/logs/stats_%a.txt" "$p/stats.sh")
j6=$(sb --dependency=afterok:"$j5" -o "$p/logs/stats_merge.txt" "$p/stats_merge.sh")
echo "ingest $j1 ($n tasks) -> merge $j2 -> filter $j3 -> clipscore $j4 ($n tasks) -> column merge $j4m, stats $j5 ($n tasks) -> stats merge $j6"
echo "logs in $p/logs; the dataset $dest, subset $subset, column $column, FID statistics $stats"
