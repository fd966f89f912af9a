using System.Runtime.InteropServices;

namespace FastConv.Interop;

/// <summary>The version entry points of each CUDA library, callable without a GPU.</summary>
internal static partial class LibraryVersions
{
    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuDriverGetVersion(out int version);

    [LibraryImport(NativeLibraries.NvrtcImport)]
    private static partial int nvrtcVersion(out int major, out int minor);

    // libraryPropertyType: MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2.
    [LibraryImport(NativeLibraries.CublasImport, EntryPoint = "cublasGetProperty")]
    private static partial int cublasGetProperty(int type, out int value);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial nuint cudnnGetVersion();

    public static string Of(NativeLibraryKind kind)
    {
        switch (kind)
        {
            case NativeLibraryKind.Cuda:
                CudaDriver.ThrowIfFailed(cuDriverGetVersion(out int v));
                return $"CUDA {v / 1000}.{v % 1000 / 10} driver API";
            case NativeLibraryKind.Nvrtc:
                return nvrtcVersion(out int maj, out int min) == 0 ? $"NVRTC {maj}.{min}" : "NVRTC (nvrtcVersion failed)";
            case NativeLibraryKind.Cublas:
                if (cublasGetProperty(0, out int a) == 0 && cublasGetProperty(1, out int b) == 0 && cublasGetProperty(2, out int c) == 0)
                {
                    return $"cuBLAS {a}.{b}.{c}";
                }
                return "cuBLAS (cublasGetProperty failed)";
            case NativeLibraryKind.Cudnn:
                ulong n = cudnnGetVersion();
                // cuDNN 9 encodes major·10000 + minor·100 + patch; cuDNN 8 major·1000 + minor·100 + patch.
                return n >= 90000 ? $"cuDNN {n / 10000}.{n % 10000 / 100}.{n % 100}" : $"cuDNN {n / 1000}.{n % 1000 / 100}.{n % 100}";
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }
}
