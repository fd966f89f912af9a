using FastConv.Backends;

namespace FastConv.Gpu.Backends;

/// <summary>A GPU plan a session drives with device addresses on its stream (no host staging) or, for tests and checks, with host tensors.</summary>
public interface IGpuUnaryPlan : IUnaryPlan, IDeviceUnaryPlan;

/// <summary>A GPU conv plan a session drives with device addresses; the residual address is 0 unless the epilogue adds one.</summary>
public interface IGpuConv2dPlan : IConv2dPlan, IDeviceConv2dPlan;

/// <summary>
/// What every GPU plan shares (the library backends' and our own kernels'): the device, the backend's stream,
/// cuBLAS, constants uploaded once at plan time, and the staging path that lets <c>Execute(Tensor, Tensor)</c>
/// take host tensors: host → pinned buffer → async copy → device op → async copy back → pinned → host. Staging
/// buffers are taken on the first host execution and kept, so later executions allocate nothing; a session that
/// uses <c>ExecuteDevice</c> never takes them.
/// <para>
/// Constants (weights, bias, folded batch-norm) go through page-locked staging buffers with stream-ordered async
/// copies on the backend's stream — the stream their device buffers were allocated on (cuMemAllocAsync) and the
/// plan's own work runs on. A synchronous cuMemcpyHtoD from pageable memory would run on the legacy stream, which
/// a non-blocking stream does not wait for, and may return before its DMA has landed. A constructor ends with
/// <see cref="CompleteUploads"/>, which waits for the copies and returns the staging buffers, so a plan is usable
/// on any stream once built; execution calls it too, as a guard.
/// </para>
/// </summary>
public abstract class GpuPlanBase : IPlan
{
    private DeviceBuffer? _hostX, _hostY, _hostR, _devX, _devY, _devR;
    private readonly List<IDisposable> _owned = [];
    private readonly List<DeviceBuffer> _staging = [];
    private bool _disposed;

    private protected GpuPlanBase(GpuBackendContext context, string algorithm, TensorShape inputShape, TensorShape outputShape)
    {
        Context = context;
        // Plans may be built on any thread: the device's context must be current there for the uploads.
        context.Device.Driver.MakeCurrent();
        Algorithm = algorithm;
        InputShape = inputShape;
        OutputShape = outputShape;
    }

    private protected GpuBackendContext Context { get; }

    public string Algorithm { get; protected set; }
    public TensorShape InputShape { get; }
    public TensorShape OutputShape { get; }

    /// <summary>Device bytes the plan holds beyond its inputs and outputs (weights, workspace).</summary>
    public long WorkspaceBytes { get; protected set; }

    private protected IGpuDriver Driver => Context.Device.Driver;

    /// <summary>Takes a device buffer the plan keeps until it is disposed (counted as workspace).</summary>
    private protected DeviceBuffer Hold(long bytes)
    {
        DeviceBuffer b = Context.Device.Memory.Allocate(bytes, Context.Stream.Handle);
        _owned.Add(b);
        WorkspaceBytes += b.ClassBytes;
        return b;
    }

    /// <summary>Keeps a native object (descriptor, argument block) for the plan's lifetime.</summary>
    private protected T Own<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    /// <summary>
    /// A new held device buffer with a host tensor's floats (weights, bias), copied through pinned staging on the
    /// backend's stream; the copy completes by <see cref="CompleteUploads"/>.
    /// </summary>
    private protected DeviceBuffer Upload(ReadOnlySpan<float> values)
    {
        DeviceBuffer b = Hold((long)Math.Max(1, values.Length) * sizeof(float));
        UploadInto(b.Address, values);
        return b;
    }

    /// <summary>Queues a copy of <paramref name="values"/> to <paramref name="address"/> on the backend's stream through a pinned staging buffer held until <see cref="CompleteUploads"/>.</summary>
    private protected void UploadInto(ulong address, ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
        {
            return;
        }
        long bytes = (long)values.Length * sizeof(float);
        DeviceBuffer pinned = Context.Device.Pinned.Rent(bytes);
        _staging.Add(pinned);
        values.CopyTo(PinnedHostPool.Floats(pinned));
        Driver.CopyHostToDeviceAsync(address, (nint)pinned.Address, bytes, Context.Stream.Handle);
    }

    /// <summary>True while uploads are queued and their staging buffers held (tests).</summary>
    internal bool UploadsPending => _staging.Count > 0;

    /// <summary>
    /// Waits for the uploads queued so far and gives their staging buffers back to the pinned pool (which may hand
    /// them out again at once: returning one before its copy ran would let the next upload overwrite it).
    /// </summary>
    private protected void CompleteUploads()
    {
        if (_staging.Count == 0)
        {
            return;
        }
        Context.Stream.Synchronize();
        foreach (DeviceBuffer b in _staging)
        {
            b.Dispose();
        }
        _staging.Clear();
    }

    /// <summary>Host execution: stage in, run <paramref name="run"/> on the device, stage out, wait.</summary>
    private protected void Staged(Tensor x, Tensor y, Tensor? residual, Action<ulong, ulong, ulong, nint> run)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Driver.MakeCurrent();
        CompleteUploads();
        nint stream = Context.Stream.Handle;
        long xBytes = (long)x.Length * sizeof(float), yBytes = (long)y.Length * sizeof(float);
        // Empty tensors are legal shapes; their buffers still need an address.
        _devX ??= Context.Device.Memory.Allocate(Math.Max(xBytes, sizeof(float)), stream);
        _devY ??= Context.Device.Memory.Allocate(Math.Max(yBytes, sizeof(float)), stream);
        _hostX ??= Context.Device.Pinned.Rent(Math.Max(xBytes, sizeof(float)));
        _hostY ??= Context.Device.Pinned.Rent(Math.Max(yBytes, sizeof(float)));
        x.Span.CopyTo(PinnedHostPool.Floats(_hostX));
        if (xBytes > 0)
        {
            Driver.CopyHostToDeviceAsync(_devX.Address, (nint)_hostX.Address, xBytes, stream);
        }
        ulong r = 0;
        if (residual is not null)
        {
            _devR ??= Context.Device.Memory.Allocate(Math.Max(yBytes, sizeof(float)), stream);
            _hostR ??= Context.Device.Pinned.Rent(Math.Max(yBytes, sizeof(float)));
            residual.Span.CopyTo(PinnedHostPool.Floats(_hostR));
            Driver.CopyHostToDeviceAsync(_devR.Address, (nint)_hostR.Address, yBytes, stream);
            r = _devR.Address;
        }
        run(_devX.Address, _devY.Address, r, stream);
        if (yBytes > 0)
        {
            Driver.CopyDeviceToHostAsync((nint)_hostY.Address, _devY.Address, yBytes, stream);
        }
        Driver.StreamSynchronize(stream);
        PinnedHostPool.Floats(_hostY)[..y.Length].CopyTo(y.Span);
    }

    private protected static void RequireShape(Tensor t, TensorShape expected, string what, string op, string problem)
    {
        ArgumentNullException.ThrowIfNull(t, what);
        if (t.Shape != expected)
        {
            throw new InvalidShapeException($"{op}: {what} has shape {t.Shape}, expected {expected}; {problem}.");
        }
    }

    /// <summary>Frees the plan's device and pinned buffers (after the stream's queued work is done) and its descriptors.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            Context.Stream.Synchronize();
        }
        catch (FastConvException)
        {
            // A dead context must not keep the memory from going back to the caches.
        }
        foreach (DeviceBuffer b in _staging)
        {
            b.Dispose();
        }
        _staging.Clear();
        foreach (IDisposable d in _owned)
        {
            d.Dispose();
        }
        _owned.Clear();
        foreach (DeviceBuffer? b in (DeviceBuffer?[])[_hostX, _hostY, _hostR, _devX, _devY, _devR])
        {
            b?.Dispose();
        }
        GC.SuppressFinalize(this);
    }
}

/// <summary>A unary GPU plan: host Execute stages through pinned memory, device Execute runs in place on the stream.</summary>
public abstract class GpuUnaryPlan : GpuPlanBase, IGpuUnaryPlan
{
    private readonly string _op;
    private readonly Action<ulong, ulong, ulong, nint> _run;

    private protected GpuUnaryPlan(GpuBackendContext context, string op, string algorithm, TensorShape inputShape, TensorShape outputShape)
        : base(context, algorithm, inputShape, outputShape)
    {
        _op = op;
        _run = (x, y, _, s) => Enqueue(x, y, s);
    }

    public void Execute(Tensor x, Tensor y)
    {
        RequireShape(x, InputShape, "input", _op, $"plan {InputShape} -> {OutputShape}");
        RequireShape(y, OutputShape, "output", _op, $"plan {InputShape} -> {OutputShape}");
        Staged(x, y, null, _run);
    }

    public void ExecuteDevice(ulong x, ulong y, nint stream)
    {
        CompleteUploads();
        Enqueue(x, y, stream);
    }

    /// <summary>Queues the op on <paramref name="stream"/> (the plan's constants are on the device).</summary>
    private protected abstract void Enqueue(ulong x, ulong y, nint stream);
}
