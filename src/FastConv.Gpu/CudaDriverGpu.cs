using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Interop;

namespace FastConv.Gpu;

/// <summary>
/// The primary context of each device, retained once per process on first use and kept until the process ends —
/// what the CUDA runtime does. Releasing it when the last backend of the moment is disposed destroys the context
/// (the driver counts retains), and with it every module, allocation and the state cuBLAS and cuDNN keep per
/// context; the next backend of the same process (`fastconv check --backend cuda,cudnn,cublas` opens them one after
/// another) would retain a new context while the libraries' per-context caches still point into the old one.
/// Generic over the handle so the policy is testable without a GPU.
/// </summary>
internal sealed class PrimaryContextRegistry<T>(Func<int, T> retain) where T : class
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, T> _held = [];

    /// <summary>How many times a context was retained (once per device ordinal, for the life of the process).</summary>
    public int Retains { get; private set; }

    /// <summary>The device's primary context, retained on the first call for <paramref name="ordinal"/>; never released.</summary>
    public T Get(int ordinal)
    {
        lock (_gate)
        {
            if (!_held.TryGetValue(ordinal, out T? context))
            {
                context = retain(ordinal);
                _held[ordinal] = context;
                Retains++;
            }
            return context;
        }
    }
}

/// <summary>
/// <see cref="IGpuDriver"/> over the real CUDA driver (libcuda.so.1): the device's primary context (shared
/// with cuBLAS and cuDNN, retained once per process by <see cref="PrimaryContextRegistry{T}"/>), made current on
/// every thread that calls <see cref="MakeCurrent"/>. Streams, events and modules are held as SafeHandles keyed by
/// their raw value, so disposing the driver releases whatever its users forgot, under the right context, without
/// throwing; the context itself stays for the next driver of the process.
/// </summary>
public sealed class CudaDriverGpu : IGpuDriver
{
    private readonly TransferCounter _transfers = new();

    // A copy queued on a capturing stream is recorded, not made: it is tallied for the graph being captured, and the
    // tally is added to the transfers at each launch of that graph (keyed by the graph's and the executable's handles).
    private readonly ConcurrentDictionary<nint, TransferCounter> _capturing = new();
    private readonly ConcurrentDictionary<nint, TransferCounters> _graphTransfers = new();

    private static readonly PrimaryContextRegistry<CudaContextHandle> s_contexts = new(CudaDriver.RetainPrimaryContext);

    private readonly CudaContextHandle _context;
    private readonly ConcurrentDictionary<nint, SafeHandle> _handles = new();
    private readonly bool _memoryPools;
    private bool _disposed;

    private CudaDriverGpu(int ordinal)
    {
        CudaDriver.Init();
        int count = CudaDriver.DeviceCount();
        if (ordinal < 0 || ordinal >= count)
        {
            throw new CudaException("cuDeviceGet", CuResult.InvalidDevice, "CUDA_ERROR_INVALID_DEVICE",
                $"device ordinal {ordinal} requested, the driver reports {count} device(s)");
        }
        CudaDeviceInfo d = CudaDriver.Device(ordinal);
        Device = new GpuDeviceInfo(ordinal, d.Name, d.ComputeMajor, d.ComputeMinor, d.MultiprocessorCount, d.TotalMemoryBytes);
        _memoryPools = CudaDriver.Attribute(ordinal, CudaDriver.DeviceAttribute.MemoryPoolsSupported) != 0;
        _context = s_contexts.Get(ordinal);
        CudaDriver.SetCurrent(_context);
    }

    /// <summary>
    /// Opens device <paramref name="ordinal"/>. Throws <see cref="NativeLibraryNotFoundException"/> without a
    /// driver library and <see cref="CudaException"/> from <c>cuInit</c> without a device (CUDA_ERROR_NO_DEVICE).
    /// </summary>
    public static CudaDriverGpu Open(int ordinal = 0) => new(ordinal);

    public string Name => "cuda";
    public GpuDeviceInfo Device { get; }
    public KernelImageKind PreferredImage => KernelImageKind.Cubin;

    /// <summary>The retained primary context (cuBLAS and cuDNN handles are created in it).</summary>
    public CudaContextHandle Context => _context;

    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CudaDriver.SetCurrent(_context);
    }

    public void Synchronize()
    {
        // cuCtxSynchronize waits for the calling thread's context: make sure it is ours (the allocator may call from any thread).
        CudaDriver.SetCurrent(_context);
        CudaDriver.ContextSynchronize();
    }

    public ulong MemAlloc(long bytes)
    {
        CuResult r = CudaDriver.TryMemAlloc(bytes, out ulong p);
        if (r == CuResult.OutOfMemory)
        {
            (long free, long total) = CudaDriver.MemInfo();
            throw new OutOfDeviceMemoryException(bytes, $"cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY; device {Device.Name} has {free >> 20} MiB free of {total >> 20} MiB");
        }
        CudaDriver.ThrowIfFailed(r, "cuMemAlloc");
        return p;
    }

    public void MemFree(ulong pointer) => CudaDriver.MemFree(pointer);

    public ulong MemAllocAsync(long bytes, nint stream)
    {
        if (!_memoryPools)
        {
            // Devices without memory pools (some vGPU/MIG setups) get the synchronous form: same contract, later reuse.
            return MemAlloc(bytes);
        }
        CuResult r = CudaDriver.TryMemAllocAsync(bytes, stream, out ulong p);
        if (r == CuResult.OutOfMemory)
        {
            throw new OutOfDeviceMemoryException(bytes, "cuMemAllocAsync: CUDA_ERROR_OUT_OF_MEMORY");
        }
        CudaDriver.ThrowIfFailed(r, "cuMemAllocAsync");
        return p;
    }

    public void MemFreeAsync(ulong pointer, nint stream)
    {
        if (_memoryPools)
        {
            CudaDriver.MemFreeAsync(pointer, stream);
        }
        else
        {
            CudaDriver.StreamSynchronize(stream);
            CudaDriver.MemFree(pointer);
        }
    }

    public (long Free, long Total) MemInfo() => CudaDriver.MemInfo();

    public nint HostAlloc(long bytes) => CudaDriver.HostAlloc(bytes);
    public void HostFree(nint pointer) => CudaDriver.HostFree(pointer);

    public TransferCounters Transfers => _transfers.Read();

    public void CopyHostToDevice(ulong destination, nint source, long bytes)
    {
        _transfers.ToDevice(bytes);
        CudaDriver.CopyHtoD(destination, source, bytes);
    }

    public void CopyDeviceToHost(nint destination, ulong source, long bytes)
    {
        _transfers.ToHost(bytes);
        CudaDriver.CopyDtoH(destination, source, bytes);
    }

    public void CopyDeviceToDevice(ulong destination, ulong source, long bytes) => CudaDriver.CopyDtoD(destination, source, bytes);

    public void CopyHostToDeviceAsync(ulong destination, nint source, long bytes, nint stream)
    {
        Counter(stream).ToDevice(bytes);
        CudaDriver.CopyHtoDAsync(destination, source, bytes, stream);
    }

    public void CopyDeviceToHostAsync(nint destination, ulong source, long bytes, nint stream)
    {
        Counter(stream).ToHost(bytes);
        CudaDriver.CopyDtoHAsync(destination, source, bytes, stream);
    }

    public void CopyDeviceToDeviceAsync(ulong destination, ulong source, long bytes, nint stream) => CudaDriver.CopyDtoDAsync(destination, source, bytes, stream);
    public void MemsetD32Async(ulong destination, uint value, long count, nint stream) => CudaDriver.MemsetD32Async(destination, value, count, stream);

    public nint StreamCreate() => Track(CudaDriver.StreamCreate(_context));
    public void StreamDestroy(nint stream) => Release(stream);
    public void StreamSynchronize(nint stream) => CudaDriver.StreamSynchronize(stream);
    public void StreamWaitEvent(nint stream, nint evt) => CudaDriver.StreamWaitEvent(stream, evt);

    public nint EventCreate(bool timing) => Track(CudaDriver.EventCreate(_context, timing));
    public void EventDestroy(nint evt) => Release(evt);
    public void EventRecord(nint evt, nint stream) => CudaDriver.EventRecord(evt, stream);
    public void EventSynchronize(nint evt) => CudaDriver.EventSynchronize(evt);
    public bool EventQuery(nint evt) => CudaDriver.EventQuery(evt);
    public float EventElapsedMilliseconds(nint start, nint end) => CudaDriver.EventElapsedMilliseconds(start, end);

    public nint ModuleLoad(KernelImage image)
    {
        if (image.Kind == KernelImageKind.None)
        {
            throw new ArgumentException($"The CUDA driver needs a PTX, cubin or fatbin image; '{image.Description}' has none.", nameof(image));
        }
        return Track(CudaDriver.ModuleLoadData(image.Bytes, _context));
    }

    public void ModuleUnload(nint module) => Release(module);

    public nint ModuleGetFunction(nint module, string name)
    {
        if (!_handles.TryGetValue(module, out SafeHandle? h) || h is not CudaModuleHandle m)
        {
            throw new ArgumentException($"0x{module:x} is not a module loaded by this driver.", nameof(module));
        }
        return CudaDriver.ModuleGetFunction(m, name);
    }

    public void SetMaxDynamicSharedMemory(nint function, int bytes) => CudaDriver.SetMaxDynamicSharedMemory(function, bytes);

    public unsafe void Launch(nint function, Dim3 grid, Dim3 block, int dynamicSharedBytes, nint stream, void** kernelParams)
        => CudaDriver.LaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)dynamicSharedBytes, stream, kernelParams);

    private TransferCounter Counter(nint stream) => !_capturing.IsEmpty && _capturing.TryGetValue(stream, out TransferCounter? c) ? c : _transfers;

    public bool SupportsGraphs => true;

    public void StreamBeginCapture(nint stream)
    {
        if (stream == 0)
        {
            throw new ArgumentException("The legacy default stream cannot be captured; capture a stream of StreamCreate.", nameof(stream));
        }
        CudaDriver.StreamBeginCapture(stream, CudaStreamCaptureMode.ThreadLocal);
        _capturing[stream] = new TransferCounter();
    }

    public nint StreamEndCapture(nint stream)
    {
        _capturing.TryRemove(stream, out TransferCounter? tally);
        nint graph = Track(CudaDriver.StreamEndCapture(stream, _context));
        _graphTransfers[graph] = tally?.Read() ?? default;
        return graph;
    }

    public int GraphNodeCount(nint graph) => CudaDriver.GraphNodeCount(GraphHandle(graph));

    public nint GraphInstantiate(nint graph)
    {
        nint exec = Track(CudaDriver.GraphInstantiate(GraphHandle(graph), _context));
        _graphTransfers[exec] = _graphTransfers.GetValueOrDefault(graph);
        return exec;
    }

    public void GraphLaunch(nint graphExec, nint stream)
    {
        CudaDriver.GraphLaunch(graphExec, stream);
        _transfers.Add(_graphTransfers.GetValueOrDefault(graphExec));
    }

    public void GraphExecDestroy(nint graphExec)
    {
        _graphTransfers.TryRemove(graphExec, out _);
        Release(graphExec);
    }

    public void GraphDestroy(nint graph)
    {
        _graphTransfers.TryRemove(graph, out _);
        Release(graph);
    }

    private CudaGraphHandle GraphHandle(nint graph) => _handles.TryGetValue(graph, out SafeHandle? h) && h is CudaGraphHandle g ? g
        : throw new ArgumentException($"0x{graph:x} is not a graph captured by this driver.", nameof(graph));

    private nint Track(SafeHandle handle)
    {
        nint raw = handle.DangerousGetHandle();
        _handles[raw] = handle;
        return raw;
    }

    private void Release(nint raw)
    {
        if (_handles.TryRemove(raw, out SafeHandle? h))
        {
            h.Dispose();
        }
    }

    /// <summary>Releases every stream, event and module still held; the primary context stays retained for the process. Never throws.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (nint raw in _handles.Keys)
        {
            Release(raw);
        }
    }
}
