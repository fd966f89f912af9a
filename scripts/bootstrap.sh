#!/usr/bin/env bash
# Installs what building and testing FastConv needs on a fresh Debian machine, and nothing twice.
#  - Debian's libonnx-dev, whose /usr/include/onnx/onnx.proto (ONNX 1.12) protoc compiles at build time
#    (the schema comes from the package, never from a copy in this tree).
#  - The CUDA libraries the GPU tests exercise without a GPU, from Debian's non-free component: libcuda1 (the
#    real driver library: cuInit answers CUDA_ERROR_NO_DEVICE), libnvrtc11.2 (NVRTC 11.8, compiles every kernel
#    for sm_80/sm_90) and libcublas11. cuDNN is not packaged by Debian; its missing-library path is tested.
#  - g++ (with its AddressSanitizer runtime), which builds the CUDA-on-CPU emulator native/emu during the build.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }

need=()
[ -f /usr/include/onnx/onnx.proto ] || need+=(libonnx-dev)
command -v g++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 || need+=(g++)
cuda_need=()
have_lib 'libcuda\.so\.1 ' || cuda_need+=(libcuda1)
have_lib 'libnvrtc\.so\.11\.2 ' || cuda_need+=(libnvrtc11.2)
have_lib 'libcublas\.so\.11 ' || cuda_need+=(libcublas11)

if [ ${#cuda_need[@]} -gt 0 ] && [ "${FASTCONV_SKIP_CUDA_LIBS:-0}" != "1" ]; then
  # non-free (and contrib, which holds the driver's helpers) must be enabled for the CUDA packages.
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && grep -E '^Components:' "$src" | grep -Evq '[[:space:]]non-free([[:space:]]|$)'; then
    echo "bootstrap: enabling contrib non-free in $src"
    $SUDO sed -i -E '/^Components:/{/[[:space:]]contrib([[:space:]]|$)/!s/[[:space:]]*$/ contrib/; /[[:space:]]non-free([[:space:]]|$)/!s/[[:space:]]*$/ non-free/}' "$src"
  elif [ ! -f "$src" ] && [ -f /etc/apt/sources.list ] && ! grep -Eq '^deb .*non-free' /etc/apt/sources.list; then
    echo "bootstrap: enabling contrib non-free in /etc/apt/sources.list"
    $SUDO sed -i -E '/^deb /{/ contrib/!s/$/ contrib/; / non-free( |$)/!s/$/ non-free/}' /etc/apt/sources.list
  fi
  need+=("${cuda_need[@]}")
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
