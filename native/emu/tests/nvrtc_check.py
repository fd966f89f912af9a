# Compiles every native/kernels/*.cu with NVRTC for sm_80 and sm_90, with the options FastConv.Gpu.KernelCompiler
# uses (KernelCompiler.CommonOptions; NvrtcTests checks this file names the same ones), and fails on any error or
# any log output (warnings). Works with NVRTC 11.2 (Debian's libnvrtc11.2, the CI's), 12 and 13 (the GPU machine's
# pip wheel, nvidia/cu13/lib): the options below are accepted by all three.
# Usage: python3 native/emu/tests/nvrtc_check.py native/kernels [path/to/libnvrtc.so.N]
# (the CI's own test is tests/FastConv.Tests/Gpu/NvrtcTests.cs; bench/gpu/run-on-device.sh check runs this there)
import ctypes, glob, os, sys

OPTIONS = ["--std=c++17", "-default-device", "-lineinfo"]
ARCHS = ["sm_80", "sm_90"]

def find_nvrtc():
    if len(sys.argv) > 2:
        return sys.argv[2]
    dirs = [d for v in ("FASTCONV_CUDA_PATH", "LD_LIBRARY_PATH") for d in os.environ.get(v, "").split(":") if d]
    dirs += sorted(glob.glob("/usr/local/cuda*/lib64"))
    for sp in sorted(set(glob.glob("/usr/lib/python3*/*-packages") + glob.glob("/usr/local/lib/python3*/*-packages")
                         + glob.glob("/opt/*/.venv/lib/python3*/site-packages") + glob.glob(os.path.expanduser("~/.local/lib/python3*/site-packages"))
                         + glob.glob(os.path.join(os.environ.get("VIRTUAL_ENV", "/nonexistent"), "lib/python3*/site-packages")))):
        dirs += [os.path.join(sp, "nvidia", "cu13", "lib")] + sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib")))
    dirs += ["/usr/lib/x86_64-linux-gnu"]
    for soname in ("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"):
        for d in dirs:
            if os.path.exists(os.path.join(d, soname)):
                return os.path.join(d, soname)
    raise SystemExit("no libnvrtc.so.13/.12/.11.2 found")

path = find_nvrtc()
folder = os.path.dirname(path)
for builtins in sorted(glob.glob(os.path.join(folder, "libnvrtc-builtins.so.*"))):
    ctypes.CDLL(builtins, mode=ctypes.RTLD_GLOBAL)  # as FastConv's resolver preloads them
lib = ctypes.CDLL(path)
lib.nvrtcGetErrorString.restype = ctypes.c_char_p
major, minor = ctypes.c_int(), ctypes.c_int()
lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
print(f"NVRTC {major.value}.{minor.value} at {path}; options {' '.join(OPTIONS)}")

def chk(r, what):
    if r != 0:
        raise SystemExit(f"{what}: {lib.nvrtcGetErrorString(r).decode()}")

kdir = sys.argv[1]
headers = sorted(glob.glob(os.path.join(kdir, "*.cuh")))
hsrc = (ctypes.c_char_p * len(headers))(*[open(h, "rb").read() for h in headers])
hnames = (ctypes.c_char_p * len(headers))(*[os.path.basename(h).encode() for h in headers])
ok = True
for f in sorted(glob.glob(os.path.join(kdir, "*.cu"))):
    src = open(f, "rb").read()
    for arch in ARCHS:
        prog = ctypes.c_void_p()
        chk(lib.nvrtcCreateProgram(ctypes.byref(prog), src, os.path.basename(f).encode(), len(headers), hsrc, hnames), "create")
        opts = [o.encode() for o in OPTIONS] + [f"--gpu-architecture={arch}".encode()]
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
        if r != 0 or text or size.value == 0:
            ok = False
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
print("OK" if ok else "PROBLEMS")
sys.exit(0 if ok else 1)
