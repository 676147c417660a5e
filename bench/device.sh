#!/usr/bin/env bash
# The project's speed on a real GPU, in one go: on a bare x86-64 machine with an NVIDIA GPU and
# no network, run from the project root with .gl/ and .deno/ carried beside the working tree
# (made here by /work/shared/gpu/prepare.sh: the Vulkan/EGL loader packages, Deno xz-packed
# and an npm cache). Steps, each under its own time limit, all under about 8 minutes:
#   1. unpack the loaders and Deno (as .deno/run-on-gpu.sh does), point Vulkan at NVIDIA's ICD
#   2. check that Deno's WebGPU sees the GPU through Vulkan (not a CPU adapter): else stop
#   3. deno task tune: kernel choices for mlp and conv at batch 128 and 512
#   4. bench/train_bench.ts with those choices: mlp and conv at batch 128 and 512
#   5. bench/square_bench.ts: dense forward at 1024^3, 2048^3, 4096^3 (every kernel family)
#   6. bench/torch_vae.py: PyTorch CUDA eager, the same two models and batches
#   7. summary.md: images/s of each beside PyTorch (ratios), the dense GFLOP/s and peak share
# Results (at most 8 files, as the device tool brings back) go to $OUT (default
# /tmp/device-out): adapter.txt, tune.json, train.md, train.json, square.md, torch.json,
# summary.md, log.txt.
#
#   OUT=/some/dir bash bench/device.sh            # the real run
#   OUT=/tmp/x bash bench/device.sh --quick       # a short run (llvmpipe here; no PyTorch
#                                                 # without CUDA): small batches and sizes
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device-out}
mkdir -p "$OUT"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
LOG="$OUT/log.txt"
: > "$LOG"
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0)) s] $*" | tee -a "$LOG"; }
# run LIMIT_S NAME CMD...: one step under `timeout`, its output into the log.
run() {
  local limit=$1 name=$2; shift 2
  say "$name (limit ${limit} s): $*"
  timeout -k 5 "$limit" "$@" >> "$LOG" 2>&1
  local rc=$?
  say "$name: exit $rc"
  return $rc
}

# ---- 1. unpack ----
if [ -d .gl ] && ls .gl/*.deb > /dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" / >> "$LOG" 2>&1; done
  ldconfig >> "$LOG" 2>&1
  say "unpacked $(ls .gl/*.deb | wc -l) loader packages"
fi
if [ -f .deno/deno.xz ]; then
  xz -dc .deno/deno.xz > /tmp/deno && chmod +x /tmp/deno
  DENO=/tmp/deno
  export DENO_DIR="$PWD/.deno/cache"
else
  DENO=$(command -v deno || true)
fi
if [ -z "${DENO:-}" ]; then
  say "error: no Deno (carry .deno/ made by /work/shared/gpu/prepare.sh, or put deno on PATH)"
  exit 1
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-vulkan}
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$ICD" ]; then
  export VK_DRIVER_FILES="$ICD" \
    __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
say "deno: $("$DENO" --version | head -1), backend $DENO_WEBGPU_BACKEND"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
  --format=csv,noheader >> "$LOG" 2>&1

# ---- 2. the adapter ----
run 120 adapter "$DENO" task adapter
grep -E "^(adapter|backend|timestamp|max)" "$LOG" > "$OUT/adapter.txt"
ADAPTER=$(sed -n 's/^adapter: //p' "$OUT/adapter.txt" | head -1)
say "adapter: ${ADAPTER:-none}"
if [ -z "$ADAPTER" ]; then
  say "error: Deno's WebGPU found no adapter (check 'ldconfig -p | grep libvulkan', VK_DRIVER_FILES)"
  exit 1
fi
GPU=0
if command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1; then
  GPU=1
  if echo "$ADAPTER" | grep -qiE "llvmpipe|swiftshader|lavapipe|software"; then
    say "error: an NVIDIA GPU is here but Deno's WebGPU sees '$ADAPTER', a CPU adapter: stop"
    exit 1
  fi
fi

if [ $QUICK = 1 ]; then
  BATCHES=32 SECONDS_=1 SQUARE="256 512" VARIANTS=vec4,shared
else
  BATCHES=128,512 SECONDS_=3 SQUARE="1024 2048 4096" VARIANTS=vec4,shared,tiled
fi

# ---- 3. tune ----
# The tuner's cache is written under runs/tune (the train task's folder), then copied out.
run 150 tune "$DENO" run --allow-read --allow-env --allow-write=runs src/cli/tune.ts \
  --model mlp,conv --batch "$BATCHES"
TUNE_FILE=$(ls -t runs/tune/*.json 2> /dev/null | head -1)
if [ -n "$TUNE_FILE" ]; then cp "$TUNE_FILE" "$OUT/tune.json"; else say "no tuner cache written"; fi

# ---- 4. train bench (tuned kernels) ----
BENCH_RESULTS="$OUT" BENCH_TUNE=1 BENCH_MODELS=mlp,conv BENCH_BATCHES="$BATCHES" \
  BENCH_PROFILING_OFF=0 run 150 train "$DENO" run --allow-read --allow-env \
  --allow-write="$OUT,runs" bench/train_bench.ts "$SECONDS_"
for f in "$OUT"/train_*.md; do [ -f "$f" ] && mv "$f" "$OUT/train.md"; done
for f in "$OUT"/train_*.json; do [ -f "$f" ] && mv "$f" "$OUT/train.json"; done

# ---- 5. dense products ----
PEAK=0
nvidia-smi -L 2> /dev/null | grep -q "H200\|H100" && PEAK=67 # f32 non-tensor, datasheet
# shellcheck disable=SC2086
BENCH_RESULTS="$OUT" SQUARE_VARIANTS="$VARIANTS" PEAK_TFLOPS=$PEAK SQUARE_BUDGET_S=60 \
  run 100 square "$DENO" run --allow-read --allow-env --allow-write="$OUT" \
  bench/square_bench.ts $SQUARE
for f in "$OUT"/square_*.md; do [ -f "$f" ] && mv "$f" "$OUT/square.md"; done
rm -f "$OUT"/square_*.json

# ---- 6. PyTorch ----
if [ $GPU = 1 ] && python3 -c "import torch; assert torch.cuda.is_available()" 2> /dev/null; then
  PYTHONUNBUFFERED=1 run 150 torch python3 bench/torch_vae.py --models mlp,conv \
    --batches "$BATCHES" --seconds "$SECONDS_" --out "$OUT/torch.json"
else
  say "torch: skipped (no NVIDIA GPU or no PyTorch with CUDA here)"
fi

# ---- 7. summary ----
"$DENO" run --allow-read --allow-write="$OUT" bench/device_summary.ts "$OUT" >> "$LOG" 2>&1 ||
  say "summary failed"
say "done in $(($(date +%s) - T0)) s; results in $OUT: $(ls "$OUT" | tr '\n' ' ')"
