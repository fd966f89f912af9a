using FastConv.Cpu;
using FastConv.Gpu.Backends;
using FastConv.Gpu.FcKernels;

namespace FastConv.Backends;

/// <summary>
/// Backends by name (<see cref="BackendNames"/>): one place that turns "cpu" or "cudnn" into an
/// <see cref="IBackend"/>. This assembly references every backend assembly, so the built-in factories are written
/// out below (no module initializers, no reflection: trimming keeps exactly what is named here); a program may
/// <see cref="Register"/> its own. <c>auto</c> picks the best available backend and says why it passed over the others.
/// </summary>
public static class BackendRegistry
{
    /// <summary>The name that asks for the best available backend.</summary>
    public const string Auto = "auto";

    /// <summary>Preference of <see cref="Auto"/>: our kernels on a GPU first, the CPU engine last.</summary>
    public static IReadOnlyList<string> AutoOrder { get; } = [BackendNames.Cuda, BackendNames.Cpu];

    private static readonly Lock s_lock = new();
    private static readonly Dictionary<string, Func<BackendOptions, IBackend>> s_factories = new(StringComparer.Ordinal)
    {
        [BackendNames.Reference] = _ => new ReferenceBackend(),
        [BackendNames.Cpu] = o => new CpuBackend(new CpuBackendOptions
        {
            Threads = o.Threads ?? new CpuBackendOptions().Threads,
            Precision = o.Exact ? CpuPrecision.Exact : CpuPrecision.Fast,
        }),
        [BackendNames.Cuda] = o => FcKernelBackend.CreateCuda(new FcKernelOptions { Exact = o.Exact }),
        [BackendNames.CudaEmu] = o => FcKernelBackend.CreateEmulated(new FcKernelOptions { Exact = o.Exact }),
        [BackendNames.Cudnn] = o => GpuBackendFactory.Create(BackendNames.Cudnn, () => new CudnnBackend(GpuBackendOptions.From(o))),
        [BackendNames.Cublas] = o => GpuBackendFactory.Create(BackendNames.Cublas, () => new CublasBackend(GpuBackendOptions.From(o))),
    };

    /// <summary>Registers (or replaces) the factory for <paramref name="name"/>.</summary>
    public static void Register(string name, Func<BackendOptions, IBackend> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (s_lock)
            s_factories[name] = factory;
    }

    /// <summary>Every registered name, sorted.</summary>
    public static IReadOnlyList<string> Registered
    {
        get
        {
            lock (s_lock)
                return [.. s_factories.Keys.Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>
    /// Creates the backend called <paramref name="name"/> (or the best available for <c>auto</c>).
    /// Throws <see cref="BackendUnavailableException"/> with the reason when it cannot.
    /// </summary>
    public static IBackend Create(string name, BackendOptions? options = null) => Resolve(name, options).Backend;

    /// <summary>
    /// Like <see cref="Create"/>, and for <c>auto</c> also returns why each preferred backend was skipped
    /// (empty when the first choice was taken), so a CLI or a log can say "cpu (cuda: no CUDA device)".
    /// </summary>
    public static (IBackend Backend, IReadOnlyList<string> Skipped) Resolve(string name, BackendOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        options ??= new BackendOptions();
        if (name != Auto)
            return (CreateNamed(name, options), []);

        var skipped = new List<string>();
        foreach (string candidate in AutoOrder)
        {
            try
            {
                return (CreateNamed(candidate, options), skipped);
            }
            catch (BackendUnavailableException e)
            {
                skipped.Add($"{candidate}: {e.Reason}");
            }
        }
        throw new BackendUnavailableException(Auto, "no backend could be created (" + string.Join("; ", skipped) + ")");
    }

    private static IBackend CreateNamed(string name, BackendOptions options)
    {
        Func<BackendOptions, IBackend>? factory;
        lock (s_lock)
            s_factories.TryGetValue(name, out factory);
        if (factory is null)
        {
            throw new BackendUnavailableException(name, $"unknown backend name (known: {string.Join(", ", BackendNames.All)}, {Auto})");
        }
        return factory(options);
    }
}
