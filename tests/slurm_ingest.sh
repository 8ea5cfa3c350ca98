#!/bin/bash
# jf ingest as a Slurm job array on a real single-node cluster (tests/slurm/cluster.sh): four
# tasks with --part slurm, each into its own dataset, merged with `jf shard merge`; the merged
# dataset equals a single-process ingest (every key, index column and record byte). One task is
# cancelled while it runs and resubmitted alone; the rerun completes the job.
# Skipped (77) where Slurm cannot run (not root, not installed).
source "$(dirname "$0")/cli_lib.sh"
source "$src/tests/slurm/cluster.sh"
cd "$work"
trap 'cluster_stop; rm -rf "$work"' EXIT
cluster_start; rc=$?
[ $rc = 0 ] || exit $rc

demo_copy d || { bad "sample set"; exit 1; }
in="d/input/laion/00000.tar d/input/sa1b/sa_000000.tar d/input/sharegpt4v/sharegpt4v_demo.json d/input/text/corpus.jsonl"
root=d/input/sharegpt4v/data
expect 1 "single-process ingest (the planted damage: exit 1)" "$jf" ingest single $in --image-root $root --quiet

# the array: task 2 sleeps the first time (a task still running when it is cancelled; it leaves a
# marker once its script runs); the resubmission (RERUN) does not
cat > task.sh <<SH
#!/bin/bash
if [ "\$SLURM_ARRAY_TASK_ID" = 2 ] && [ -z "\${RERUN:-}" ]; then touch "$work/marker"; sleep 120; fi
"$jf" ingest "$work/part_\$SLURM_ARRAY_TASK_ID" $in --image-root $root --part \${PART:-slurm} --quiet
# ingest's exit 1 means "samples went" (the planted damage): the task itself succeeded
[ \$? -le 1 ]
SH
chmod +x task.sh
job=$(sbatch --parsable --array=0-3 -o "$work/log_%a.txt" -D "$work" task.sh) || { bad "sbatch"; exit 1; }
ok "array job $job submitted"
# cancelled once it is really running (its script started), and the others are done
for _ in $(seq 1 600); do
  left=$(squeue -h -j "$job" -o %i 2>/dev/null | wc -l)
  [ "$left" = 1 ] && [ -e marker ] && break
  sleep 0.2
done
scancel "${job}_2" && ok "task 2 cancelled while it ran" || bad "scancel"
for _ in $(seq 1 300); do [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break; sleep 0.2; done
[ -e part_0/index.sqlite ] && [ -e part_1/index.sqlite ] && [ -e part_3/index.sqlite ] && ok "tasks 0, 1, 3 done" || bad "tasks done"
[ -e part_2/index.sqlite ] && bad "task 2 should not have written" || ok "task 2 left nothing"
grep -q "ingested" log_0.txt 2>/dev/null || [ ! -s log_0.txt ] && ok "task logs per task" || bad "logs"

# only the failed task again, as the same part of four
RERUN=1 PART=2/4 sbatch --wait --export=ALL --array=2 -o "$work/log_rerun_%a.txt" -D "$work" task.sh >/dev/null && ok "task 2 resubmitted alone" \
  || { bad "rerun"; cat log_rerun_2.txt; }
expect 0 "merge the four parts" "$jf" shard merge merged part_0 part_1 part_2 part_3 --json

dump() { # every sample's index columns and the sha1 of its record bytes, by key
  /usr/bin/python3 - "$1" <<'PY'
import hashlib, os, sqlite3, sys
ds = sys.argv[1]
db = sqlite3.connect(os.path.join(ds, "index.sqlite"))
paths = dict(db.execute("SELECT id, path FROM shards"))
cols = "key, kind, length, width, height, image_format, image_bytes, caption_len, content_hash, phash, orig_id, n_turns"
for row in db.execute(f"SELECT {cols}, shard_id, offset FROM samples ORDER BY key"):
    *vals, shard, off = row
    p = paths[shard] if os.path.isabs(paths[shard]) else os.path.join(ds, paths[shard])
    with open(p, "rb") as f:
        f.seek(off)
        h = hashlib.sha1(f.read(row[2])).hexdigest()
    print("|".join(map(str, vals)), h)
PY
}
dump single > a.txt; dump merged > b.txt
n=$(wc -l < a.txt)
[ "$n" -gt 20 ] && cmp -s a.txt b.txt && ok "merged = single-process: $n samples, index columns and record bytes" \
  || { bad "merged differs from single"; diff a.txt b.txt | head -5; }
# the documented template: the array, then the merge after it (--dependency=afterok)
JF="$jf" "$src/scripts/slurm/ingest.sh" "$work/tpl" 3 $in -- --image-root $root > tpl.txt && ok "scripts/slurm/ingest.sh submitted" \
  || { bad "template"; cat tpl.txt; }
merge=$(grep -o "merge job [0-9]*" tpl.txt | grep -o "[0-9]*$")
for _ in $(seq 1 600); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
dump tpl > c.txt
cmp -s a.txt c.txt && ok "its merged dataset = single-process" || { bad "template result"; cat "$work/tpl.parts/logs/"*.txt | tail -5; }

# the whole pipeline as dependent jobs (scripts/slurm/pipeline.sh): ingest array → merge → filter →
# CLIP score column → FID statistics array → exact merge; each result equals the single-process one
rules="--where \"kind = 'generation'\" --where \"punsafe < 0.5\""
JF="$jf" "$src/scripts/slurm/pipeline.sh" "$work/pipe" 4 --filter "$rules" --clip d/clip-formula \
  --weights d/inception-formula.safetensors --subset gen --column clip_f --stats "$work/pipe_stats.npz" --stats-args "--batch 1" \
  -- $in -- --image-root $root > pipe.txt && ok "scripts/slurm/pipeline.sh submitted: $(head -1 pipe.txt)" || { bad "pipeline"; cat pipe.txt; }
for _ in $(seq 1 900); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
eval "$jf filter single $rules --into gen --quiet"
"$jf" eval clipscore single#gen --model d/clip-formula --column clip_f --quiet > /dev/null 2>&1
# one image per network call on both sides: BLAS rounding may change with a batch's row count
"$jf" eval stats single#gen single_stats.npz --weights d/inception-formula.safetensors --batch 1 --quiet
/usr/bin/python3 - "$work" <<'PY' && ok "pipeline = single process: subset, CLIP column and FID statistics" || { bad "pipeline result"; tail -n 3 "$work"/pipe.pipeline/logs/*.txt; }
import sqlite3, sys
import numpy as np
w = sys.argv[1]
def col(ds):
    db = sqlite3.connect(f"{w}/{ds}/index.sqlite")
    return dict(db.execute("SELECT s.key, s.clip_f FROM samples s JOIN subset_members m ON m.sample_id = s.id "
                           "JOIN subsets b ON b.id = m.subset_id WHERE b.name = 'gen'"))
a, b = col("single"), col("pipe")
assert len(a) > 10 and a.keys() == b.keys(), (len(a), len(b))
assert all(a[k] is not None and abs(a[k] - b[k]) <= 1e-9 * max(1, abs(a[k])) for k in a), "clip column differs"
x, y = np.load(f"{w}/single_stats.npz"), np.load(f"{w}/pipe_stats.npz")
for k in ("mu", "sigma"):
    d = np.abs(x[k] - y[k]).max() / max(1e-30, np.abs(x[k]).max())
    assert d < 1e-10, (k, d)
PY
exit $((fails > 0))
