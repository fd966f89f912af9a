using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;

namespace FastConv.Cpu.Elementwise;

/// <summary>
/// An activation on the <c>cpu</c> backend: <see cref="ActivationKernels"/> over the whole tensor, split into
/// 16-float-aligned chunks across the pool when it is large (two cores read and write memory faster than one).
/// Execute may run in place (x = y).
/// </summary>
internal sealed class CpuActivationPlan : IUnaryPlan, IParallelJob
{
    /// <summary>Work is cut in units of this many floats (64 KB: large enough that a hand-out costs nothing).</summary>
    private const int Unit = 1 << 14;

    private readonly Activation _activation;
    private readonly CpuContext _context;
    private readonly int _length;
    private readonly int _chunks;
    private Tensor? _x;
    private Tensor? _y;

    public CpuActivationPlan(Activation activation, TensorShape shape, CpuContext context)
    {
        if (!Enum.IsDefined(activation.Kind))
        {
            throw new InvalidHyperparameterException($"Activation: unknown kind {activation.Kind}.");
        }
        _activation = activation;
        _context = context;
        OutputShape = shape;
        _length = shape.ElementCount;
        _chunks = ElementwiseThreading.Chunks(_length, _length / Unit, context.Pool);
        Algorithm = $"{activation.ToString().ToLowerInvariant()}-{ElementwiseThreading.LevelName(context.Simd)}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, OutputShape, "input", "Activation", _activation);
        Reference.RequireShape(y, OutputShape, "output", "Activation", _activation);
        if (_chunks == 1)
        {
            ActivationKernels.Apply(_activation, x.Span, y.Span, _context.Simd);
            return;
        }
        _x = x;
        _y = y;
        try
        {
            _context.Pool.For(_chunks, this);
        }
        finally
        {
            _x = null;
            _y = null;
        }
    }

    public void Run(int index)
    {
        int start = (int)((long)index * _length / _chunks) & ~15, end = index == _chunks - 1 ? _length : (int)((long)(index + 1) * _length / _chunks) & ~15;
        ActivationKernels.Apply(_activation, _x!.Span[start..end], _y!.Span[start..end], _context.Simd);
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Softmax on the <c>cpu</c> backend (<see cref="SoftmaxKernels"/>): the tensor seen as outer × len × inner
/// around the axis; the last axis takes contiguous rows, any other axis vectors across the inner dimension
/// (remaining inner columns one by one). Outer slices are split across the pool when the tensor is large.
/// </summary>
internal sealed class CpuSoftmaxPlan : IUnaryPlan, IParallelJob
{
    private readonly CpuContext _context;
    private readonly int _axis;
    private readonly int _outer;
    private readonly int _len;
    private readonly int _inner;
    private readonly int _chunks;
    private Tensor? _x;
    private Tensor? _y;

    public CpuSoftmaxPlan(TensorShape shape, int axis, CpuContext context)
    {
        int ax = shape.NormalizeAxis(axis, "Softmax");
        _axis = axis;
        _context = context;
        OutputShape = shape;
        _len = shape[ax];
        _outer = 1;
        _inner = 1;
        for (int d = 0; d < ax; d++)
        {
            _outer *= shape[d];
        }
        for (int d = ax + 1; d < shape.Rank; d++)
        {
            _inner *= shape[d];
        }
        _chunks = ElementwiseThreading.Chunks(shape.ElementCount, _outer, context.Pool);
        Algorithm = $"softmax-{(_inner == 1 ? "rows" : "columns")}-{ElementwiseThreading.LevelName(context.Simd)}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, OutputShape, "input", "Softmax", _axis);
        Reference.RequireShape(y, OutputShape, "output", "Softmax", _axis);
        if (OutputShape.ElementCount == 0)
        {
            return;
        }
        _x = x;
        _y = y;
        try
        {
            // WorkerPool.For runs a single chunk inline on the calling thread.
            _context.Pool.For(_chunks, this);
        }
        finally
        {
            _x = null;
            _y = null;
        }
    }

    public void Run(int index)
    {
        int first = (int)((long)index * _outer / _chunks), end = (int)((long)(index + 1) * _outer / _chunks);
        ref float x = ref MemoryMarshal.GetReference(_x!.Span);
        ref float y = ref MemoryMarshal.GetReference(_y!.Span);
        long slab = (long)_len * _inner;
        for (int o = first; o < end; o++)
        {
            ref float xo = ref Unsafe.Add(ref x, (nint)(o * slab));
            ref float yo = ref Unsafe.Add(ref y, (nint)(o * slab));
            if (_inner == 1)
            {
                Row(ref xo, ref yo);
            }
            else
            {
                Columns(ref xo, ref yo);
            }
        }
    }

    private void Row(ref float x, ref float y)
    {
        SimdLevel level = _context.Simd;
        if (level >= SimdLevel.Avx512 && _len >= Float512.Count)
        {
            SoftmaxKernels.Row<Float512>(ref x, ref y, _len);
        }
        else if (level >= SimdLevel.Avx2 && _len >= Float256.Count)
        {
            SoftmaxKernels.Row<Float256>(ref x, ref y, _len);
        }
        else if (level >= SimdLevel.Vector128 && _len >= Float128.Count)
        {
            SoftmaxKernels.Row<Float128>(ref x, ref y, _len);
        }
        else
        {
            SoftmaxKernels.Scalar(ref x, ref y, _len, 1);
        }
    }

    private void Columns(ref float x, ref float y)
    {
        SimdLevel level = _context.Simd;
        int c = 0;
        if (level >= SimdLevel.Avx512)
        {
            for (; c + Float512.Count <= _inner; c += Float512.Count)
            {
                SoftmaxKernels.Columns<Float512>(ref Unsafe.Add(ref x, c), ref Unsafe.Add(ref y, c), _len, _inner);
            }
        }
        if (level >= SimdLevel.Avx2)
        {
            for (; c + Float256.Count <= _inner; c += Float256.Count)
            {
                SoftmaxKernels.Columns<Float256>(ref Unsafe.Add(ref x, c), ref Unsafe.Add(ref y, c), _len, _inner);
            }
        }
        if (level >= SimdLevel.Vector128)
        {
            for (; c + Float128.Count <= _inner; c += Float128.Count)
            {
                SoftmaxKernels.Columns<Float128>(ref Unsafe.Add(ref x, c), ref Unsafe.Add(ref y, c), _len, _inner);
            }
        }
        for (; c < _inner; c++)
        {
            SoftmaxKernels.Scalar(ref Unsafe.Add(ref x, c), ref Unsafe.Add(ref y, c), _len, _inner);
        }
    }

    public void Dispose()
    {
    }
}
