using System.Buffers;

namespace FastConv;

/// <summary>
/// A dense float32 tensor in row-major order (NCHW for images) over memory that is either
/// caller-owned (<see cref="Wrap"/>), a fresh array (<see cref="Allocate(TensorShape)"/>) or rented from the
/// shared pool (<see cref="Rent"/>, returned on <see cref="Dispose"/>). The tensor never copies
/// caller memory; disposing a wrapped tensor leaves the caller's memory alone.
/// </summary>
public sealed class Tensor : IDisposable
{
    private float[]? _rented;
    private Memory<float> _memory;
    private bool _disposed;

    private Tensor(TensorShape shape, Memory<float> memory, float[]? rented)
    {
        Shape = shape;
        _memory = memory;
        _rented = rented;
    }

    public TensorShape Shape { get; }

    /// <summary>The elements; throws <see cref="ObjectDisposedException"/> once a rented tensor has given its buffer back.</summary>
    public Memory<float> Memory
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _memory;
        }
    }

    public Span<float> Span => Memory.Span;
    public int Rank => Shape.Rank;
    public int Length => Shape.ElementCount;

    /// <summary>A zero-filled tensor on a new managed array.</summary>
    public static Tensor Allocate(TensorShape shape) => new(shape, new float[shape.ElementCount], null);

    /// <inheritdoc cref="Allocate(TensorShape)"/>
    public static Tensor Allocate(params ReadOnlySpan<int> dims) => Allocate(new TensorShape(dims));

    /// <summary>A tensor on memory rented from <see cref="ArrayPool{T}.Shared"/>; contents are undefined.</summary>
    public static Tensor Rent(TensorShape shape)
    {
        float[] array = ArrayPool<float>.Shared.Rent(shape.ElementCount);
        return new Tensor(shape, array.AsMemory(0, shape.ElementCount), array);
    }

    /// <summary>A tensor over caller-owned memory, which must hold exactly the shape's element count.</summary>
    public static Tensor Wrap(Memory<float> memory, TensorShape shape)
    {
        if (memory.Length != shape.ElementCount)
        {
            throw new InvalidShapeException($"Buffer of {memory.Length} floats cannot hold a tensor of shape {shape} ({shape.ElementCount} elements).");
        }
        return new Tensor(shape, memory, null);
    }

    /// <summary>Wraps <paramref name="data"/> (no copy) with the given dimensions.</summary>
    public static Tensor FromArray(float[] data, params ReadOnlySpan<int> dims) => Wrap(data, new TensorShape(dims));

    /// <summary>A view of the same memory with another shape of the same element count.</summary>
    public Tensor Reshape(TensorShape shape)
    {
        if (shape.ElementCount != Length)
        {
            throw new InvalidShapeException($"Cannot view shape {Shape} ({Length} elements) as {shape} ({shape.ElementCount} elements).");
        }
        return new Tensor(shape, Memory, null);
    }

    /// <summary>Flat index of element (n, c, h, w) of a rank-4 tensor.</summary>
    public int Index(int n, int c, int h, int w) => ((n * Shape[1] + c) * Shape[2] + h) * Shape[3] + w;

    public float[] ToArray() => Span.ToArray();

    /// <summary>
    /// Returns a rented buffer to the pool (once); the tensor is unusable afterwards. Views made by
    /// <see cref="Reshape"/> share the buffer, so they must not outlive the tensor they view.
    /// Wrapped and allocated tensors hold nothing to return and stay usable.
    /// </summary>
    public void Dispose()
    {
        float[]? rented = Interlocked.Exchange(ref _rented, null);
        if (rented is not null)
        {
            _disposed = true;
            _memory = Memory<float>.Empty;
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    public override string ToString() => $"Tensor{Shape}";
}
