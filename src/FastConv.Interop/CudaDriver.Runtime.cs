using System.Runtime.InteropServices;

namespace FastConv.Interop;

// The part of the driver API a running engine needs: the primary context, device and page-locked host
// memory (stream-ordered too), copies, streams, events, modules and launches. Each raw import is private;
// the public wrappers check the CUresult through ThrowIfFailed, so nothing above sees a status code.
public static partial class CudaDriver
{
    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuDevicePrimaryCtxRelease_v2")]
    internal static partial CuResult cuDevicePrimaryCtxRelease(int device);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuCtxSetCurrent(nint context);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuCtxPushCurrent_v2")]
    internal static partial CuResult cuCtxPushCurrent(nint context);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuCtxPopCurrent_v2")]
    internal static partial CuResult cuCtxPopCurrent(out nint context);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuCtxSynchronize();

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemAlloc_v2")]
    private static partial CuResult cuMemAlloc(out ulong pointer, nuint bytes);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemFree_v2")]
    private static partial CuResult cuMemFree(ulong pointer);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuMemAllocAsync(out ulong pointer, nuint bytes, nint stream);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuMemFreeAsync(ulong pointer, nint stream);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemGetInfo_v2")]
    private static partial CuResult cuMemGetInfo(out nuint free, out nuint total);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuMemHostAlloc(out nint pointer, nuint bytes, uint flags);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuMemFreeHost(nint pointer);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemcpyHtoD_v2")]
    private static partial CuResult cuMemcpyHtoD(ulong destination, nint source, nuint bytes);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemcpyDtoH_v2")]
    private static partial CuResult cuMemcpyDtoH(nint destination, ulong source, nuint bytes);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemcpyDtoD_v2")]
    private static partial CuResult cuMemcpyDtoD(ulong destination, ulong source, nuint bytes);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemcpyHtoDAsync_v2")]
    private static partial CuResult cuMemcpyHtoDAsync(ulong destination, nint source, nuint bytes, nint stream);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemcpyDtoHAsync_v2")]
    private static partial CuResult cuMemcpyDtoHAsync(nint destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuMemcpyDtoDAsync_v2")]
    private static partial CuResult cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuStreamCreate(out nint stream, uint flags);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuStreamDestroy_v2")]
    internal static partial CuResult cuStreamDestroy(nint stream);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuStreamSynchronize(nint stream);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuStreamWaitEvent(nint stream, nint evt, uint flags);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuEventCreate(out nint evt, uint flags);

    [LibraryImport(NativeLibraries.CudaImport, EntryPoint = "cuEventDestroy_v2")]
    internal static partial CuResult cuEventDestroy(nint evt);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuEventRecord(nint evt, nint stream);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuEventSynchronize(nint evt);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuEventQuery(nint evt);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuEventElapsedTime(out float milliseconds, nint start, nint end);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static unsafe partial CuResult cuModuleLoadData(out nint module, byte* image);

    [LibraryImport(NativeLibraries.CudaImport)]
    internal static partial CuResult cuModuleUnload(nint module);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static unsafe partial CuResult cuModuleGetFunction(out nint function, nint module, byte* name);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static partial CuResult cuFuncSetAttribute(nint function, int attribute, int value);

    [LibraryImport(NativeLibraries.CudaImport)]
    private static unsafe partial CuResult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, void** kernelParams, void** extra);

    private const uint StreamNonBlocking = 1;
    private const uint EventDisableTiming = 2;
    private const uint HostAllocPortable = 1;
    private const int FuncAttributeMaxDynamicSharedSizeBytes = 8;

    /// <summary>cuDeviceGetAttribute codes FastConv reads.</summary>
    public enum DeviceAttribute
    {
        MaxThreadsPerBlock = 1,
        MaxSharedMemoryPerBlock = 8,
        WarpSize = 10,
        ClockRateKHz = 13,
        MultiprocessorCount = 16,
        MemoryClockRateKHz = 36,
        GlobalMemoryBusWidth = 37,
        L2CacheSize = 38,
        ComputeCapabilityMajor = 75,
        ComputeCapabilityMinor = 76,
        MaxSharedMemoryPerBlockOptin = 97,
        MemoryPoolsSupported = 115,
    }

    /// <summary>One attribute of device <paramref name="ordinal"/>.</summary>
    public static int Attribute(int ordinal, DeviceAttribute attribute)
    {
        ThrowIfFailed(cuDeviceGet(out int dev, ordinal));
        ThrowIfFailed(cuDeviceGetAttribute(out int value, (int)attribute, dev));
        return value;
    }

    /// <summary>Retains the device's primary context (the one the runtime API and cuDNN/cuBLAS share).</summary>
    public static CudaContextHandle RetainPrimaryContext(int ordinal)
    {
        ThrowIfFailed(cuDeviceGet(out int dev, ordinal));
        ThrowIfFailed(cuDevicePrimaryCtxRetain(out nint ctx, dev));
        return new CudaContextHandle(ctx, dev);
    }

    /// <summary>Binds <paramref name="context"/> to the calling thread.</summary>
    public static void SetCurrent(CudaContextHandle context) => ThrowIfFailed(cuCtxSetCurrent(context.DangerousGetHandle()));

    public static void ContextSynchronize() => ThrowIfFailed(cuCtxSynchronize());

    /// <summary>Device memory; a failure is a <see cref="CudaException"/> whose <see cref="CudaException.Result"/> is <see cref="CuResult.OutOfMemory"/> when the device is full.</summary>
    public static ulong MemAlloc(long bytes)
    {
        ThrowIfFailed(cuMemAlloc(out ulong p, checked((nuint)bytes)));
        return p;
    }

    /// <summary>Non-throwing allocation for the caching allocator's out-of-memory path.</summary>
    public static CuResult TryMemAlloc(long bytes, out ulong pointer) => cuMemAlloc(out pointer, checked((nuint)bytes));

    public static void MemFree(ulong pointer) => ThrowIfFailed(cuMemFree(pointer));

    public static ulong MemAllocAsync(long bytes, nint stream)
    {
        ThrowIfFailed(cuMemAllocAsync(out ulong p, checked((nuint)bytes), stream));
        return p;
    }

    public static CuResult TryMemAllocAsync(long bytes, nint stream, out ulong pointer) => cuMemAllocAsync(out pointer, checked((nuint)bytes), stream);

    public static void MemFreeAsync(ulong pointer, nint stream) => ThrowIfFailed(cuMemFreeAsync(pointer, stream));

    public static (long Free, long Total) MemInfo()
    {
        ThrowIfFailed(cuMemGetInfo(out nuint free, out nuint total));
        return ((long)free, (long)total);
    }

    /// <summary>Page-locked host memory, portable across contexts.</summary>
    public static nint HostAlloc(long bytes)
    {
        ThrowIfFailed(cuMemHostAlloc(out nint p, checked((nuint)bytes), HostAllocPortable));
        return p;
    }

    public static void HostFree(nint pointer) => ThrowIfFailed(cuMemFreeHost(pointer));

    public static void CopyHtoD(ulong destination, nint source, long bytes) => ThrowIfFailed(cuMemcpyHtoD(destination, source, (nuint)bytes));
    public static void CopyDtoH(nint destination, ulong source, long bytes) => ThrowIfFailed(cuMemcpyDtoH(destination, source, (nuint)bytes));
    public static void CopyDtoD(ulong destination, ulong source, long bytes) => ThrowIfFailed(cuMemcpyDtoD(destination, source, (nuint)bytes));
    public static void CopyHtoDAsync(ulong destination, nint source, long bytes, nint stream) => ThrowIfFailed(cuMemcpyHtoDAsync(destination, source, (nuint)bytes, stream));
    public static void CopyDtoHAsync(nint destination, ulong source, long bytes, nint stream) => ThrowIfFailed(cuMemcpyDtoHAsync(destination, source, (nuint)bytes, stream));
    public static void CopyDtoDAsync(ulong destination, ulong source, long bytes, nint stream) => ThrowIfFailed(cuMemcpyDtoDAsync(destination, source, (nuint)bytes, stream));
    public static void MemsetD32Async(ulong destination, uint value, long count, nint stream) => ThrowIfFailed(cuMemsetD32Async(destination, value, (nuint)count, stream));

    /// <summary>A non-blocking stream, released through its handle.</summary>
    public static CudaStreamHandle StreamCreate(CudaContextHandle context)
    {
        ThrowIfFailed(cuStreamCreate(out nint s, StreamNonBlocking));
        return new CudaStreamHandle(s, context);
    }

    public static void StreamSynchronize(nint stream) => ThrowIfFailed(cuStreamSynchronize(stream));
    public static void StreamWaitEvent(nint stream, nint evt) => ThrowIfFailed(cuStreamWaitEvent(stream, evt, 0));

    public static CudaEventHandle EventCreate(CudaContextHandle context, bool timing)
    {
        ThrowIfFailed(cuEventCreate(out nint e, timing ? 0u : EventDisableTiming));
        return new CudaEventHandle(e, context);
    }

    public static void EventRecord(nint evt, nint stream) => ThrowIfFailed(cuEventRecord(evt, stream));
    public static void EventSynchronize(nint evt) => ThrowIfFailed(cuEventSynchronize(evt));

    /// <summary>True when the event's work is done, false while it is pending (CUDA_ERROR_NOT_READY).</summary>
    public static bool EventQuery(nint evt)
    {
        CuResult r = cuEventQuery(evt);
        if (r == CuResult.NotReady)
        {
            return false;
        }
        ThrowIfFailed(r, "cuEventQuery");
        return true;
    }

    public static float EventElapsedMilliseconds(nint start, nint end)
    {
        ThrowIfFailed(cuEventElapsedTime(out float ms, start, end));
        return ms;
    }

    /// <summary>Loads a cubin, fatbin or NUL-terminated PTX image as a module.</summary>
    public static unsafe CudaModuleHandle ModuleLoadData(ReadOnlySpan<byte> image, CudaContextHandle context)
    {
        if (image.IsEmpty)
        {
            throw new ArgumentException("An empty module image cannot be loaded.", nameof(image));
        }
        fixed (byte* p = image)
        {
            ThrowIfFailed(cuModuleLoadData(out nint m, p));
            return new CudaModuleHandle(m, context);
        }
    }

    /// <summary>The kernel <paramref name="name"/> (an <c>extern "C"</c> name) of a loaded module.</summary>
    public static unsafe nint ModuleGetFunction(CudaModuleHandle module, string name)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = utf8)
        {
            CuResult r = cuModuleGetFunction(out nint f, module.DangerousGetHandle(), p);
            if (r != CuResult.Success)
            {
                ThrowIfFailed(r, $"cuModuleGetFunction(\"{name}\")");
            }
            return f;
        }
    }

    public static void SetMaxDynamicSharedMemory(nint function, int bytes)
        => ThrowIfFailed(cuFuncSetAttribute(function, FuncAttributeMaxDynamicSharedSizeBytes, bytes));

    /// <summary><c>cuLaunchKernel</c>: <paramref name="kernelParams"/>[i] points at the i-th argument.</summary>
    public static unsafe void LaunchKernel(nint function, uint gx, uint gy, uint gz, uint bx, uint by, uint bz, uint sharedBytes, nint stream, void** kernelParams)
        => ThrowIfFailed(cuLaunchKernel(function, gx, gy, gz, bx, by, bz, sharedBytes, stream, kernelParams, null));
}

/// <summary>
/// A retained primary context. Releasing it never throws: a failed release returns false, which the
/// runtime reports as a released-handle failure (MDA) and otherwise ignores.
/// </summary>
public sealed class CudaContextHandle : SafeHandle
{
    internal CudaContextHandle(nint context, int device) : base(0, ownsHandle: true)
    {
        SetHandle(context);
        Device = device;
    }

    /// <summary>The CUdevice this context belongs to.</summary>
    public int Device { get; }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => CudaDriver.cuDevicePrimaryCtxRelease(Device) == CuResult.Success;
}

/// <summary>
/// A handle that must be destroyed with its context current: push the owning context, destroy, pop.
/// The owning context handle is ref-counted (DangerousAddRef) so it outlives every object made in it.
/// </summary>
public abstract class CudaContextBoundHandle : SafeHandle
{
    private readonly CudaContextHandle _context;
    private readonly bool _contextAddRefed;

    private protected CudaContextBoundHandle(nint value, CudaContextHandle context) : base(0, ownsHandle: true)
    {
        _context = context;
        bool added = false;
        context.DangerousAddRef(ref added);
        _contextAddRefed = added;
        SetHandle(value);
    }

    public override bool IsInvalid => handle == 0;

    private protected abstract CuResult Destroy(nint value);

    protected sealed override bool ReleaseHandle()
    {
        bool ok = false;
        try
        {
            // The context may be on another thread or none; destroying under it is what the driver expects.
            if (CudaDriver.cuCtxPushCurrent(_context.DangerousGetHandle()) == CuResult.Success)
            {
                ok = Destroy(handle) == CuResult.Success;
                _ = CudaDriver.cuCtxPopCurrent(out _);
            }
        }
        finally
        {
            if (_contextAddRefed)
            {
                _context.DangerousRelease();
            }
        }
        return ok;
    }
}

/// <summary>A CUstream.</summary>
public sealed class CudaStreamHandle : CudaContextBoundHandle
{
    internal CudaStreamHandle(nint stream, CudaContextHandle context) : base(stream, context) { }
    private protected override CuResult Destroy(nint value) => CudaDriver.cuStreamDestroy(value);
}

/// <summary>A CUevent.</summary>
public sealed class CudaEventHandle : CudaContextBoundHandle
{
    internal CudaEventHandle(nint evt, CudaContextHandle context) : base(evt, context) { }
    private protected override CuResult Destroy(nint value) => CudaDriver.cuEventDestroy(value);
}

/// <summary>A CUmodule (its functions are valid while it is loaded).</summary>
public sealed class CudaModuleHandle : CudaContextBoundHandle
{
    internal CudaModuleHandle(nint module, CudaContextHandle context) : base(module, context) { }
    private protected override CuResult Destroy(nint value) => CudaDriver.cuModuleUnload(value);
}
