namespace FastConv.Backends;

/// <summary>
/// A backend whose plans read and write device memory (<see cref="IBackend.Memory"/> is
/// <see cref="MemorySpace.Device"/>): a session gives it one device arena for the activations, one stream per execution
/// context, a page-locked host arena for what crosses, and runs the graph's Copy nodes through it. So a run moves data
/// across the bus only where the graph says: the inputs up, the outputs down, and around a node that falls back to the
/// host.
/// </summary>
public interface IDeviceBackend : IBackend
{
    /// <summary>Device memory for a session's arena (one buffer, 256-byte aligned; freed on dispose).</summary>
    IDeviceBuffer AllocateArena(long bytes);

    /// <summary>Page-locked host memory for a session's host arena, so its copies to and from the device are asynchronous.</summary>
    IDeviceBuffer AllocateHostArena(long bytes);

    /// <summary>A stream for one execution context: a run queues all its device work on it, and waits on it once.</summary>
    IDeviceStream CreateStream();

    /// <summary>Queues a copy of <paramref name="bytes"/> from host memory to the device on <paramref name="stream"/>.</summary>
    void CopyToDevice(ulong destination, nint source, long bytes, nint stream);

    /// <summary>Queues a copy of <paramref name="bytes"/> from the device to host memory on <paramref name="stream"/>.</summary>
    void CopyToHost(nint destination, ulong source, long bytes, nint stream);

    /// <summary>Queues a copy within device memory on <paramref name="stream"/>.</summary>
    void CopyOnDevice(ulong destination, ulong source, long bytes, nint stream);

    /// <summary>Waits until the work queued on <paramref name="stream"/> has finished.</summary>
    void Synchronize(nint stream);

    /// <summary>Every copy between host and device this backend's driver has made so far, plans' uploads included.</summary>
    TransferCounters Transfers { get; }

    /// <summary>Binds the device to the calling thread (CUDA's current context); a run calls it first, on whatever thread it is.</summary>
    void MakeCurrent();
}

/// <summary>A block of device (or page-locked host) memory: its address, its size; freed on dispose.</summary>
public interface IDeviceBuffer : IDisposable
{
    /// <summary>The device address (for a page-locked host buffer, its host address).</summary>
    ulong Address { get; }
    long Bytes { get; }
}

/// <summary>A stream of device work (CUDA's <c>CUstream</c>).</summary>
public interface IDeviceStream : IDisposable
{
    nint Handle { get; }

    /// <summary>Waits until the work queued so far has finished.</summary>
    void Synchronize();
}

/// <summary>Copies between host and device, counted as the driver made them.</summary>
public readonly record struct TransferCounters(long HostToDevice, long HostToDeviceBytes, long DeviceToHost, long DeviceToHostBytes)
{
    public static TransferCounters operator -(TransferCounters a, TransferCounters b) =>
        new(a.HostToDevice - b.HostToDevice, a.HostToDeviceBytes - b.HostToDeviceBytes, a.DeviceToHost - b.DeviceToHost, a.DeviceToHostBytes - b.DeviceToHostBytes);

    /// <summary><c>H2D 1 (602,112 bytes), D2H 1 (4,000 bytes)</c>.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"H2D {HostToDevice} ({HostToDeviceBytes:N0} bytes), D2H {DeviceToHost} ({DeviceToHostBytes:N0} bytes)");
}

/// <summary>A unary plan of a device backend, run with device addresses of the plan's shapes on a stream.</summary>
public interface IDeviceUnaryPlan
{
    void ExecuteDevice(ulong x, ulong y, nint stream);
}

/// <summary>A conv plan of a device backend, run with device addresses; the residual address is 0 unless the epilogue adds one.</summary>
public interface IDeviceConv2dPlan
{
    void ExecuteDevice(ulong x, ulong y, ulong residual, nint stream);
}

/// <summary>A tensor in a device backend's memory: its address and shape (the caller's own buffer, for IO binding).</summary>
public readonly record struct DeviceTensor(ulong Address, TensorShape Shape)
{
    public long Bytes => (long)Shape.ElementCount * sizeof(float);
}
