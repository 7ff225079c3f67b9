#!/usr/bin/env bash
# The realtime server's GPU figures (issue 21) in one go, for a device lent by the minute:
# 4-bit (a checkpoint of random weights written to $DIR once), then bfloat16 built in memory,
# 64 and 48 streams starting together and 64 arriving over 2 s, then start_lab at 4-bit.
#
#   bash benchmarks/serve_gpu.sh OUT_FOLDER [DIR]
#
# SIZE=tiny runs the same commands with the tests' tiny model (a check of the script here);
# ONLY=REGEX runs the commands whose names it matches from their start (ONLY='q4-64',
# ONLY='q4-1|bf16': a device call is limited to 10 minutes, these are two).
# Each command's table goes to its own file in OUT_FOLDER (and to stdout), so a run cut short
# by a time limit still leaves what it measured. The commands are the ones docs/benchmarks.md
# quotes; a fresh machine compiles MLX CUDA's kernels at the first server's start (2-3.5 min
# at 4-bit with the checkpoint written, 1 min in bfloat16), later starts take seconds.
set -u
out=${1:?an output folder}
dir=${2:-/tmp/m4}
size=${SIZE:-full}
mkdir -p "$out"
cd "$(dirname "$0")" || exit 1
export PYTHONUNBUFFERED=1

run() {  # run NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    [[ $name =~ ^(${ONLY:-.}) ]] || return 0
    echo "== $name: $*"
    timeout "$limit" "$@" 2>&1 | grep -v "^mlx " | tee "$out/$name.txt"
}

q4=(--size "$size" --bits 4 --dir "$dir" --batch-rows 64 --cold --seconds 10)
bf=(--size "$size" --memory --batch-rows 64 --cold --seconds 10)
run q4-64-48 290 python3 bench_serve.py "${q4[@]}" --streams 64,48
# Arriving over 2 s, their ends spread over turns: an end's tokens a run, 1 (the default)
# against 3, alternating on one server (single runs vary by ~15 ms at the p95); then one
# stream alone, for the time to its last words.
run q4-64-stagger 200 python3 bench_serve.py "${q4[@]}" --streams 64,64,64,64 --stagger 2 \
    --end-tokens 1,3
run q4-1-ends 60 python3 bench_serve.py "${q4[@]}" --streams 1,1,1,1 --end-tokens 1,3
run bf16-64-48 130 python3 bench_serve.py "${bf[@]}" --streams 64,48
run bf16-64-stagger 110 python3 bench_serve.py "${bf[@]}" --streams 64,64 --stagger 2 \
    --end-tokens 1,3
run q4-start 50 python3 lab/start_lab.py --size "$size" --streams 64 --bits 4 --dir "$dir"
