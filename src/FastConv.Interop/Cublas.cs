using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastConv.Interop;

/// <summary>A cuBLAS call failed: the API name, the cublasStatus_t, and cuBLAS's own name and string for it.</summary>
public sealed class CublasException : FastConvException
{
    public CublasException(string api, int status, string? name, string? description)
        : base($"{api} failed: {name ?? "CUBLAS_STATUS_" + status} ({status}): {description ?? "no description from cuBLAS"}.")
    {
        Api = api;
        Status = status;
    }

    public string Api { get; }
    public int Status { get; }
}

/// <summary>cublasMath_t: how cuBLAS may compute (FP32 means FP32 unless TF32 is asked for explicitly).</summary>
public enum CublasMathMode
{
    Default = 0,
    Pedantic = 2,
    /// <summary>FP32 GEMMs on TF32 tensor cores (10-bit mantissa inputs): faster, looser.</summary>
    Tf32TensorOp = 3,
    /// <summary>Flag: forbid reduced-precision reductions.</summary>
    DisallowReducedPrecisionReduction = 16,
}

/// <summary>cublasOperation_t.</summary>
public enum CublasOperation
{
    None = 0,
    Transpose = 1,
}

/// <summary>
/// The cuBLAS calls FastConv uses (handle, stream, math mode, Sgemm, SgemmStridedBatched, GemmEx, version),
/// bound with source-generated <c>[LibraryImport]</c>s to libcublas.so.13/.12/.11. cuBLAS is column-major:
/// a row-major <c>Y = A·B</c> is computed as the column-major <c>Yᵀ = Bᵀ·Aᵀ</c> (swap the operands).
/// Device matrices are passed as device addresses (<see cref="ulong"/>); α and β live on the host.
/// </summary>
public static unsafe partial class Cublas
{
    /// <summary>cudaDataType CUDA_R_32F.</summary>
    public const int DataTypeFloat = 0;
    /// <summary>cublasComputeType_t CUBLAS_COMPUTE_32F (exact FP32).</summary>
    public const int ComputeFloat = 68;
    /// <summary>cublasComputeType_t CUBLAS_COMPUTE_32F_FAST_TF32.</summary>
    public const int ComputeFloatFastTf32 = 77;
    /// <summary>cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT; explicit algorithms are 0…23 (99 = DEFAULT_TENSOR_OP).</summary>
    public const int GemmDefault = -1;

    [LibraryImport(NativeLibraries.CublasImport, EntryPoint = "cublasCreate_v2")]
    private static partial int cublasCreate(out nint handle);

    [LibraryImport(NativeLibraries.CublasImport, EntryPoint = "cublasDestroy_v2")]
    internal static partial int cublasDestroy(nint handle);

    [LibraryImport(NativeLibraries.CublasImport, EntryPoint = "cublasSetStream_v2")]
    private static partial int cublasSetStream(nint handle, nint stream);

    [LibraryImport(NativeLibraries.CublasImport)]
    private static partial int cublasSetMathMode(nint handle, int mode);

    [LibraryImport(NativeLibraries.CublasImport, EntryPoint = "cublasSetWorkspace_v2")]
    private static partial int cublasSetWorkspace(nint handle, ulong workspace, nuint bytes);

    [LibraryImport(NativeLibraries.CublasImport, EntryPoint = "cublasGetVersion_v2")]
    private static partial int cublasGetVersion(nint handle, out int version);

    [LibraryImport(NativeLibraries.CublasImport)]
    private static partial int cublasGetProperty(int type, out int value);

    [LibraryImport(NativeLibraries.CublasImport)]
    private static partial byte* cublasGetStatusName(int status);

    [LibraryImport(NativeLibraries.CublasImport)]
    private static partial byte* cublasGetStatusString(int status);

    [LibraryImport(NativeLibraries.CublasImport, EntryPoint = "cublasSgemm_v2")]
    private static partial int cublasSgemm(nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        float* alpha, ulong a, int lda, ulong b, int ldb, float* beta, ulong c, int ldc);

    [LibraryImport(NativeLibraries.CublasImport)]
    private static partial int cublasSgemmStridedBatched(nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        float* alpha, ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float* beta, ulong c, int ldc, long strideC, int batchCount);

    [LibraryImport(NativeLibraries.CublasImport)]
    private static partial int cublasGemmEx(nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        void* alpha, ulong a, int aType, int lda, ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc, int computeType, int algo);

    /// <summary>The one place a cublasStatus_t becomes an exception, with cuBLAS's own name and string.</summary>
    public static void ThrowIfFailed(int status, [CallerArgumentExpression(nameof(status))] string api = "")
    {
        if (status == 0)
        {
            return;
        }
        int paren = api.IndexOf('(', StringComparison.Ordinal);
        throw new CublasException(paren > 0 ? api[..paren] : api, status, StatusName(status), StatusString(status));
    }

    public static string? StatusName(int status)
    {
        byte* s = cublasGetStatusName(status);
        return s == null ? null : Marshal.PtrToStringUTF8((nint)s);
    }

    public static string? StatusString(int status)
    {
        byte* s = cublasGetStatusString(status);
        return s == null ? null : Marshal.PtrToStringUTF8((nint)s);
    }

    /// <summary>The library's version (major, minor, patch), readable without a GPU.</summary>
    public static (int Major, int Minor, int Patch) Version()
    {
        ThrowIfFailed(cublasGetProperty(0, out int major));
        ThrowIfFailed(cublasGetProperty(1, out int minor));
        ThrowIfFailed(cublasGetProperty(2, out int patch));
        return (major, minor, patch);
    }

    /// <summary>A cuBLAS handle in the current context (needs a GPU: without one cuBLAS reports NOT_INITIALIZED).</summary>
    public static CublasHandle Create()
    {
        ThrowIfFailed(cublasCreate(out nint h));
        return new CublasHandle(h);
    }

    public static void SetStream(CublasHandle handle, nint stream) => ThrowIfFailed(cublasSetStream(handle.DangerousGetHandle(), stream));
    public static void SetMathMode(CublasHandle handle, CublasMathMode mode) => ThrowIfFailed(cublasSetMathMode(handle.DangerousGetHandle(), (int)mode));

    /// <summary>Gives cuBLAS its workspace explicitly (otherwise it allocates its own per stream).</summary>
    public static void SetWorkspace(CublasHandle handle, ulong workspace, long bytes) => ThrowIfFailed(cublasSetWorkspace(handle.DangerousGetHandle(), workspace, (nuint)bytes));

    public static int HandleVersion(CublasHandle handle)
    {
        ThrowIfFailed(cublasGetVersion(handle.DangerousGetHandle(), out int v));
        return v;
    }

    /// <summary>Column-major <c>C = α·op(A)·op(B) + β·C</c>, C m×n.</summary>
    public static void Sgemm(CublasHandle handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        float alpha, ulong a, int lda, ulong b, int ldb, float beta, ulong c, int ldc)
        => ThrowIfFailed(cublasSgemm(handle.DangerousGetHandle(), transA, transB, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc));

    /// <summary><see cref="Sgemm"/> over <paramref name="batchCount"/> matrices at fixed strides (elements).</summary>
    public static void SgemmStridedBatched(CublasHandle handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        float alpha, ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batchCount)
        => ThrowIfFailed(cublasSgemmStridedBatched(handle.DangerousGetHandle(), transA, transB, m, n, k, &alpha, a, lda, strideA, b, ldb, strideB, &beta, c, ldc, strideC, batchCount));

    /// <summary>FP32 GemmEx with an explicit compute type (<see cref="ComputeFloat"/> or <see cref="ComputeFloatFastTf32"/>) and algorithm.</summary>
    public static void GemmExFloat(CublasHandle handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        float alpha, ulong a, int lda, ulong b, int ldb, float beta, ulong c, int ldc, int computeType, int algorithm)
        => ThrowIfFailed(cublasGemmEx(handle.DangerousGetHandle(), transA, transB, m, n, k, &alpha, a, DataTypeFloat, lda, b, DataTypeFloat, ldb,
            &beta, c, DataTypeFloat, ldc, computeType, algorithm));
}

/// <summary>A cublasHandle_t; destroying it never throws.</summary>
public sealed class CublasHandle : SafeHandle
{
    internal CublasHandle(nint handle) : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => Cublas.cublasDestroy(handle) == 0;
}
