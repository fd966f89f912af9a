# Compiles every native/kernels/*.cu with NVRTC (libnvrtc.so.11.2, i.e. NVRTC 11.8 on Debian) for sm_80 and sm_90,
# with the options FastConv.Gpu.KernelCompiler uses, and fails on any error or any log output (warnings).
# Usage: python3 native/emu/tests/nvrtc_check.py native/kernels   (the CI's own test is tests/FastConv.Tests/Gpu/NvrtcTests.cs)
import ctypes, sys, glob, os
lib = ctypes.CDLL("/usr/lib/x86_64-linux-gnu/libnvrtc.so.11.2")
def chk(r, what):
    if r != 0:
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        raise SystemExit(f"{what}: {lib.nvrtcGetErrorString(r).decode()}")
kdir = sys.argv[1]
ok = True
for f in sorted(glob.glob(os.path.join(kdir, "*.cu"))):
    src = open(f, "rb").read()
    for arch in ("sm_80", "sm_90"):
        prog = ctypes.c_void_p()
        chk(lib.nvrtcCreateProgram(ctypes.byref(prog), src, os.path.basename(f).encode(), 0, None, None), "create")
        opts = [f"--gpu-architecture={arch}".encode(), b"--std=c++17", b"-default-device", b"-lineinfo", f"-I{kdir}".encode()]
        arr = (ctypes.c_char_p * len(opts))(*opts)
        r = lib.nvrtcCompileProgram(prog, len(opts), arr)
        n = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
        log = ctypes.create_string_buffer(n.value)
        lib.nvrtcGetProgramLog(prog, log)
        text = log.value.decode().strip()
        size = ctypes.c_size_t()
        if r == 0:
            lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
        print(f"{os.path.basename(f)} {arch}: rc={r} cubin={size.value} log={'(empty)' if not text else text}")
        if r != 0 or text: ok = False
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
print("OK" if ok else "PROBLEMS")
