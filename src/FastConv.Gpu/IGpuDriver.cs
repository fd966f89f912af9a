using FastConv.Backends;

namespace FastConv.Gpu;

/// <summary>A CUDA launch dimension (grid or block).</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public ulong Count => (ulong)X * Y * Z;

    public override string ToString() => $"({X},{Y},{Z})";
}

/// <summary>One GPU as a driver reports it: what planning, kernel compilation and <c>fastconv info</c> need.</summary>
public sealed record GpuDeviceInfo(int Ordinal, string Name, int ComputeMajor, int ComputeMinor, int Multiprocessors, long TotalMemoryBytes)
{
    /// <summary>The real architecture NVRTC compiles for, e.g. <c>sm_90</c>.</summary>
    public string Architecture => $"sm_{ComputeMajor}{ComputeMinor}";

    public override string ToString() => $"{Name} ({Architecture}, {Multiprocessors} SMs, {TotalMemoryBytes / (1L << 20)} MiB)";
}

/// <summary>What kind of code image a driver loads as a module.</summary>
public enum KernelImageKind
{
    /// <summary>The driver needs no image: kernels are found by name (the CUDA-on-CPU emulator links them in).</summary>
    None,
    /// <summary>PTX text (NUL-terminated), JIT-compiled by the driver for the device.</summary>
    Ptx,
    /// <summary>A cubin for exactly the device's architecture.</summary>
    Cubin,
    /// <summary>A fatbin holding cubins and/or PTX for several architectures.</summary>
    Fatbin,
}

/// <summary>A code image to load as a module (<see cref="KernelImageKind.None"/> carries no bytes).</summary>
public sealed record KernelImage(KernelImageKind Kind, byte[] Bytes, string Description)
{
    public static KernelImage Empty(string description) => new(KernelImageKind.None, [], description);
}

/// <summary>
/// The driver-shaped layer below FastConv's GPU runtime: everything the caching allocator, streams, kernel
/// loading and launches need, and nothing above it. Two implementations: <see cref="CudaDriverGpu"/> over
/// libcuda (a real GPU), and the CUDA-on-CPU emulator's (whose launches run when queued, whose async copies from
/// pinned memory wait for their stream as on a GPU, whose events are host-timed, whose "modules" are empty and
/// whose functions are found by name). Everything above this
/// interface — plans, argument packing, memory pools — is shared, so <c>cuda</c> and <c>cuda-emu</c> differ
/// only below the launch.
/// <para>
/// Handles (streams, events, modules, functions) are opaque <see cref="nint"/>s, <c>0</c> being the default
/// stream; device memory is a <see cref="ulong"/> device address (<c>CUdeviceptr</c>). Every method throws a
/// <see cref="FastConvException"/> subclass on failure (out of memory: <see cref="OutOfDeviceMemoryException"/>).
/// Implementations are thread-safe in the way the CUDA driver is: any thread may call, after
/// <see cref="MakeCurrent"/> on that thread.
/// </para>
/// </summary>
public interface IGpuDriver : IDisposable
{
    /// <summary>"cuda" or "cuda-emu": who is below the launch.</summary>
    string Name { get; }

    /// <summary>The device this driver instance runs on.</summary>
    GpuDeviceInfo Device { get; }

    /// <summary>The image <see cref="ModuleLoad"/> wants (PTX or cubin for a GPU; none for the emulator).</summary>
    KernelImageKind PreferredImage { get; }

    /// <summary>
    /// Whether device memory should be allocated at exactly the sizes asked for, uncached (the emulator, whose blocks
    /// end against a guard page, so an out-of-bounds read faults); false on a GPU, where caching is what keeps
    /// allocation off the hot path.
    /// </summary>
    bool ExactAllocations => false;

    /// <summary>Makes the device's context current on the calling thread (a no-op where there is none).</summary>
    void MakeCurrent();

    /// <summary>Waits until all work on the device has finished.</summary>
    void Synchronize();

    // ---- device memory -------------------------------------------------------------------------------

    /// <summary>Device memory of <paramref name="bytes"/> bytes (256-byte aligned). Throws <see cref="OutOfDeviceMemoryException"/> when the device has none left.</summary>
    ulong MemAlloc(long bytes);

    /// <summary>Frees what <see cref="MemAlloc"/> returned. Implicitly synchronizes on a GPU.</summary>
    void MemFree(ulong pointer);

    /// <summary>Stream-ordered allocation (<c>cuMemAllocAsync</c>): usable by work queued on <paramref name="stream"/> after this call.</summary>
    ulong MemAllocAsync(long bytes, nint stream);

    /// <summary>Stream-ordered free: the memory goes back once the work queued on <paramref name="stream"/> before it is done.</summary>
    void MemFreeAsync(ulong pointer, nint stream);

    /// <summary>(free, total) device memory in bytes.</summary>
    (long Free, long Total) MemInfo();

    // ---- page-locked host memory ---------------------------------------------------------------------

    /// <summary>Page-locked host memory (so async copies really are asynchronous and run at full PCIe speed).</summary>
    nint HostAlloc(long bytes);

    void HostFree(nint pointer);

    // ---- copies and fills (stream 0 with the synchronous forms) -------------------------------------

    void CopyHostToDevice(ulong destination, nint source, long bytes);
    void CopyDeviceToHost(nint destination, ulong source, long bytes);
    void CopyDeviceToDevice(ulong destination, ulong source, long bytes);
    void CopyHostToDeviceAsync(ulong destination, nint source, long bytes, nint stream);
    void CopyDeviceToHostAsync(nint destination, ulong source, long bytes, nint stream);
    void CopyDeviceToDeviceAsync(ulong destination, ulong source, long bytes, nint stream);

    /// <summary>Every host↔device copy made so far (synchronous and asynchronous), counted as it was asked for.</summary>
    TransferCounters Transfers { get; }

    /// <summary>Fills <paramref name="count"/> 32-bit words at <paramref name="destination"/> with <paramref name="value"/>.</summary>
    void MemsetD32Async(ulong destination, uint value, long count, nint stream);

    // ---- streams and events --------------------------------------------------------------------------

    /// <summary>A new non-blocking stream (does not synchronize with the legacy default stream).</summary>
    nint StreamCreate();
    void StreamDestroy(nint stream);
    void StreamSynchronize(nint stream);
    /// <summary>Makes future work on <paramref name="stream"/> wait for <paramref name="evt"/>.</summary>
    void StreamWaitEvent(nint stream, nint evt);

    /// <summary>A new event; with <paramref name="timing"/> false it is cheaper and only orders work.</summary>
    nint EventCreate(bool timing);
    void EventDestroy(nint evt);
    void EventRecord(nint evt, nint stream);
    void EventSynchronize(nint evt);
    /// <summary>True when all work captured by the event is done.</summary>
    bool EventQuery(nint evt);
    /// <summary>Milliseconds between two recorded, completed timing events.</summary>
    float EventElapsedMilliseconds(nint start, nint end);

    // ---- modules and launches ------------------------------------------------------------------------

    /// <summary>Loads a code image as a module (for <see cref="KernelImageKind.None"/> a token with no code).</summary>
    nint ModuleLoad(KernelImage image);
    void ModuleUnload(nint module);

    /// <summary>The <c>extern "C"</c> kernel <paramref name="name"/> of <paramref name="module"/>; throws when it is not there.</summary>
    nint ModuleGetFunction(nint module, string name);

    /// <summary>Lets <paramref name="function"/> use up to <paramref name="bytes"/> of dynamic shared memory (above the 48 KiB default; <c>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES</c>).</summary>
    void SetMaxDynamicSharedMemory(nint function, int bytes);

    /// <summary>
    /// Queues a kernel launch, exactly as <c>cuLaunchKernel</c>: <paramref name="kernelParams"/>[i] points at the
    /// i-th argument's value. Launch errors from earlier asynchronous work may surface here or at the next sync.
    /// </summary>
    unsafe void Launch(nint function, Dim3 grid, Dim3 block, int dynamicSharedBytes, nint stream, void** kernelParams);

    // ---- graphs (stream capture) -----------------------------------------------------------------------

    /// <summary>Whether this driver can capture streams into graphs (<see cref="StreamBeginCapture"/>).</summary>
    bool SupportsGraphs => false;

    /// <summary>
    /// Starts recording <paramref name="stream"/> (not stream 0) in thread-local mode: launches, async copies and memsets
    /// queued on it are recorded instead of run, until <see cref="StreamEndCapture"/> on the same thread. Synchronizing
    /// the stream, a synchronous copy or an allocation on this thread meanwhile invalidates the capture.
    /// </summary>
    void StreamBeginCapture(nint stream) => throw new GpuNotSupportedException(Name, "CUDA Graph capture");

    /// <summary>Ends the capture and returns the recorded graph; throws when it was invalidated (the stream is usable again either way).</summary>
    nint StreamEndCapture(nint stream) => throw new GpuNotSupportedException(Name, "CUDA Graph capture");

    /// <summary>How many nodes (kernels, copies, memsets) <paramref name="graph"/> holds.</summary>
    int GraphNodeCount(nint graph) => throw new GpuNotSupportedException(Name, "CUDA Graph capture");

    /// <summary>An executable snapshot of <paramref name="graph"/>.</summary>
    nint GraphInstantiate(nint graph) => throw new GpuNotSupportedException(Name, "CUDA Graph capture");

    /// <summary>Queues the whole graph on <paramref name="stream"/> with one call; its host↔device copies count in <see cref="Transfers"/> per launch.</summary>
    void GraphLaunch(nint graphExec, nint stream) => throw new GpuNotSupportedException(Name, "CUDA Graph capture");

    void GraphExecDestroy(nint graphExec)
    {
    }

    void GraphDestroy(nint graph)
    {
    }
}

/// <summary>Counts host↔device copies for a driver (thread-safe): what <see cref="IGpuDriver.Transfers"/> reports.</summary>
public sealed class TransferCounter
{
    private long _toDevice, _toDeviceBytes, _toHost, _toHostBytes;

    public void ToDevice(long bytes)
    {
        Interlocked.Increment(ref _toDevice);
        Interlocked.Add(ref _toDeviceBytes, bytes);
    }

    public void ToHost(long bytes)
    {
        Interlocked.Increment(ref _toHost);
        Interlocked.Add(ref _toHostBytes, bytes);
    }

    /// <summary>Adds what a graph launch copies (its copies were recorded, not made, when it was captured).</summary>
    public void Add(TransferCounters t)
    {
        Interlocked.Add(ref _toDevice, t.HostToDevice);
        Interlocked.Add(ref _toDeviceBytes, t.HostToDeviceBytes);
        Interlocked.Add(ref _toHost, t.DeviceToHost);
        Interlocked.Add(ref _toHostBytes, t.DeviceToHostBytes);
    }

    public TransferCounters Read() =>
        new(Interlocked.Read(ref _toDevice), Interlocked.Read(ref _toDeviceBytes), Interlocked.Read(ref _toHost), Interlocked.Read(ref _toHostBytes));
}
