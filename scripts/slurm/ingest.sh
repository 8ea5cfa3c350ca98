#!/bin/bash
# Ingest on Slurm: an array of N tasks, each ingesting its part (--part slurm) into its own
# dataset, then one task (after every array task succeeded) merging the parts into DEST.
#
#   scripts/slurm/ingest.sh DEST N INPUT... [-- INGEST_OPTIONS...]
#   e.g. scripts/slurm/ingest.sh /data/laion_ds 64 /data/laion/{00000..00999}.tar -- --resize shortest-side --size 256
#
# Each part goes to DEST.parts/part_K; logs to DEST.parts/logs/. A task that fails or is
# cancelled can be resubmitted alone (it skips what it finished):
#   PART=K/N sbatch --export=ALL --array=K DEST.parts/task.sh
# then the merge again: sbatch DEST.parts/merge.sh (merging twice is harmless).
# Extra sbatch options (partition, time, cpus) go in SBATCH_ARGS, e.g. SBATCH_ARGS="-p cpu -c 16".
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,13p' "$0"; exit 2; }
dest=$1 n=$2
shift 2
inputs=() opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do inputs+=("$1"); shift; done
[ "${1:-}" = -- ] && shift && opts=("$@")
jf=${JF:-$(command -v jf || echo "$(cd "$(dirname "$0")/../.." && pwd)/build/cli/jf")}
parts="$dest.parts"
mkdir -p "$parts/logs"
q() { printf '%q ' "$@"; }
cat > "$parts/task.sh" <<SH
#!/bin/bash
# ingest exits 1 when some samples went (each is recorded with its reason): the task still succeeded
$(q "$jf") ingest "$parts/part_\$SLURM_ARRAY_TASK_ID" $(q "${inputs[@]}") --part \${PART:-slurm} --quiet $(q "${opts[@]}")
[ \$? -le 1 ]
SH
cat > "$parts/merge.sh" <<SH
#!/bin/bash
$(q "$jf") shard merge $(q "$dest") "$parts"/part_* --json
SH
chmod +x "$parts/task.sh" "$parts/merge.sh"
array=$(sbatch --parsable ${SBATCH_ARGS:-} --array=0-$((n - 1)) -o "$parts/logs/task_%a.txt" "$parts/task.sh")
merge=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency=afterok:"$array" -o "$parts/logs/merge.txt" "$parts/merge.sh")
echo "array job $array ($n tasks), merge job $merge (after every task succeeded); logs in $parts/logs"
