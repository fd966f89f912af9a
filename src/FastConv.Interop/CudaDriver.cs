using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastConv.Interop;

/// <summary>CUresult, the status every CUDA driver API call returns (the codes FastConv names; others print as numbers).</summary>
public enum CuResult
{
    Success = 0,
    InvalidValue = 1,
    OutOfMemory = 2,
    NotInitialized = 3,
    Deinitialized = 4,
    NoDevice = 100,
    InvalidDevice = 101,
    InvalidImage = 200,
    InvalidContext = 201,
    ProfilerDisabled = 5,
    StubLibrary = 34,
    DeviceUnavailable = 46,
    NoBinaryForGpu = 209,
    ContextAlreadyInUse = 216,
    UnsupportedPtxVersion = 222,
    InvalidSource = 300,
    InvalidHandle = 400,
    NotFound = 500,
    NotReady = 600,
    IllegalAddress = 700,
    LaunchOutOfResources = 701,
    LaunchTimeout = 702,
    LaunchFailed = 719,
    NotSupported = 801,
    StreamCaptureUnsupported = 900,
    StreamCaptureInvalidated = 901,
    StreamCaptureWrongThread = 908,
    Unknown = 999,
}

/// <summary>A CUDA driver call failed: the API name, the CUresult, and the driver's own name and string for it.</summary>
public sealed class CudaException : FastConvException
{
    public CudaException(string api, CuResult result, string? name, string? description)
        : base($"{api} failed: {name ?? "CUDA_ERROR_" + (int)result} ({(int)result}): {description ?? "no description from the driver"}.")
    {
        Api = api;
        Result = result;
    }

    public string Api { get; }
    public CuResult Result { get; }
}

/// <summary>
/// The CUDA driver API calls FastConv uses, bound with source-generated <c>[LibraryImport]</c>s to
/// <c>libcuda.so.1</c> (resolved by <see cref="NativeLibraries"/>): device discovery here; contexts, memory,
/// streams, events, modules and launches in CudaDriver.Runtime.cs.
/// </summary>
public static partial class CudaDriver
{
    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuInit(uint flags);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuDriverGetVersion(out int version);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuDeviceGetCount(out int count);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuDeviceGet(out int device, int ordinal);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static unsafe partial CuResult cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuDeviceTotalMem_v2")]
    private static partial CuResult cuDeviceTotalMem(out nuint bytes, int device);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuGetErrorName(CuResult error, out nint name);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuGetErrorString(CuResult error, out nint description);

    private const int AttributeMultiprocessorCount = 16;
    private const int AttributeComputeCapabilityMajor = 75;
    private const int AttributeComputeCapabilityMinor = 76;

    /// <summary>The one place a CUresult becomes an exception, with the driver's own name and string.</summary>
    public static void ThrowIfFailed(CuResult result, [CallerArgumentExpression(nameof(result))] string api = "")
    {
        if (result == CuResult.Success)
        {
            return;
        }
        int paren = api.IndexOf('(', StringComparison.Ordinal);
        string apiName = paren > 0 ? api[..paren] : api;
        string? name = cuGetErrorName(result, out nint n) == CuResult.Success ? Marshal.PtrToStringUTF8(n) : null;
        string? text = cuGetErrorString(result, out nint s) == CuResult.Success ? Marshal.PtrToStringUTF8(s) : null;
        throw new CudaException(apiName, result, name, text);
    }

    /// <summary>Initializes the driver (loads libcuda.so.1 on first use). Throws <see cref="CudaException"/> (e.g. no device) or <see cref="NativeLibraryNotFoundException"/>.</summary>
    public static void Init() => ThrowIfFailed(cuInit(0));

    /// <summary>The driver's CUDA version as (major, minor), e.g. (13, 0).</summary>
    public static (int Major, int Minor) DriverVersion()
    {
        ThrowIfFailed(cuDriverGetVersion(out int v));
        return (v / 1000, v % 1000 / 10);
    }

    public static int DeviceCount()
    {
        ThrowIfFailed(cuDeviceGetCount(out int count));
        return count;
    }

    /// <summary>Name, compute capability, SM count and memory of device <paramref name="ordinal"/>.</summary>
    public static unsafe CudaDeviceInfo Device(int ordinal)
    {
        ThrowIfFailed(cuDeviceGet(out int dev, ordinal));
        byte* name = stackalloc byte[256];
        ThrowIfFailed(cuDeviceGetName(name, 256, dev));
        ThrowIfFailed(cuDeviceGetAttribute(out int major, AttributeComputeCapabilityMajor, dev));
        ThrowIfFailed(cuDeviceGetAttribute(out int minor, AttributeComputeCapabilityMinor, dev));
        ThrowIfFailed(cuDeviceGetAttribute(out int sms, AttributeMultiprocessorCount, dev));
        ThrowIfFailed(cuDeviceTotalMem(out nuint bytes, dev));
        return new CudaDeviceInfo(ordinal, Marshal.PtrToStringUTF8((nint)name) ?? "?", major, minor, sms, (long)bytes);
    }
}

/// <summary>What <c>fastconv info</c> and backend selection need to know about one GPU.</summary>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int ComputeMajor, int ComputeMinor, int MultiprocessorCount, long TotalMemoryBytes)
{
    public string Architecture => $"sm_{ComputeMajor}{ComputeMinor}";
}
