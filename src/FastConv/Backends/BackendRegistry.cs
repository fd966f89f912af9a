using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace FastConv.Backends;

/// <summary>Options every backend factory receives; a backend ignores what does not apply to it.</summary>
public sealed record BackendOptions
{
    /// <summary>CPU worker threads; null uses the backend's default (<c>FASTCONV_THREADS</c> or the core count).</summary>
    public int? Threads { get; init; }

    /// <summary>True forbids algorithms that change the arithmetic (Winograd on the CPU, TF32 on the GPU).</summary>
    public bool Exact { get; init; }

    /// <summary>Cap on one plan's workspace in bytes (GPU algorithm search honours it); null means no cap.</summary>
    public long? WorkspaceLimitBytes { get; init; }
}

/// <summary>A backend name that cannot be created here, with the reason (not registered, no device, missing library).</summary>
public sealed class BackendUnavailableException : FastConvException
{
    public BackendUnavailableException(string backend, string reason, Exception? inner = null)
        : base($"backend '{backend}' is not available: {reason}", inner)
    {
        Backend = backend;
        Reason = reason;
    }

    public string Backend { get; }
    public string Reason { get; }
}

/// <summary>
/// Backends by name (<see cref="BackendNames"/>): one place that turns "cpu" or "cudnn" into an
/// <see cref="IBackend"/>. Each backend's assembly registers its factories from a module initializer; the
/// CPU assembly sits above this one, so the registry loads it by name on first use (kept under trimming by
/// the <see cref="DynamicDependencyAttribute"/>). <c>auto</c> picks the best available backend and says
/// why it passed over the others.
/// </summary>
public static class BackendRegistry
{
    /// <summary>The name that asks for the best available backend.</summary>
    public const string Auto = "auto";

    /// <summary>Preference of <see cref="Auto"/>: our kernels on a GPU first, the CPU engine last.</summary>
    public static IReadOnlyList<string> AutoOrder { get; } = [BackendNames.Cuda, BackendNames.Cpu];

    private static readonly Dictionary<string, Func<BackendOptions, IBackend>> s_factories = new(StringComparer.Ordinal);
    private static readonly Lock s_lock = new();
    private static bool s_loadedKnown;

    /// <summary>Registers (or replaces) the factory for <paramref name="name"/>.</summary>
    public static void Register(string name, Func<BackendOptions, IBackend> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (s_lock)
            s_factories[name] = factory;
    }

    /// <summary>
    /// Registers <paramref name="factory"/> for <paramref name="name"/> unless one is registered already: a stand-in
    /// (e.g. one that only explains why there is no GPU) that the real backend's <see cref="Register"/> replaces,
    /// whichever module initializer runs first.
    /// </summary>
    public static void RegisterIfAbsent(string name, Func<BackendOptions, IBackend> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (s_lock)
            s_factories.TryAdd(name, factory);
    }

    /// <summary>Names registered so far (after loading the known backend assemblies).</summary>
    public static IReadOnlyList<string> Registered
    {
        get
        {
            EnsureKnownAssembliesLoaded();
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
        EnsureKnownAssembliesLoaded();
        Func<BackendOptions, IBackend>? factory;
        lock (s_lock)
            s_factories.TryGetValue(name, out factory);
        if (factory is null)
        {
            string known = string.Join(", ", BackendNames.All);
            throw BackendNames.All.Contains(name)
                ? new BackendUnavailableException(name, "it is not built into this program")
                : new BackendUnavailableException(name, $"unknown backend name (known: {known}, {Auto})");
        }
        return factory(options);
    }

    // FastConv.Cpu references this assembly, so this one cannot reference it; load it by name and run its
    // module initializer, which registers "reference" and "cpu".
    [DynamicDependency("Register", "FastConv.Cpu.CpuBackendRegistration", "FastConv.Cpu")]
    private static void EnsureKnownAssembliesLoaded()
    {
        if (Volatile.Read(ref s_loadedKnown))
            return;
        foreach (string assemblyName in (string[])["FastConv.Cpu"])
        {
            try
            {
                Assembly assembly = Assembly.Load(new AssemblyName(assemblyName));
                RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
            }
            catch (FileNotFoundException)
            {
                // Not shipped with this program: its names stay unregistered and Create says so.
            }
        }
        Volatile.Write(ref s_loadedKnown, true);
    }
}
