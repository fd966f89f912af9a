#!/usr/bin/env bash
# FastConv on a GPU machine, the way the `device` tool carries it (it copies the working tree plus the paths named
# in `carry`, runs one command, and brings back at most 8 files written under $OUT).
#
#   bench/gpu/run-on-device.sh publish   here: self-contained, trimmed CLI in artifacts/publish (fails over 60 MiB)
#   bench/gpu/run-on-device.sh check     there: correctness only, in under 8 minutes (see check() below)
#   bench/gpu/run-on-device.sh bench     there: timings of the GPU backends (a separate call: checks come first)
#
# The device call:  run(command="bash bench/gpu/run-on-device.sh check", carry=["artifacts/publish"], timeout_s=540)
# Or through Cake:  ./build.sh --target=DevicePublish   (publish + size check; prints the call above)
#
# Nothing here needs the internet. The CLI finds the CUDA libraries itself (pip's nvidia wheels in any Python
# environment, /usr/local/cuda*: src/FastConv.Interop/NativeLibraries.cs); only if `fastconv info` says a GPU
# backend is unavailable does this script search the usual folders and point FASTCONV_CUDA_PATH at them, and it
# says so in the log, because then the resolver is what needs fixing.
#
# Environment: FASTCONV_EXE (the CLI to run; default artifacts/publish/fastconv), FASTCONV_DEVICE_BUDGET_S (check's
# whole budget, default 450), FASTCONV_BENCH_ARGS (extra arguments for bench), FASTCONV_CUDA_PATH.
set -uo pipefail
cd "$(dirname "$0")/../.."

PUBLISH_DIR=artifacts/publish
LIMIT_MIB=60
mode="${1:-check}"

publish() {
  set -e
  rm -rf "$PUBLISH_DIR"
  dotnet publish src/FastConv.Cli/FastConv.Cli.csproj -c Release -r linux-x64 --self-contained \
    -p:PublishTrimmed=true -p:InvariantGlobalization=true -p:DebugType=none -p:GenerateDocumentationFile=false \
    -o "$PUBLISH_DIR" >/dev/null
  # The runtime's debugger pieces (data access for debuggers, the crash-dump writer): nothing a device run starts
  # needs them, and they are 2.5 MiB of the 64 MiB a device call may carry.
  rm -f "$PUBLISH_DIR/libmscordaccore.so" "$PUBLISH_DIR/createdump"
  bytes=$(du -sb "$PUBLISH_DIR" | cut -f1)
  mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
  echo "published $PUBLISH_DIR: $mib MiB ($bytes bytes, limit $LIMIT_MIB MiB)"
  if [ "$bytes" -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "error: the published CLI is over $LIMIT_MIB MiB" >&2
    exit 1
  fi
  echo 'device call: run(command="bash bench/gpu/run-on-device.sh check", carry=["artifacts/publish"], timeout_s=540)'
}

# The CLI as an argv array: FASTCONV_EXE may be a command with arguments ("dotnet path/fastconv.dll" for a dry run here).
read -r -a FC <<<"${FASTCONV_EXE:-$PUBLISH_DIR/fastconv}"

setup() {
  OUT="${OUT:-$PWD/out}"
  mkdir -p "$OUT"
  export FASTCONV_KERNEL_CACHE="${FASTCONV_KERNEL_CACHE:-/tmp/fastconv-kernels}" # one NVRTC compile per source for all steps
  export DOTNET_CLI_TELEMETRY_OPTOUT=1
  SUMMARY="$OUT/summary.log"
  : >"$SUMMARY"
  FAILED=0
  START=$SECONDS
  if ! command -v "${FC[0]}" >/dev/null 2>&1 && [ ! -x "${FC[0]}" ]; then
    echo "error: ${FC[*]} is missing: publish first (bench/gpu/run-on-device.sh publish) and carry artifacts/publish" | tee -a "$SUMMARY" >&2
    exit 1
  fi
}

say() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME LOG LIMIT_S COMMAND...: runs COMMAND with a time limit that also respects the whole budget, output to
# LOG (appended), one summary line with its exit code and the log's last line.
step() {
  local name="$1" log="$2" limit="$3"
  shift 3
  local left=$(( BUDGET - (SECONDS - START) ))
  if [ "$left" -lt 15 ]; then
    say "SKIP  $name: out of time (budget ${BUDGET}s)"
    FAILED=1
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit}s): $*" >>"$log"
  local t0=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  # The line that says most: check's "N cases, M mismatches" and its first error, else the log's last line.
  local last
  last=$(grep -E '^[0-9]+ cases, [0-9]+ mismatches|^error:|^OK$|^PROBLEMS$|ERROR SUMMARY' "$log" | head -n 2 | tr '\n' ' ' | cut -c1-200)
  [ -n "$last" ] || last=$(grep -v '^\s*$' "$log" | tail -n 1 | cut -c1-160)
  if [ "$rc" -eq 0 ]; then
    say "ok    $name ($((SECONDS - t0)) s): $last"
  else
    [ "$rc" -eq 124 ] && last="timed out after ${limit}s; $last"
    say "FAIL  $name (rc=$rc, $((SECONDS - t0)) s): $last"
    FAILED=1
  fi
}

# Folders holding our CUDA libraries in the usual places, without Python: the fallback when the CLI's own resolver
# found nothing (it searches the same layouts; this exists to tell the two apart in the log).
fallback_cuda_path() {
  local dirs="" d f
  for f in /usr/local/cuda*/lib64/lib{cublas,nvrtc}.so.1[23] \
           /usr/lib/python3*/*-packages/nvidia/*/lib/lib{cudnn,cublas,nvrtc}.so.* \
           /usr/local/lib/python3*/*-packages/nvidia/*/lib/lib{cudnn,cublas,nvrtc}.so.* \
           /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib/lib{cudnn,cublas,nvrtc}.so.* \
           /opt/conda/lib/python3*/site-packages/nvidia/*/lib/lib{cudnn,cublas,nvrtc}.so.*; do
    [ -e "$f" ] || continue
    d=$(dirname "$f")
    case ":$dirs:" in *":$d:"*) ;; *) dirs="${dirs:+$dirs:}$d" ;; esac
  done
  echo "$dirs"
}

unavailable_gpu_backends() {
  grep -A2 -E '"name": "(cuda|cudnn|cublas)"' "$OUT/info.json" 2>/dev/null | grep -B1 '"available": false' | grep -oE '"(cuda|cudnn|cublas)"' | tr -d '"' | tr '\n' ' '
}

compute_sanitizer() {
  local c
  c=$(command -v compute-sanitizer 2>/dev/null) && { echo "$c"; return; }
  for c in /usr/local/cuda*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer/compute-sanitizer; do
    [ -x "$c" ] && { echo "$c"; return; }
  done
}

# check: `info`; NVRTC 13 compiling every kernel without a warning; `check` of cuda (CUDA_LAUNCH_BLOCKING=1, so a
# faulting kernel is named at its launch), of cudnn and cublas in one process (one primary context for both) on the
# edges set; compute-sanitizer memcheck of cuda on the edges set; then all three GPU backends on the resnet50 set.
# Seven files under $OUT: summary.log (one line per step), info.log, info.json, cuda-edges.log, libs-edges.log,
# memcheck.log, resnet50.log. Exit 1 if any step failed.
check() {
  setup
  BUDGET="${FASTCONV_DEVICE_BUDGET_S:-450}"
  {
    echo "== machine"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi not available"
    uname -a
  } >"$OUT/info.log" 2>&1
  say "machine: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
  step info "$OUT/info.log" 60 "${FC[@]}" info
  "${FC[@]}" info --json >"$OUT/info.json" 2>>"$OUT/info.log"
  grep -oE 'backend (cuda|cudnn|cublas) .*' "$OUT/info.log" | sed 's/[│ ]*$//' | tee -a "$SUMMARY"
  local missing
  missing=$(unavailable_gpu_backends)
  if [ -n "$missing" ]; then
    local dirs
    dirs=$(fallback_cuda_path)
    say "NOTE  the CLI's resolver left unavailable: $missing; retrying with FASTCONV_CUDA_PATH=$dirs (see info.log)"
    export FASTCONV_CUDA_PATH="${FASTCONV_CUDA_PATH:+$FASTCONV_CUDA_PATH:}$dirs"
    step "info (fallback path)" "$OUT/info.log" 60 "${FC[@]}" info
    "${FC[@]}" info --json >"$OUT/info.json" 2>>"$OUT/info.log"
  fi
  if command -v python3 >/dev/null 2>&1; then
    step "nvrtc compile of native/kernels" "$OUT/info.log" 60 python3 native/emu/tests/nvrtc_check.py native/kernels
  else
    say "SKIP  nvrtc compile: no python3"
  fi
  step "check cuda edges (CUDA_LAUNCH_BLOCKING=1)" "$OUT/cuda-edges.log" 120 env CUDA_LAUNCH_BLOCKING=1 "${FC[@]}" check --backend cuda --set edges
  step "check cudnn,cublas edges" "$OUT/libs-edges.log" 90 "${FC[@]}" check --backend cudnn,cublas --set edges
  local sanitizer
  sanitizer=$(compute_sanitizer)
  if [ -n "$sanitizer" ]; then
    # Leak checking off: the process exits with the caching allocator's blocks still held by design.
    step "compute-sanitizer memcheck, cuda edges" "$OUT/memcheck.log" 150 \
      "$sanitizer" --tool memcheck --leak-check no --error-exitcode 99 --print-limit 20 "${FC[@]}" check --backend cuda --set edges
  else
    say "FAIL  compute-sanitizer not found (PATH, /usr/local/cuda*/bin, /opt/nvidia)"
    FAILED=1
  fi
  step "check cuda,cudnn,cublas resnet50" "$OUT/resnet50.log" 150 "${FC[@]}" check --backend cuda,cudnn,cublas --set resnet50
  say "== done in $((SECONDS - START)) s (budget ${BUDGET}s); failed=$FAILED; logs in $OUT"
  return "$FAILED"
}

# bench: timings only, after a check run passed: the resnet50 set on every GPU backend, cuDNN as the peer, with JSON
# and Markdown (four files under $OUT besides the summary).
bench() {
  setup
  BUDGET="${FASTCONV_DEVICE_BUDGET_S:-540}"
  "${FC[@]}" info >"$OUT/info.log" 2>&1
  # shellcheck disable=SC2086
  step "bench cuda,cudnn,cublas resnet50" "$OUT/bench.log" 480 "${FC[@]}" bench resnet50 --backend cuda,cudnn,cublas --vs cudnn \
    --json "$OUT/bench.json" --markdown "$OUT/bench.md" ${FASTCONV_BENCH_ARGS:-}
  say "== done in $((SECONDS - START)) s; failed=$FAILED; results in $OUT"
  return "$FAILED"
}

case "$mode" in
  publish) publish ;;
  check) check ;;
  bench) bench ;;
  *) echo "usage: $0 publish|check|bench" >&2; exit 2 ;;
esac
