#!/usr/bin/env bash
# FastConv on a GPU machine, the way the `device` tool carries it (it copies the working tree plus the paths named
# in `carry`, runs one command, and brings back what the command writes under $OUT).
#
#   bench/gpu/run-on-device.sh publish   here: self-contained, trimmed CLI in artifacts/publish (fails over 60 MiB)
#   bench/gpu/run-on-device.sh run       there: finds the CUDA libraries, runs `fastconv info`, `check` and `bench`
#                                        for the GPU backends, writes logs and JSON under $OUT (or ./out)
#
# The device call:  run(command="bash bench/gpu/run-on-device.sh run", carry=["artifacts/publish"])
# Or through Cake:  ./build.sh --target=DevicePublish   (publish + size check; prints the call above)
#
# Environment: FASTCONV_GPU_BACKENDS (default "cudnn cublas cuda"), FASTCONV_CHECK_ARGS, FASTCONV_BENCH_ARGS
# (extra arguments for the verbs), FASTCONV_CUDA_PATH (folders searched first for the CUDA libraries).
set -uo pipefail
cd "$(dirname "$0")/../.."

PUBLISH_DIR=artifacts/publish
LIMIT_MIB=60
mode="${1:-run}"

publish() {
  set -e
  rm -rf "$PUBLISH_DIR"
  dotnet publish src/FastConv.Cli/FastConv.Cli.csproj -c Release -r linux-x64 --self-contained \
    -p:PublishTrimmed=true -p:InvariantGlobalization=true -p:DebugType=none -p:GenerateDocumentationFile=false \
    -o "$PUBLISH_DIR" >/dev/null
  bytes=$(du -sb "$PUBLISH_DIR" | cut -f1)
  mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
  echo "published $PUBLISH_DIR: $mib MiB ($bytes bytes, limit $LIMIT_MIB MiB)"
  if [ "$bytes" -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "error: the published CLI is over $LIMIT_MIB MiB" >&2
    exit 1
  fi
  echo 'device call: run(command="bash bench/gpu/run-on-device.sh run", carry=["artifacts/publish"])'
}

# CUDA libraries on the device image come from pip's wheels (nvidia-cudnn-cu13, nvidia-cublas, nvidia-cuda-nvrtc):
# every folder holding one of our sonames goes into FASTCONV_CUDA_PATH, and into LD_LIBRARY_PATH too, because
# cuDNN 9 loads its engine libraries (libcudnn_cnn.so.9, …) through the system loader, not through our resolver.
find_cuda_libs() {
  local dirs="" d
  for py in python3 /opt/torch/.venv/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    for sp in $("$py" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
      [ -d "$sp/nvidia" ] || continue
      while IFS= read -r f; do
        d=$(dirname "$f")
        case ":$dirs:" in *":$d:"*) ;; *) dirs="${dirs:+$dirs:}$d" ;; esac
      done < <(find "$sp/nvidia" -maxdepth 4 \( -name 'libcudnn.so.*' -o -name 'libcublas.so.*' -o -name 'libnvrtc.so.*' \) 2>/dev/null)
    done
  done
  for d in /usr/local/cuda*/lib64 /usr/local/nvidia/lib64; do
    [ -d "$d" ] && case ":$dirs:" in *":$d:"*) ;; *) dirs="${dirs:+$dirs:}$d" ;; esac
  done
  echo "$dirs"
}

run() {
  OUT="${OUT:-$PWD/out}"
  mkdir -p "$OUT"
  local exe="$PUBLISH_DIR/fastconv"
  if [ ! -x "$exe" ]; then
    echo "error: $exe is missing: publish first (bench/gpu/run-on-device.sh publish) and carry artifacts/publish" | tee "$OUT/run.log" >&2
    exit 1
  fi
  local libs
  libs=$(find_cuda_libs)
  export FASTCONV_CUDA_PATH="${FASTCONV_CUDA_PATH:+$FASTCONV_CUDA_PATH:}$libs"
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$libs"
  export FASTCONV_KERNEL_CACHE="${FASTCONV_KERNEL_CACHE:-/tmp/fastconv-kernels}"
  {
    echo "== machine"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi not available"
    echo "FASTCONV_CUDA_PATH=$FASTCONV_CUDA_PATH"
    echo "== fastconv info"
    "$exe" info
  } 2>&1 | tee "$OUT/run.log"
  "$exe" info --json > "$OUT/info.json" 2>>"$OUT/run.log"

  local verbs rc=0
  verbs=$("$exe" --help 2>&1)
  for b in ${FASTCONV_GPU_BACKENDS:-cudnn cublas cuda}; do
    for verb in check bench; do
      if ! grep -Eq "^[[:space:]]+$verb([[:space:]]|$)" <<<"$verbs"; then
        echo "== fastconv $verb --backend $b: the '$verb' verb is not built into this CLI yet" | tee -a "$OUT/run.log"
        continue
      fi
      local extra_var="FASTCONV_$(echo "$verb" | tr a-z A-Z)_ARGS"
      echo "== fastconv $verb --backend $b ${!extra_var:-}" | tee -a "$OUT/run.log"
      # shellcheck disable=SC2086
      "$exe" "$verb" --backend "$b" ${!extra_var:-} 2>&1 | tee "$OUT/$verb-$b.log" | tee -a "$OUT/run.log"
      [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    done
  done
  echo "== done (rc=$rc); results in $OUT" | tee -a "$OUT/run.log"
  return $rc
}

case "$mode" in
  publish) publish ;;
  run) run ;;
  *) echo "usage: $0 publish|run" >&2; exit 2 ;;
esac
