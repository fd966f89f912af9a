namespace FastConv.Gpu;

/// <summary>
/// The device has no memory left for a request, even after the caching allocator gave back everything it
/// held in reserve. Says how much was asked, what FastConv holds, and what to do.
/// </summary>
public sealed class OutOfDeviceMemoryException : FastConvException
{
    public OutOfDeviceMemoryException(long requestedBytes, string detail, Exception? inner = null)
        : base($"Out of device memory: a request for {Format(requestedBytes)} could not be met ({detail}). " +
               "Lower the batch size, cap the workspace (BackendOptions.WorkspaceLimitBytes), or free other GPU users.", inner)
    {
        RequestedBytes = requestedBytes;
    }

    public long RequestedBytes { get; }

    internal static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB ({bytes} B)",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB ({bytes} B)",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB ({bytes} B)",
        _ => $"{bytes} B",
    };
}

/// <summary>An op or parameter a GPU backend cannot run (e.g. an activation cuDNN has no mode for), with what to use instead.</summary>
public sealed class GpuNotSupportedException : FastConvException
{
    public GpuNotSupportedException(string backend, string what)
        : base($"backend '{backend}' does not support {what}; use the 'cuda' or 'cpu' backend for it.")
    {
        Backend = backend;
    }

    public string Backend { get; }
}
