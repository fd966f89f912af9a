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
