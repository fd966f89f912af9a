using FastConv.Backends;

namespace FastConv.Sessions;

/// <summary>
/// Where one run of a session reads its inputs and writes its outputs, ONNX Runtime's IoBinding: host tensors, the
/// session's page-locked buffers (<see cref="FastConvSession.AllocatePinned"/>: copied to and from the device directly,
/// with no staging through the session's arena) or device buffers (<see cref="FastConvSession.AllocateDevice"/>: the
/// run moves nothing across the bus for them). Bind every input and the outputs wanted; reuse the binding across runs
/// — a run allocates nothing.
/// </summary>
public sealed class IoBinding
{
    internal readonly Dictionary<string, Bound> Inputs = new(StringComparer.Ordinal);
    internal readonly Dictionary<string, Bound> Outputs = new(StringComparer.Ordinal);

    public IoBinding BindInput(string name, Tensor tensor) => Set(Inputs, name, Host(tensor));

    public IoBinding BindInput(string name, PinnedBuffer buffer) => Set(Inputs, name, Pinned(buffer));

    public IoBinding BindInput(string name, DeviceBuffer buffer) => Set(Inputs, name, OnDevice(buffer));

    public IoBinding BindOutput(string name, Tensor tensor) => Set(Outputs, name, Host(tensor));

    public IoBinding BindOutput(string name, PinnedBuffer buffer) => Set(Outputs, name, Pinned(buffer));

    public IoBinding BindOutput(string name, DeviceBuffer buffer) => Set(Outputs, name, OnDevice(buffer));

    private static Bound Host(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new Bound(tensor.Shape, tensor, 0, false, null);
    }

    private static Bound Pinned(PinnedBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return new Bound(buffer.Shape, buffer.Tensor, buffer.Address, false, buffer);
    }

    private static Bound OnDevice(DeviceBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return new Bound(buffer.Shape, null, buffer.Tensor.Address, true, buffer);
    }

    private IoBinding Set(Dictionary<string, Bound> map, string name, Bound bound)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        map[name] = bound;
        return this;
    }

    /// <summary>
    /// One binding: the shape, the host tensor (null on the device), the address the copy may use directly (0: none)
    /// and the buffer that owns that address (checked before each run: a freed buffer is never read or written).
    /// </summary>
    internal readonly record struct Bound(TensorShape Shape, Tensor? Host, ulong Address, bool OnDevice, IBoundBuffer? Owner)
    {
        public void ThrowIfFreed(string what, string name)
        {
            if (Owner is { IsDisposed: true })
            {
                throw new ObjectDisposedException(Owner.GetType().Name, $"{what} '{name}' is bound to a buffer that was disposed; bind a live one.");
            }
        }
    }
}

/// <summary>A buffer an <see cref="IoBinding"/> can point at.</summary>
public interface IBoundBuffer : IDisposable
{
    /// <summary>Whether <see cref="IDisposable.Dispose"/> has freed it.</summary>
    bool IsDisposed { get; }
}

/// <summary>Page-locked host memory from a session's device backend, as a tensor; free it with <see cref="Dispose"/> after its last run.</summary>
public sealed class PinnedBuffer : IBoundBuffer
{
    private readonly IDeviceBuffer _buffer;
    private int _disposed;

    internal PinnedBuffer(IDeviceBuffer buffer, TensorShape shape)
    {
        _buffer = buffer;
        Shape = shape;
        Tensor = Tensor.Wrap(new UnmanagedFloatMemory((nint)buffer.Address, shape.ElementCount).Memory, shape);
    }

    public TensorShape Shape { get; }

    /// <summary>The memory as a tensor: fill it before a run, read it after.</summary>
    public Tensor Tensor { get; }

    internal ulong Address => _buffer.Address;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _buffer.Dispose();
        }
    }
}

/// <summary>Device memory from a session's device backend, for inputs and outputs that stay on the device.</summary>
public sealed class DeviceBuffer : IBoundBuffer
{
    private readonly IDeviceBuffer _buffer;
    private readonly IDeviceBackend _device;
    private int _disposed;

    internal DeviceBuffer(IDeviceBackend device, IDeviceBuffer buffer, TensorShape shape)
    {
        _device = device;
        _buffer = buffer;
        Tensor = new DeviceTensor(buffer.Address, shape);
    }

    public DeviceTensor Tensor { get; }

    public TensorShape Shape => Tensor.Shape;

    /// <summary>Copies <paramref name="values"/> (one per element) into the buffer and waits.</summary>
    public unsafe void Upload(ReadOnlySpan<float> values)
    {
        Require(values.Length);
        _device.MakeCurrent();
        fixed (float* p = values)
        {
            _device.CopyToDevice(Tensor.Address, (nint)p, Tensor.Bytes, 0);
            _device.Synchronize(0);
        }
    }

    /// <summary>Copies the buffer into <paramref name="values"/> and waits.</summary>
    public unsafe void Download(Span<float> values)
    {
        Require(values.Length);
        _device.MakeCurrent();
        fixed (float* p = values)
        {
            _device.CopyToHost((nint)p, Tensor.Address, Tensor.Bytes, 0);
            _device.Synchronize(0);
        }
    }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _buffer.Dispose();
        }
    }

    private void Require(int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (length != Shape.ElementCount)
        {
            throw new InvalidShapeException($"device buffer {Shape} holds {Shape.ElementCount} floats; {length} given.");
        }
    }
}
