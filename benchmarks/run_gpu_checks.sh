#!/usr/bin/env bash
# The GPU checks in one go, for a machine with a CUDA device:
#   bash benchmarks/run_gpu_checks.sh OUTDIR
# 1. benchmarks/bench_gpu.py on CUDA (solvers, dynamic programs, training,
#    backbones), with a profile of one vaot call;
# 2. the whole test suite, CUDA tests included (they must run, not skip),
#    then the CUDA tests alone, each named with its outcome;
# 3. a VideoAligner fitted on the GPU, pickled, with its GPU embeddings, for
#    a CPU-only machine to load and compare (benchmarks/gpu_model_check.py).
# Each step writes its log under OUTDIR; a failing step does not stop the next.
# SKALIGN_BENCH_TIMEOUT and SKALIGN_TEST_TIMEOUT bound steps 1 and 2 (seconds).
set -uo pipefail
out="${1:?usage: run_gpu_checks.sh OUTDIR}"
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())" 2>&1 | tee -a "$out/env.log" || exit 2
timeout "${SKALIGN_BENCH_TIMEOUT:-300}" python3 benchmarks/bench_gpu.py --device cuda --profile 4096 \
    --json "$out/bench_gpu.json" > "$out/bench_gpu.log" 2>&1
echo "bench_gpu exit: $?" >> "$out/bench_gpu.log"
# Test processes side by side, one CPU thread each: threads of several
# processes competing for the same cores stall one another.
workers=()
python3 -c "import xdist" 2>/dev/null && workers=(-n "${SKALIGN_TEST_WORKERS:-8}")
timeouts=()
python3 -c "import pytest_timeout" 2>/dev/null && timeouts=(--timeout 170)
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 timeout "${SKALIGN_TEST_TIMEOUT:-420}" \
    python3 -m pytest -q -rfEs --durations=15 "${workers[@]}" "${timeouts[@]}" -p no:cacheprovider \
    -p no:benchmark --junitxml="$out/junit.xml" > "$out/tests.log" 2>&1
echo "pytest exit: $?" >> "$out/tests.log"
python3 -m pytest -q -m cuda -rA -p no:cacheprovider -p no:benchmark >> "$out/tests.log" 2>&1
python3 benchmarks/gpu_model_check.py dump "$out" >> "$out/env.log" 2>&1
tail -n 3 "$out/bench_gpu.log" "$out/tests.log"
