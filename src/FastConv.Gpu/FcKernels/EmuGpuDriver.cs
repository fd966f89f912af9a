using System.Diagnostics;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.IO;
using FastConv.Interop;

namespace FastConv.Gpu.FcKernels;

/// <summary>Thread order the emulator uses between barriers (native/emu: FCEMU_ORDER_*).</summary>
public enum EmuThreadOrder
{
    Forward = 0,
    Reverse = 1,
    Random = 2,
}

/// <summary>A kernel launch the CUDA-on-CPU emulator refused or stopped: the kernel broke a rule (divergent barrier,
/// deadlock, partial-warp collective, misaligned cp.async, ...) or the launch itself was invalid.</summary>
public sealed class EmulatorException(string api, int code, string message)
    : FastConvException($"{api} failed in the CUDA-on-CPU emulator (code {code}): {message}")
{
    public string Api => api;
    public int Code => code;
}

/// <summary>
/// The entry points of libfastconv_emu.so (native/emu/fcemu.h), resolved once. The library is built by the
/// managed build (native/emu/FastConv.Emu.targets) and copied beside FastConv.Gpu; <c>FASTCONV_EMU_LIBRARY</c>
/// names another file.
/// </summary>
internal static unsafe class EmuNative
{
    public const string LibraryName = "libfastconv_emu.so";
    public const string PathVariable = "FASTCONV_EMU_LIBRARY";

    public static delegate* unmanaged<ulong, int, int> Init;
    public static delegate* unmanaged<void**, nuint, int> MemAlloc;
    public static delegate* unmanaged<void*, int> MemFree;
    public static delegate* unmanaged<void*, void*, nuint, int> Memcpy;
    public static delegate* unmanaged<void*, uint, nuint, int> MemsetD32;
    public static delegate* unmanaged<byte*, void**, int> GetFunction;
    public static delegate* unmanaged<void*, uint, uint, uint, uint, uint, uint, uint, void**, int> Launch;
    public static delegate* unmanaged<byte*> LastError;
    public static delegate* unmanaged<void*, uint*, nuint**, int> FunctionParams;

    private static readonly Lock s_gate = new();
    private static bool s_loaded;

    public static void EnsureLoaded()
    {
        lock (s_gate)
        {
            if (s_loaded)
            {
                return;
            }
            nint lib = Open();
            Init = (delegate* unmanaged<ulong, int, int>)NativeLibrary.GetExport(lib, "fcemu_init");
            MemAlloc = (delegate* unmanaged<void**, nuint, int>)NativeLibrary.GetExport(lib, "fcemu_mem_alloc");
            MemFree = (delegate* unmanaged<void*, int>)NativeLibrary.GetExport(lib, "fcemu_mem_free");
            Memcpy = (delegate* unmanaged<void*, void*, nuint, int>)NativeLibrary.GetExport(lib, "fcemu_memcpy");
            MemsetD32 = (delegate* unmanaged<void*, uint, nuint, int>)NativeLibrary.GetExport(lib, "fcemu_memset_d32");
            GetFunction = (delegate* unmanaged<byte*, void**, int>)NativeLibrary.GetExport(lib, "fcemu_get_function");
            Launch = (delegate* unmanaged<void*, uint, uint, uint, uint, uint, uint, uint, void**, int>)NativeLibrary.GetExport(lib, "fcemu_launch");
            LastError = (delegate* unmanaged<byte*>)NativeLibrary.GetExport(lib, "fcemu_last_error");
            FunctionParams = (delegate* unmanaged<void*, uint*, nuint**, int>)NativeLibrary.GetExport(lib, "fcemu_function_params");
            s_loaded = true;
        }
    }

    internal static nint Open()
    {
        string? explicitPath = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            // An explicit choice is the only candidate: falling back to the library beside the assemblies would run
            // another emulator than the one asked for, and say nothing.
            return OpenExplicit(explicitPath);
        }
        var tried = new List<string>();
        var errors = new List<string>();
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, LibraryName) };
        string? asmDir = Path.GetDirectoryName(typeof(EmuNative).Assembly.Location);
        if (!string.IsNullOrEmpty(asmDir))
        {
            candidates.Add(Path.Combine(asmDir, LibraryName));
        }
        candidates.AddRange(PackageCandidates());
        foreach (string path in candidates.Distinct(StringComparer.Ordinal))
        {
            tried.Add(path);
            if (NativeLibrary.TryLoad(path, out nint handle))
            {
                return handle;
            }
            errors.Add(File.Exists(path) ? $"{path}: exists but could not be loaded" : $"{path}: no such file");
        }
        throw new NativeLibraryNotFoundException(LibraryName, tried, errors);
    }

    /// <summary>
    /// Where a program that took FastConv.Gpu as a NuGet package has the library: the package ships it as the native
    /// asset runtimes/linux-x64/native/libfastconv_emu.so, which a portable build leaves under that folder of the output
    /// and the host lists among its native search directories (<c>NATIVE_DLL_SEARCH_DIRECTORIES</c>, from the app's
    /// .deps.json; a linux-x64 build or publish puts it beside the app, the first candidate).
    /// </summary>
    internal static IEnumerable<string> PackageCandidates()
    {
        yield return Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", LibraryName);
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string dirs)
        {
            foreach (string dir in dirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                yield return Path.Combine(dir, LibraryName);
            }
        }
    }

    /// <summary>
    /// Loads the library <c>FASTCONV_EMU_LIBRARY</c> names and checks it exports every entry point; a missing file, a
    /// file that is not a loadable library, or one without the emulator's exports throws <see cref="InvalidSettingException"/>
    /// naming the variable.
    /// </summary>
    internal static nint OpenExplicit(string path)
    {
        FileKind kind = SafeFile.KindOf(path, followLinks: true);
        if (kind != FileKind.Regular)
        {
            throw new InvalidSettingException(PathVariable, $"{PathVariable}='{path}': {(kind == FileKind.Missing ? "no such file" : $"it is {SafeFile.Describe(kind)}")}; point it at a built {LibraryName} (native/emu) or unset it to use the one beside the assemblies.");
        }
        nint handle;
        try
        {
            handle = NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new InvalidSettingException(PathVariable, $"{PathVariable}='{path}' could not be loaded as a shared library ({e.Message}); point it at a built {LibraryName} or unset it.", e);
        }
        string[] missing = [.. Exports.Where(name => !NativeLibrary.TryGetExport(handle, name, out _))];
        if (missing.Length > 0)
        {
            NativeLibrary.Free(handle);
            throw new InvalidSettingException(PathVariable, $"{PathVariable}='{path}' is a shared library but not the CUDA-on-CPU emulator: it lacks {string.Join(", ", missing)}; point it at a built {LibraryName} or unset it.");
        }
        return handle;
    }

    /// <summary>The entry points <see cref="EnsureLoaded"/> binds.</summary>
    internal static IReadOnlyList<string> Exports { get; } =
        ["fcemu_init", "fcemu_mem_alloc", "fcemu_mem_free", "fcemu_memcpy", "fcemu_memset_d32", "fcemu_get_function", "fcemu_launch", "fcemu_last_error", "fcemu_function_params"];

    public static void Check(int code, string api)
    {
        if (code != 0)
        {
            string message = Marshal.PtrToStringUTF8((nint)LastError()) ?? "";
            throw new EmulatorException(api, code, message);
        }
    }
}

/// <summary>What an <see cref="EmuGpuDriver"/> was asked to copy, by kind (tests assert on these).</summary>
public sealed record EmuCopyCounts(
    int HostToDeviceSync, int HostToDeviceAsync, int DeviceToHostSync, int DeviceToHostAsync,
    int PageableAsync, IReadOnlyList<nint> HostToDeviceAsyncStreams);

/// <summary>
/// <see cref="IGpuDriver"/> over the CUDA-on-CPU emulator (native/emu): device memory is host memory, events are
/// host-timed, modules are tokens and functions are found by their <c>extern "C"</c> names among the kernels linked
/// into the library. Everything above — plans, argument packing, the caching allocator, kernel loading — is the
/// code the <c>cuda</c> backend runs.
/// <para>
/// Streams order work as on a GPU, as far as copies go: an async copy from page-locked memory is queued on its stream
/// and performed only when that stream is next used (a launch, an event record, another stream-ordered operation) or
/// synchronized, or at a device-wide sync or free. So a staging buffer overwritten or freed before its copy ran,
/// a result read before its stream was synchronized, or a kernel on another stream that does not wait for an upload
/// shows up as wrong data or an error, where it would be a race on a GPU; a synchronous emulator hides all three.
/// Launches run when queued, after their stream's earlier copies. An async copy from pageable memory is done at once
/// (the CUDA driver stages it synchronously too) and counted in <see cref="CopyCounts"/>; freeing host memory with a
/// copy still queued from or to it is an error.
/// </para>
/// </summary>
public sealed unsafe class EmuGpuDriver : IGpuDriver
{
    /// <summary>Thread order between barriers (<c>forward</c>, <c>reverse</c>, <c>random</c>); default random.</summary>
    public const string OrderVariable = "FASTCONV_EMU_ORDER";
    /// <summary>Seed of the random thread order; default 1.</summary>
    public const string SeedVariable = "FASTCONV_EMU_SEED";

    private readonly Dictionary<nint, long> _events = [];
    private readonly TransferCounter _transfers = new();
    private readonly Lock _gate = new();
    private long _nextHandle = 1;

    // Page-locked host allocations (start → bytes) and the copies queued per stream, in order.
    private readonly Dictionary<nint, long> _pinned = [];
    private readonly Dictionary<nint, Queue<PendingCopy>> _queued = [];
    private int _h2dSync, _h2dAsync, _d2hSync, _d2hAsync, _pageableAsync;
    private readonly List<nint> _h2dAsyncStreams = [];
    private long _streamOperations;

    private readonly record struct PendingCopy(nint Destination, nint Source, long Bytes, nint Host);

    // Stream capture, as the driver does it in thread-local mode: a capturing stream records its launches (with
    // their argument values copied, as cuLaunchKernel copies them), async copies and memsets instead of running them;
    // an unsafe call from the capturing thread invalidates the capture. Graphs and their executable snapshots are
    // node lists, replayed in order through the same paths a direct call takes (so a replay's copies are queued and
    // counted like any others).
    private readonly Dictionary<nint, Capture> _captures = [];
    private readonly Dictionary<nint, GraphNode[]> _graphs = [];
    private readonly Dictionary<nint, GraphNode[]> _execs = [];

    private sealed class Capture(int thread)
    {
        public int Thread { get; } = thread;
        public List<GraphNode> Nodes { get; } = [];
        public string? Invalidated { get; set; }
    }

    private enum CopyKind
    {
        HostToDevice,
        DeviceToHost,
        DeviceToDevice,
    }

    private abstract record GraphNode;

    private sealed record KernelNode(nint Function, Dim3 Grid, Dim3 Block, int SharedBytes, byte[] Arguments, int[] Offsets) : GraphNode;

    private sealed record CopyNode(nint Destination, nint Source, long Bytes, CopyKind Kind) : GraphNode;

    private sealed record MemsetNode(ulong Destination, uint Value, long Count) : GraphNode;

    /// <summary>Loads the emulator and sets its thread order; throws <see cref="NativeLibraryNotFoundException"/> without the library.</summary>
    public EmuGpuDriver(EmuThreadOrder? order = null, ulong? seed = null)
    {
        EmuNative.EnsureLoaded();
        Order = order ?? ParseOrder(Environment.GetEnvironmentVariable(OrderVariable));
        Seed = seed ?? ParseSeed(Environment.GetEnvironmentVariable(SeedVariable));
        EmuNative.Check(EmuNative.Init(Seed, (int)Order), "fcemu_init");
    }

    public EmuThreadOrder Order { get; }
    public ulong Seed { get; }

    internal static EmuThreadOrder ParseOrder(string? s) => s?.Trim().ToLowerInvariant() switch
    {
        null or "" or "random" => EmuThreadOrder.Random,
        "forward" => EmuThreadOrder.Forward,
        "reverse" => EmuThreadOrder.Reverse,
        _ => throw new InvalidSettingException(OrderVariable, $"{OrderVariable}='{s}': expected forward, reverse or random."),
    };

    /// <summary><c>FASTCONV_EMU_SEED</c>: unset or empty is 1; anything but a whole number in [0, 2^64) throws naming the variable.</summary>
    internal static ulong ParseSeed(string? s)
    {
        if (string.IsNullOrEmpty(s))
        {
            return 1UL;
        }
        return ulong.TryParse(s.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong seed)
            ? seed
            : throw new InvalidSettingException(SeedVariable, $"{SeedVariable}='{s}': expected a whole number from 0 to {ulong.MaxValue} (unset it for the default seed, 1).");
    }

    public string Name => "cuda-emu";

    /// <summary>Reported as compute capability 8.0: the kernels' sm_80 paths (mma.sync, ldmatrix, cp.async) are what it emulates.</summary>
    public GpuDeviceInfo Device { get; } = new(0, "FastConv CUDA-on-CPU emulator", 8, 0, 1, 4L << 30);

    public KernelImageKind PreferredImage => KernelImageKind.None;

    public bool ExactAllocations => true;

    public void MakeCurrent()
    {
    }

    public void Synchronize()
    {
        Unsafe("cuCtxSynchronize");
        FlushAll();
    }

    public ulong MemAlloc(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Unsafe("cuMemAlloc");
        void* p;
        int rc = EmuNative.MemAlloc(&p, (nuint)bytes);
        if (rc == 2)
        {
            throw new OutOfDeviceMemoryException(bytes, "fcemu_mem_alloc: host memory exhausted");
        }
        EmuNative.Check(rc, "fcemu_mem_alloc");
        return (ulong)p;
    }

    // cuMemFree synchronizes the device; cuMemFreeAsync frees once the stream's earlier work is done.
    public void MemFree(ulong pointer)
    {
        Unsafe("cuMemFree");
        FlushAll();
        EmuNative.Check(EmuNative.MemFree((void*)pointer), "fcemu_mem_free");
    }

    public ulong MemAllocAsync(long bytes, nint stream)
    {
        NotInCapture(stream, "cuMemAllocAsync");
        return MemAlloc(bytes);
    }

    public void MemFreeAsync(ulong pointer, nint stream)
    {
        NotInCapture(stream, "cuMemFreeAsync");
        Flush(stream);
        EmuNative.Check(EmuNative.MemFree((void*)pointer), "fcemu_mem_free");
    }

    public (long Free, long Total) MemInfo() => (Device.TotalMemoryBytes, Device.TotalMemoryBytes);

    public nint HostAlloc(long bytes)
    {
        nint p = (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 256);
        lock (_gate)
        {
            _pinned[p] = Math.Max(bytes, 1);
        }
        return p;
    }

    public void HostFree(nint pointer)
    {
        lock (_gate)
        {
            foreach ((nint stream, Queue<PendingCopy> q) in _queued)
            {
                if (q.Any(c => c.Host == pointer))
                {
                    throw new EmulatorException("cuMemFreeHost", 1, $"page-locked buffer 0x{pointer:x} freed while an async copy from or to it is still queued on stream 0x{stream:x}: synchronize the stream first");
                }
            }
            _pinned.Remove(pointer);
        }
        NativeMemory.AlignedFree((void*)pointer);
    }

    /// <summary>The copies asked for so far, by kind.</summary>
    public EmuCopyCounts CopyCounts
    {
        get
        {
            lock (_gate)
            {
                return new EmuCopyCounts(_h2dSync, _h2dAsync, _d2hSync, _d2hAsync, _pageableAsync, [.. _h2dAsyncStreams]);
            }
        }
    }

    public TransferCounters Transfers => _transfers.Read();

    /// <summary>
    /// Stream-ordered operations performed so far — kernel launches, async copies, memsets — whether called directly or
    /// replayed from a graph (recording one into a capture does not count): a graph of a run should hold exactly the
    /// operations the uncaptured run makes, and its replay make them all again.
    /// </summary>
    public long StreamOperations => Interlocked.Read(ref _streamOperations);

    public void CopyHostToDevice(ulong destination, nint source, long bytes)
    {
        Unsafe("cuMemcpyHtoD");
        _transfers.ToDevice(bytes);
        Interlocked.Increment(ref _h2dSync);
        Copy((void*)destination, (void*)source, bytes);
    }

    public void CopyDeviceToHost(nint destination, ulong source, long bytes)
    {
        Unsafe("cuMemcpyDtoH");
        _transfers.ToHost(bytes);
        Interlocked.Increment(ref _d2hSync);
        Copy((void*)destination, (void*)source, bytes);
    }

    public void CopyDeviceToDevice(ulong destination, ulong source, long bytes)
    {
        Unsafe("cuMemcpyDtoD");
        Copy((void*)destination, (void*)source, bytes);
    }

    public void CopyHostToDeviceAsync(ulong destination, nint source, long bytes, nint stream)
    {
        if (Record(stream, "cuMemcpyHtoDAsync", source, bytes, () => new CopyNode((nint)destination, source, bytes, CopyKind.HostToDevice)))
        {
            return;
        }
        Interlocked.Increment(ref _streamOperations);
        _transfers.ToDevice(bytes);
        lock (_gate)
        {
            _h2dAsync++;
            _h2dAsyncStreams.Add(stream);
        }
        QueueOrCopy((nint)destination, source, bytes, source, stream);
    }

    public void CopyDeviceToHostAsync(nint destination, ulong source, long bytes, nint stream)
    {
        if (Record(stream, "cuMemcpyDtoHAsync", destination, bytes, () => new CopyNode(destination, (nint)source, bytes, CopyKind.DeviceToHost)))
        {
            return;
        }
        Interlocked.Increment(ref _streamOperations);
        _transfers.ToHost(bytes);
        Interlocked.Increment(ref _d2hAsync);
        QueueOrCopy(destination, (nint)source, bytes, destination, stream);
    }

    public void CopyDeviceToDeviceAsync(ulong destination, ulong source, long bytes, nint stream)
    {
        if (Record(stream, "cuMemcpyDtoDAsync", 0, 0, () => new CopyNode((nint)destination, (nint)source, bytes, CopyKind.DeviceToDevice)))
        {
            return;
        }
        Interlocked.Increment(ref _streamOperations);
        Flush(stream);
        Copy((void*)destination, (void*)source, bytes);
    }

    private void QueueOrCopy(nint destination, nint source, long bytes, nint host, nint stream)
    {
        lock (_gate)
        {
            if (IsPinned(host, bytes))
            {
                if (!_queued.TryGetValue(stream, out Queue<PendingCopy>? q))
                {
                    _queued[stream] = q = new Queue<PendingCopy>();
                }
                q.Enqueue(new PendingCopy(destination, source, bytes, PinnedStart(host)));
                return;
            }
            _pageableAsync++;
        }
        Flush(stream);
        Copy((void*)destination, (void*)source, bytes);
    }

    private bool IsPinned(nint host, long bytes) => PinnedStart(host) != 0 && host + (nint)bytes <= PinnedStart(host) + (nint)_pinned[PinnedStart(host)];

    private nint PinnedStart(nint host)
    {
        foreach ((nint start, long size) in _pinned)
        {
            if (host >= start && host < start + (nint)size)
            {
                return start;
            }
        }
        return 0;
    }

    /// <summary>Performs the copies queued on <paramref name="stream"/>, in order: the stream has reached the next operation.</summary>
    private void Flush(nint stream)
    {
        PendingCopy[] due;
        lock (_gate)
        {
            if (!_queued.Remove(stream, out Queue<PendingCopy>? q) || q.Count == 0)
            {
                return;
            }
            due = [.. q];
        }
        foreach (PendingCopy c in due)
        {
            Copy((void*)c.Destination, (void*)c.Source, c.Bytes);
        }
    }

    private void FlushAll()
    {
        nint[] streams;
        lock (_gate)
        {
            streams = [.. _queued.Keys];
        }
        foreach (nint s in streams)
        {
            Flush(s);
        }
    }

    private static void Copy(void* destination, void* source, long bytes)
        => EmuNative.Check(EmuNative.Memcpy(destination, source, (nuint)bytes), "fcemu_memcpy");

    public void MemsetD32Async(ulong destination, uint value, long count, nint stream)
    {
        if (Record(stream, "cuMemsetD32Async", 0, 0, () => new MemsetNode(destination, value, count)))
        {
            return;
        }
        Interlocked.Increment(ref _streamOperations);
        Flush(stream);
        EmuNative.Check(EmuNative.MemsetD32((void*)destination, value, (nuint)count), "fcemu_memset_d32");
    }

    public nint StreamCreate() => NewHandle();
    public void StreamDestroy(nint stream)
    {
        lock (_gate)
        {
            _captures.Remove(stream);
        }
        Flush(stream);
    }

    public void StreamSynchronize(nint stream)
    {
        lock (_gate)
        {
            if (_captures.TryGetValue(stream, out Capture? c))
            {
                // The driver refuses and invalidates the capture: a capturing stream runs nothing, so there is nothing to wait for.
                c.Invalidated ??= "cuStreamSynchronize was called on the capturing stream";
                throw new EmulatorException("cuStreamSynchronize", (int)CuResult.StreamCaptureUnsupported,
                    $"stream 0x{stream:x} is capturing a graph: synchronizing it is not permitted (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) and invalidates the capture");
            }
        }
        Flush(stream);
    }

    // Launches run when queued, so an event is complete when recorded and waiting on it orders nothing more; in a
    // capture the driver would add a dependency edge, which the emulator does not model (it records a linear list).
    public void StreamWaitEvent(nint stream, nint evt) => NotInCapture(stream, "cuStreamWaitEvent");

    public nint EventCreate(bool timing)
    {
        nint h = NewHandle();
        lock (_gate)
        {
            _events[h] = 0;
        }
        return h;
    }

    public void EventDestroy(nint evt)
    {
        lock (_gate)
        {
            _events.Remove(evt);
        }
    }

    // Recording reaches the stream's queued copies and runs them; launches run when queued, so the event completes
    // when it is recorded: its time is the host's clock then, and a stream that waits on it waits for nothing more.
    public void EventRecord(nint evt, nint stream)
    {
        NotInCapture(stream, "cuEventRecord");
        Flush(stream);
        lock (_gate)
        {
            _events[evt] = Stopwatch.GetTimestamp();
        }
    }

    public void EventSynchronize(nint evt)
    {
    }

    public bool EventQuery(nint evt) => true;

    public float EventElapsedMilliseconds(nint start, nint end)
    {
        lock (_gate)
        {
            return (float)Stopwatch.GetElapsedTime(_events[start], _events[end]).TotalMilliseconds;
        }
    }

    public nint ModuleLoad(KernelImage image) => NewHandle();

    public void ModuleUnload(nint module)
    {
    }

    public nint ModuleGetFunction(nint module, string name)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        void* fn;
        fixed (byte* p = utf8)
        {
            EmuNative.Check(EmuNative.GetFunction(p, &fn), "fcemu_get_function");
        }
        return (nint)fn;
    }

    // The emulator allows up to 227 KiB of dynamic shared memory without an opt-in; nothing to set.
    public void SetMaxDynamicSharedMemory(nint function, int bytes)
    {
    }

    public void Launch(nint function, Dim3 grid, Dim3 block, int dynamicSharedBytes, nint stream, void** kernelParams)
    {
        if (Record(stream, "cuLaunchKernel", 0, 0, () => KernelNodeOf(function, grid, block, dynamicSharedBytes, kernelParams)))
        {
            return;
        }
        Interlocked.Increment(ref _streamOperations);
        Flush(stream);
        EmuNative.Check(EmuNative.Launch((void*)function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)dynamicSharedBytes, kernelParams), "fcemu_launch");
    }

    public bool SupportsGraphs => true;

    public void StreamBeginCapture(nint stream)
    {
        if (stream == 0)
        {
            throw new EmulatorException("cuStreamBeginCapture", (int)CuResult.StreamCaptureUnsupported, "the legacy default stream cannot be captured");
        }
        lock (_gate)
        {
            if (_captures.ContainsKey(stream))
            {
                throw new EmulatorException("cuStreamBeginCapture", (int)CuResult.InvalidValue, $"stream 0x{stream:x} is already capturing");
            }
            _captures[stream] = new Capture(Environment.CurrentManagedThreadId);
        }
        // Work queued before the capture began is not part of it: it runs first, as it would on the device.
        Flush(stream);
    }

    public nint StreamEndCapture(nint stream)
    {
        Capture c;
        lock (_gate)
        {
            if (!_captures.Remove(stream, out c!))
            {
                throw new EmulatorException("cuStreamEndCapture", (int)CuResult.InvalidValue, $"stream 0x{stream:x} is not capturing");
            }
        }
        if (c.Thread != Environment.CurrentManagedThreadId)
        {
            throw new EmulatorException("cuStreamEndCapture", (int)CuResult.StreamCaptureWrongThread,
                "a thread-local capture must end on the thread that began it (CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD)");
        }
        if (c.Invalidated is { } why)
        {
            throw new EmulatorException("cuStreamEndCapture", (int)CuResult.StreamCaptureInvalidated, $"the capture was invalidated (CUDA_ERROR_STREAM_CAPTURE_INVALIDATED): {why}");
        }
        nint graph = NewHandle();
        lock (_gate)
        {
            _graphs[graph] = [.. c.Nodes];
        }
        return graph;
    }

    public int GraphNodeCount(nint graph)
    {
        lock (_gate)
        {
            return Nodes(_graphs, graph, "cuGraphGetNodes").Length;
        }
    }

    public nint GraphInstantiate(nint graph)
    {
        nint exec = NewHandle();
        lock (_gate)
        {
            _execs[exec] = Nodes(_graphs, graph, "cuGraphInstantiateWithFlags");
        }
        return exec;
    }

    /// <summary>
    /// Replays the executable graph's nodes in captured order on <paramref name="stream"/>: launches run (after the
    /// stream's queued copies), copies from page-locked memory are queued and counted as direct async copies are.
    /// </summary>
    public void GraphLaunch(nint graphExec, nint stream)
    {
        GraphNode[] nodes;
        lock (_gate)
        {
            nodes = Nodes(_execs, graphExec, "cuGraphLaunch");
        }
        NotInCapture(stream, "cuGraphLaunch");
        int most = 1;
        foreach (GraphNode node in nodes)
        {
            most = node is KernelNode kn ? Math.Max(most, kn.Offsets.Length) : most;
        }
        void** p = stackalloc void*[most];
        foreach (GraphNode node in nodes)
        {
            switch (node)
            {
                case KernelNode k:
                    fixed (byte* args = k.Arguments)
                    {
                        for (int i = 0; i < k.Offsets.Length; i++)
                        {
                            p[i] = args + k.Offsets[i];
                        }
                        Launch(k.Function, k.Grid, k.Block, k.SharedBytes, stream, p);
                    }
                    break;
                case CopyNode { Kind: CopyKind.HostToDevice } c:
                    CopyHostToDeviceAsync((ulong)c.Destination, c.Source, c.Bytes, stream);
                    break;
                case CopyNode { Kind: CopyKind.DeviceToHost } c:
                    CopyDeviceToHostAsync(c.Destination, (ulong)c.Source, c.Bytes, stream);
                    break;
                case CopyNode c:
                    CopyDeviceToDeviceAsync((ulong)c.Destination, (ulong)c.Source, c.Bytes, stream);
                    break;
                case MemsetNode m:
                    MemsetD32Async(m.Destination, m.Value, m.Count, stream);
                    break;
            }
        }
    }

    public void GraphExecDestroy(nint graphExec)
    {
        lock (_gate)
        {
            _execs.Remove(graphExec);
        }
    }

    public void GraphDestroy(nint graph)
    {
        lock (_gate)
        {
            _graphs.Remove(graph);
        }
    }

    /// <summary>Graphs captured and executables instantiated that are not destroyed yet (tests check nothing leaks).</summary>
    public (int Graphs, int Executables) LiveGraphs
    {
        get
        {
            lock (_gate)
            {
                return (_graphs.Count, _execs.Count);
            }
        }
    }

    private static GraphNode[] Nodes(Dictionary<nint, GraphNode[]> map, nint handle, string api) => map.TryGetValue(handle, out GraphNode[]? nodes) ? nodes
        : throw new EmulatorException(api, (int)CuResult.InvalidHandle, $"0x{handle:x} is not a live graph of this driver");

    /// <summary>
    /// When <paramref name="stream"/> is capturing: records <paramref name="node"/> instead of running it and returns
    /// true. A copy from or to pageable host memory (<paramref name="host"/>) is refused: the driver stages those
    /// synchronously, which a graph cannot replay.
    /// </summary>
    private bool Record(nint stream, string api, nint host, long bytes, Func<GraphNode> node)
    {
        lock (_gate)
        {
            if (_captures.Count == 0 || !_captures.TryGetValue(stream, out Capture? c))
            {
                return false;
            }
            if (c.Invalidated is not null)
            {
                throw new EmulatorException(api, (int)CuResult.StreamCaptureInvalidated, $"stream 0x{stream:x}'s capture was invalidated: {c.Invalidated}");
            }
            if (host != 0 && !IsPinned(host, bytes))
            {
                c.Invalidated = $"{api} with pageable host memory 0x{host:x}";
                throw new EmulatorException(api, (int)CuResult.StreamCaptureUnsupported,
                    $"a copy between the device and pageable host memory (0x{host:x}, {bytes} bytes) cannot be captured into a graph; use page-locked memory. The capture is invalidated");
            }
            c.Nodes.Add(node());
            return true;
        }
    }

    /// <summary>What is not modelled in a capture (event records and waits, stream-ordered allocation, nested graph launches) is refused on a capturing stream.</summary>
    private void NotInCapture(nint stream, string api)
    {
        lock (_gate)
        {
            if (_captures.TryGetValue(stream, out Capture? c))
            {
                c.Invalidated ??= $"{api} on the capturing stream";
                throw new EmulatorException(api, (int)CuResult.NotSupported,
                    $"{api} on a capturing stream is not emulated (the emulator records launches, async copies and memsets only); the capture is invalidated");
            }
        }
    }

    /// <summary>A call that is not stream-ordered (a synchronous copy, an allocation, a device-wide sync) from a thread that is capturing: the driver refuses it in thread-local mode and invalidates the capture.</summary>
    private void Unsafe(string api)
    {
        lock (_gate)
        {
            if (_captures.Count == 0)
            {
                return;
            }
            int thread = Environment.CurrentManagedThreadId;
            foreach ((nint stream, Capture c) in _captures)
            {
                if (c.Thread == thread)
                {
                    c.Invalidated ??= $"{api} was called by the capturing thread";
                    throw new EmulatorException(api, (int)CuResult.StreamCaptureUnsupported,
                        $"{api} is not permitted while this thread captures stream 0x{stream:x} (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, thread-local mode); the capture is invalidated");
                }
            }
        }
    }

    /// <summary>The launch as a kernel node: its argument values copied now (as the driver copies them), each at an 8-byte-aligned offset.</summary>
    private static KernelNode KernelNodeOf(nint function, Dim3 grid, Dim3 block, int sharedBytes, void** kernelParams)
    {
        uint count;
        nuint* sizes;
        EmuNative.Check(EmuNative.FunctionParams((void*)function, &count, &sizes), "fcemu_function_params");
        var offsets = new int[count];
        int total = 0;
        for (int i = 0; i < count; i++)
        {
            offsets[i] = total;
            total += (int)((sizes[i] + 7) & ~(nuint)7);
        }
        byte[] args = new byte[Math.Max(total, 1)];
        fixed (byte* a = args)
        {
            for (int i = 0; i < count; i++)
            {
                Buffer.MemoryCopy(kernelParams[i], a + offsets[i], (long)sizes[i], (long)sizes[i]);
            }
        }
        return new KernelNode(function, grid, block, sharedBytes, args, offsets);
    }

    private nint NewHandle() => (nint)Interlocked.Increment(ref _nextHandle);

    public void Dispose() => FlushAll();
}
