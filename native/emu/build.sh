#!/usr/bin/env bash
# Builds the CUDA-on-CPU emulator from the same .cu sources NVRTC compiles (called by the MSBuild target in
# native/emu/FastConv.Emu.targets; runnable by hand):
#   OUT/libfastconv_emu.so   -O2, for the managed `cuda-emu` backend
#   OUT/fcemu_protect_probe  checks that device memory faults when the host touches it (built with the library)
#   OUT/fcemu_test_asan      AddressSanitizer build of the kernels, the emulator, the planted-bug kernels and
#                            the native test driver
#   OUT/libfastconv_emu_asan.so  the kernels and the emulator built with AddressSanitizer, for
#                            `fastconv check --asan` (which runs itself again with libasan preloaded: dotnet can
#                            load an ASan library only that way)
# Usage: native/emu/build.sh OUT [lib|asan|all]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: build.sh OUTDIR [lib|asan|all]}"
what="${2:-all}"
CXX="${CXX:-$(command -v g++ || command -v clang++ || true)}"
if [[ -z "$CXX" ]]; then
    echo "native/emu/build.sh: error: no C++ compiler (g++ or clang++) found; run scripts/bootstrap.sh, which installs g++" >&2
    exit 1
fi
mkdir -p "$out/obj-lib" "$out/obj-asan"
kernels=("$here"/../kernels/*.cu)
common=(-std=c++17 -fPIC -Wall -Wextra -Werror -I"$here" -fno-strict-aliasing)
kflags=(-x c++ -include "$here/fcemu_device.h")

compile() { # objdir flags... -- sources...
    local obj="$1"; shift
    local flags=() srcs=()
    while [[ "$1" != "--" ]]; do flags+=("$1"); shift; done; shift
    srcs=("$@")
    local objs=()
    for s in "${srcs[@]}"; do
        local o="$obj/$(basename "$s").o"
        objs+=("$o")
        if [[ "$s" == *.cu ]]; then "$CXX" "${common[@]}" "${flags[@]}" "${kflags[@]}" -c "$s" -o "$o"
        else "$CXX" "${common[@]}" "${flags[@]}" -c "$s" -o "$o"; fi
    done
    printf '%s\n' "${objs[@]}"
}

if [[ "$what" == lib || "$what" == all ]]; then
    mapfile -t objs < <(compile "$out/obj-lib" -O2 -fvisibility=hidden -- "$here/fcemu.cpp" "${kernels[@]}")
    # The C ABI is exported by visibility("default") on fcemu_* (fcemu.h is included with default visibility).
    "$CXX" -shared -o "$out/libfastconv_emu.so.tmp" "${objs[@]}" -Wl,--no-undefined -lpthread
    mv "$out/libfastconv_emu.so.tmp" "$out/libfastconv_emu.so"
    mapfile -t probe < <(compile "$out/obj-lib" -O2 -- "$here/tests/protect_probe.cpp")
    "$CXX" -o "$out/fcemu_protect_probe" "${probe[@]}" "${objs[@]}" -lpthread
fi
if [[ "$what" == asan || "$what" == all ]]; then
    mapfile -t objs < <(compile "$out/obj-asan" -O1 -g -fsanitize=address -fno-omit-frame-pointer -- \
        "$here/fcemu.cpp" "${kernels[@]}" "$here/tests/planted.cu" "$here/tests/emu_test_driver.cpp")
    "$CXX" -fsanitize=address -o "$out/fcemu_test_asan.tmp" "${objs[@]}" -lpthread
    mv "$out/fcemu_test_asan.tmp" "$out/fcemu_test_asan"
    libobjs=()
    for o in "${objs[@]}"; do [[ "$o" == */planted.cu.o || "$o" == */emu_test_driver.cpp.o ]] || libobjs+=("$o"); done
    "$CXX" -shared -fsanitize=address -o "$out/libfastconv_emu_asan.so.tmp" "${libobjs[@]}" -Wl,--no-undefined -lpthread
    mv "$out/libfastconv_emu_asan.so.tmp" "$out/libfastconv_emu_asan.so"
fi
