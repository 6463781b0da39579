#!/bin/bash
# Slurm job array: 50 shards of 200 toys = 10000 null toys, then one merge.
#   sbatch --array=0-49 slurm_calibrate.sh
#   nplm merge --out null.json shards/shard_*.json      # after the array has finished
# Toy k's events and t depend only on (seed, k): the merged file equals one single run.
#SBATCH --job-name=nplm-calibrate
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
#SBATCH --output=shards/%x_%a.log
set -euo pipefail
mkdir -p shards
nplm calibrate --reference ref.npy --pool pool.npy --n-expected 2000 \
  --model mlp:1,4,1 --clip 9 --optimizer lbfgsb --seed 42 \
  --toys 200 --shard-from-env SLURM_ARRAY_TASK_ID --threads "${SLURM_CPUS_PER_TASK:-1}" \
  --json "shards/shard_$(printf %04d "$SLURM_ARRAY_TASK_ID").json"
