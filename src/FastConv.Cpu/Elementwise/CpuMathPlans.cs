using System.Numerics;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;

namespace FastConv.Cpu.Elementwise;

/// <summary>
/// An element-wise operator (<see cref="IUnaryOperator"/>: Erf, Gelu, Mish) over a whole tensor on the <c>cpu</c>
/// backend: <see cref="ActivationKernels"/>' shared loop at the backend's SIMD level, split into 16-float-aligned
/// chunks across the pool when large. Execute may run in place and allocates nothing.
/// </summary>
internal sealed class CpuUnaryOperatorPlan<TOp> : IUnaryPlan, IParallelJob where TOp : struct, IUnaryOperator
{
    private const int Unit = 1 << 13;
    private readonly TOp _op;
    private readonly CpuContext _context;
    private readonly string _name;
    private readonly int _length, _chunks;
    private Tensor? _x, _y;

    public CpuUnaryOperatorPlan(string name, TOp op, TensorShape shape, CpuContext context)
    {
        _name = name;
        _op = op;
        _context = context;
        OutputShape = shape;
        _length = shape.ElementCount;
        _chunks = ElementwiseThreading.Chunks(_length, _length / Unit, context.Pool);
        Algorithm = $"{name.ToLowerInvariant()}-{ElementwiseThreading.LevelName(context.Simd)}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, OutputShape, "input", _name, OutputShape);
        Reference.RequireShape(y, OutputShape, "output", _name, OutputShape);
        if (_chunks == 1)
        {
            ActivationKernels.Run(_op, x.Span, y.Span, _context.Simd);
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
        ActivationKernels.Run(_op, _x!.Span[start..end], _y!.Span[start..end], _context.Simd);
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// PRelu with a constant slope on the <c>cpu</c> backend: the slope's broadcast strides are collapsed at plan time
/// (as <see cref="CpuBinaryPlan"/> does) into rows in which the slope is one value (a per-channel slope over an NCHW
/// plane) or runs along with x; each row is one vector select of x and slope·x. One multiply per element, as the
/// reference: results are equal. Allocates nothing.
/// </summary>
internal sealed class CpuPReluPlan : IUnaryPlan
{
    private readonly float[] _slope;
    private readonly int[] _dims, _strides, _index;
    private readonly int _inner, _innerStride;

    public CpuPReluPlan(TensorShape x, Tensor slope)
    {
        Broadcast.RequireUnidirectional(slope.Shape, x, "slope", "PRelu");
        OutputShape = x;
        _slope = slope.ToArray();
        int[] s = Broadcast.Strides(slope.Shape, x);
        var dims = new List<int>();
        var strides = new List<int>();
        for (int d = x.Rank - 1; d >= 0; d--)
        {
            if (x[d] == 1)
            {
                continue;
            }
            // Merge while both x (always contiguous) and the slope step over the inner group as one.
            if (dims.Count > 0 && s[d] == strides[^1] * dims[^1])
            {
                dims[^1] *= x[d];
                continue;
            }
            dims.Add(x[d]);
            strides.Add(s[d]);
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            strides.Add(0);
        }
        dims.Reverse();
        strides.Reverse();
        _inner = dims[^1];
        _innerStride = strides[^1];
        _dims = [.. dims.SkipLast(1)];
        _strides = [.. strides.SkipLast(1)];
        _index = new int[_dims.Length];
    }

    public string Algorithm => $"prelu-vector{Vector<float>.Count * 32}";
    public long WorkspaceBytes => 4L * _slope.Length;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, OutputShape, "input", "PRelu", OutputShape);
        Reference.RequireShape(y, OutputShape, "output", "PRelu", OutputShape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        Array.Clear(_index);
        int off = 0;
        for (int o = 0; o < ys.Length; o += _inner)
        {
            Row(xs.Slice(o, _inner), ys.Slice(o, _inner), off);
            for (int d = _dims.Length - 1; d >= 0; d--)
            {
                off += _strides[d];
                if (++_index[d] < _dims[d])
                {
                    break;
                }
                off -= _strides[d] * _dims[d];
                _index[d] = 0;
            }
        }
    }

    private void Row(ReadOnlySpan<float> x, Span<float> y, int off)
    {
        int n = x.Length, i = 0;
        ReadOnlySpan<float> s = _slope.AsSpan(off);
        var one = new Vector<float>(s[0]);
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = new Vector<float>(x[i..]);
            Vector<float> k = _innerStride == 0 ? one : new Vector<float>(s[i..]);
            Vector.ConditionalSelect(Vector.LessThan(v, Vector<float>.Zero), k * v, v).CopyTo(y[i..]);
        }
        for (; i < n; i++)
        {
            float v = x[i];
            y[i] = v < 0f ? s[i * _innerStride] * v : v;
        }
    }

    public void Dispose()
    {
    }
}
