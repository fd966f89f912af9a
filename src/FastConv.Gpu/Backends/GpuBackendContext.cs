using System.Collections.Concurrent;
using FastConv.Backends;
using FastConv.Interop;

namespace FastConv.Gpu.Backends;

/// <summary>Options of the library backends beyond <see cref="BackendOptions"/>.</summary>
public sealed record GpuBackendOptions
{
    /// <summary>Let cuBLAS/cuDNN run FP32 work on TF32 tensor cores (10-bit mantissa). Off: FP32 means FP32.</summary>
    public bool AllowTf32 { get; init; }

    /// <summary>Pick algorithms by timing them (like cuDNN's Find); false takes the library's heuristic first choice.</summary>
    public bool TimedSearch { get; init; } = true;

    /// <summary>Cap on one plan's workspace (algorithm search honours it); null: 256 MiB.</summary>
    public long? WorkspaceLimitBytes { get; init; }

    /// <summary>Workspace cap when none is given: large enough for every cuDNN algorithm on ResNet-50 layers at batch 64.</summary>
    public const long DefaultWorkspaceLimit = 256L << 20;

    public long WorkspaceLimit => WorkspaceLimitBytes ?? DefaultWorkspaceLimit;

    /// <summary>Caps every grid-stride launch below the device's own cap (tests make a few blocks walk a whole tensor); null: no extra cap.</summary>
    public int? MaxGridBlocks { get; init; }

    public static GpuBackendOptions From(BackendOptions o) => new()
    {
        AllowTf32 = false, // BackendOptions has no precision switch: FP32 stays FP32.
        WorkspaceLimitBytes = o.WorkspaceLimitBytes,
    };
}

/// <summary>
/// What a library backend's plans share: the device (one per process, its allocator and pinned pool), the
/// backend's stream, a cuBLAS handle bound to that stream, and the support kernels.
/// </summary>
public sealed class GpuBackendContext : IDisposable
{
    private nint _cublasStream = -1;
    private CublasHandle? _cublas;

    internal GpuBackendContext(string backend, GpuDevice device, GpuBackendOptions options)
    {
        Backend = backend;
        Device = device;
        Options = options;
        Stream = device.CreateStream();
    }

    public string Backend { get; }
    public GpuDevice Device { get; }
    public GpuBackendOptions Options { get; }
    public GpuStream Stream { get; }
    /// <summary>The cuBLAS handle, created on first use in the device's context (so plans that need no GEMM need no cuBLAS).</summary>
    public CublasHandle Cublas
    {
        get
        {
            if (_cublas is null)
            {
                Device.Driver.MakeCurrent();
                CublasHandle h = FastConv.Interop.Cublas.Create();
                try
                {
                    FastConv.Interop.Cublas.SetMathMode(h, Options.AllowTf32 ? CublasMathMode.Tf32TensorOp : CublasMathMode.Default);
                }
                catch
                {
                    h.Dispose();
                    throw;
                }
                _cublas = h;
            }
            return _cublas;
        }
    }

    /// <summary>The kernel <paramref name="name"/> of native/kernels/<paramref name="source"/> (compiled on first use).</summary>
    public GpuKernel Kernel(string source, string name) => Device.Kernels.Get(source, name);

    /// <summary>
    /// Cap on a grid-stride launch: 32 blocks per multiprocessor keep every SM busy with room for the tail, and a
    /// larger grid only adds scheduling; the kernels loop over whatever is left.
    /// </summary>
    public long GridCap => Math.Min((long)Math.Max(1, Device.Info.Multiprocessors) * 32, Options.MaxGridBlocks is { } cap ? Math.Max(1, cap) : long.MaxValue);

    /// <summary>Binds cuBLAS to <paramref name="stream"/> when it is not already (sessions bring their own streams).</summary>
    public CublasHandle CublasOn(nint stream)
    {
        if (_cublasStream != stream)
        {
            FastConv.Interop.Cublas.SetStream(Cublas, stream);
            _cublasStream = stream;
        }
        return Cublas;
    }

    /// <summary>Median milliseconds of <paramref name="run"/> on the backend's stream: one warm-up, then <paramref name="repeats"/> timed by events.</summary>
    public float TimeMedian(Action run, int repeats = 5)
    {
        using GpuEvent start = Device.CreateEvent(), end = Device.CreateEvent();
        run();
        var times = new float[repeats];
        for (int i = 0; i < repeats; i++)
        {
            start.Record(Stream);
            run();
            end.Record(Stream);
            times[i] = end.ElapsedSince(start);
        }
        Array.Sort(times);
        return times[repeats / 2];
    }

    public void Dispose()
    {
        try
        {
            Stream.Synchronize();
        }
        catch (FastConvException)
        {
        }
        _cublas?.Dispose();
        Stream.Dispose();
        Device.Dispose();
    }
}

/// <summary>
/// Algorithm choices by timing, cached per (backend, device, shape, workspace limit, precision) so the search runs
/// once per shape per process — and once per machine: choices are appended to <c>algorithms.tsv</c> in the
/// kernel cache folder and read back at start. The plan records the choice it ran (<see cref="IPlan.Algorithm"/>).
/// </summary>
public static class GpuAlgorithmCache
{
    private static readonly ConcurrentDictionary<string, string> s_choices = new(StringComparer.Ordinal);
    private static readonly Lock s_fileGate = new();
    private static bool s_loaded;

    public static string Key(string backend, GpuDeviceInfo device, string problem, long workspaceLimit, bool tf32)
        => $"{backend}|{device.Name}|{device.Architecture}|{problem}|ws<={workspaceLimit}|{(tf32 ? "tf32" : "fp32")}";

    /// <summary>The cached choice for <paramref name="key"/>, or <paramref name="choose"/>'s (then cached and persisted).</summary>
    public static string GetOrChoose(string key, Func<string> choose)
    {
        LoadOnce();
        if (s_choices.TryGetValue(key, out string? known))
        {
            return known;
        }
        string chosen = choose();
        if (s_choices.TryAdd(key, chosen))
        {
            Persist(key, chosen);
        }
        return chosen;
    }

    /// <summary>Forgets every choice in memory (tests; the file is left alone).</summary>
    public static void Clear() => s_choices.Clear();

    public static int Count => s_choices.Count;

    private static string FilePath => Path.Combine(KernelCompiler.CacheDirectory(), "algorithms.tsv");

    private static void LoadOnce()
    {
        lock (s_fileGate)
        {
            if (s_loaded)
            {
                return;
            }
            s_loaded = true;
            try
            {
                if (File.Exists(FilePath))
                {
                    foreach (string line in File.ReadLines(FilePath))
                    {
                        int tab = line.LastIndexOf('\t');
                        if (tab > 0)
                        {
                            s_choices[line[..tab]] = line[(tab + 1)..];
                        }
                    }
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static void Persist(string key, string choice)
    {
        lock (s_fileGate)
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
                File.AppendAllText(FilePath, $"{key}\t{choice}\n");
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
