#!/usr/bin/env bash
# Installs what building and testing FastConv needs on a fresh Debian machine, and nothing twice.
# Today: Debian's libonnx-dev, whose /usr/include/onnx/onnx.proto (ONNX 1.12) protoc compiles at build
# time (the schema comes from the package, never from a copy in this tree).
set -euo pipefail

need=()
[ -f /usr/include/onnx/onnx.proto ] || need+=(libonnx-dev)

if [ ${#need[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
