using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu.Elementwise;

/// <summary>
/// Add, Sub, Mul, Div, Pow with NumPy broadcasting on the <c>cpu</c> backend. At plan time the output's axes
/// are collapsed wherever both inputs stay contiguous (or both stay broadcast), leaving an outer loop over
/// rows and an inner run in which each operand is either contiguous or one repeated value — so the common
/// cases (same shapes; a per-channel [1,C,1,1] operand; a scalar) run as straight vector loops. Each element
/// is one IEEE operation, as in the reference, so results are identical. A fused activation (Add + ReLU) is
/// applied to each row while it is in L1. Execute allocates nothing.
/// </summary>
internal sealed class CpuBinaryPlan : IBinaryPlan
{
    private readonly BinaryOpKind _op;
    private readonly Activation _activation;
    private readonly SimdLevel _level;
    private readonly TensorShape _a, _b;
    private readonly int[] _dims, _sa, _sb, _index;
    private readonly int _inner, _innerA, _innerB;

    public CpuBinaryPlan(BinaryOpKind op, TensorShape a, TensorShape b, Activation activation = default, SimdLevel level = SimdLevel.Scalar)
    {
        _op = op;
        _activation = activation;
        _level = level;
        _a = a;
        _b = b;
        OutputShape = Broadcast.BroadcastShape(a, b, op.ToString());
        int[] sa = Broadcast.Strides(a, OutputShape), sb = Broadcast.Strides(b, OutputShape);
        // Collapse from the innermost axis outwards: axis d joins the group inside it when, for both operands,
        // stepping d equals stepping over the whole group (stride[d] = stride[group]·extent[group]).
        var dims = new List<int>();
        var da = new List<int>();
        var db = new List<int>();
        for (int d = OutputShape.Rank - 1; d >= 0; d--)
        {
            int n = OutputShape[d];
            if (n == 1)
            {
                continue;
            }
            if (dims.Count > 0 && sa[d] == da[^1] * dims[^1] && sb[d] == db[^1] * dims[^1])
            {
                dims[^1] *= n;
                continue;
            }
            dims.Add(n);
            da.Add(sa[d]);
            db.Add(sb[d]);
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            da.Add(0);
            db.Add(0);
        }
        dims.Reverse();
        da.Reverse();
        db.Reverse();
        _inner = dims[^1];
        _innerA = da[^1];
        _innerB = db[^1];
        _dims = [.. dims.SkipLast(1)];
        _sa = [.. da.SkipLast(1)];
        _sb = [.. db.SkipLast(1)];
        _index = new int[_dims.Length];
        Algorithm = $"{op.ToString().ToLowerInvariant()}{(activation.Kind == ActivationKind.None ? "" : "+" + activation.ToString().ToLowerInvariant())}-vector{Vector<float>.Count * 32}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor a, Tensor b, Tensor y)
    {
        Reference.RequireShape(a, _a, "input A", _op.ToString(), OutputShape);
        Reference.RequireShape(b, _b, "input B", _op.ToString(), OutputShape);
        Reference.RequireShape(y, OutputShape, "output", _op.ToString(), OutputShape);
        ReadOnlySpan<float> aS = a.Span, bS = b.Span;
        Span<float> ys = y.Span;
        Array.Clear(_index);
        if (_inner < Vector<float>.Count && _activation.Kind == ActivationKind.None && ys.Length > 0)
        {
            // Rows shorter than a vector (a YOLO decode's [..,2] against per-anchor [1,3,1,1,2]): the per-row set-up
            // of the vector path would cost more than the row, so one plain loop with the op chosen once.
            ref float ra = ref MemoryMarshal.GetReference(aS), rb = ref MemoryMarshal.GetReference(bS), ry = ref MemoryMarshal.GetReference(ys);
            switch (_op)
            {
                case BinaryOpKind.Add: ShortRows<AddOp>(ref ra, ref rb, ref ry, ys.Length); break;
                case BinaryOpKind.Sub: ShortRows<SubOp>(ref ra, ref rb, ref ry, ys.Length); break;
                case BinaryOpKind.Mul: ShortRows<MulOp>(ref ra, ref rb, ref ry, ys.Length); break;
                case BinaryOpKind.Div: ShortRows<DivOp>(ref ra, ref rb, ref ry, ys.Length); break;
                default: ShortRows<PowOp>(ref ra, ref rb, ref ry, ys.Length); break;
            }
            return;
        }
        int offA = 0, offB = 0;
        for (int yo = 0; yo < ys.Length; yo += _inner)
        {
            Span<float> row = ys.Slice(yo, _inner);
            Row(aS[offA..], bS[offB..], row);
            if (_activation.Kind != ActivationKind.None)
            {
                Kernels.ActivationKernels.Apply(_activation, row, row, _level);
            }
            Advance(ref offA, ref offB);
        }
    }

    /// <summary>Steps the odometer over the outer axes to the next row, updating the operands' offsets incrementally.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Advance(ref int offA, ref int offB)
    {
        for (int d = _dims.Length - 1; d >= 0; d--)
        {
            offA += _sa[d];
            offB += _sb[d];
            if (++_index[d] < _dims[d])
            {
                return;
            }
            offA -= _sa[d] * _dims[d];
            offB -= _sb[d] * _dims[d];
            _index[d] = 0;
        }
    }

    private void Row(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        int n = y.Length, i = 0;
        ref float ra = ref MemoryMarshal.GetReference(a), rb = ref MemoryMarshal.GetReference(b), ry = ref MemoryMarshal.GetReference(y);
        if (_op != BinaryOpKind.Pow)
        {
            var va = new Vector<float>(a[0]);
            var vb = new Vector<float>(b[0]);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> x = _innerA == 1 ? Vector.LoadUnsafe(ref ra, (nuint)i) : va;
                Vector<float> z = _innerB == 1 ? Vector.LoadUnsafe(ref rb, (nuint)i) : vb;
                Apply(x, z).StoreUnsafe(ref ry, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float x = Unsafe.Add(ref ra, i * _innerA), z = Unsafe.Add(ref rb, i * _innerB);
            Unsafe.Add(ref ry, i) = _op switch
            {
                BinaryOpKind.Add => x + z,
                BinaryOpKind.Sub => x - z,
                BinaryOpKind.Mul => x * z,
                BinaryOpKind.Div => x / z,
                _ => MathF.Pow(x, z),
            };
        }
    }

    /// <summary>Every row of <see cref="_inner"/> elements in one loop, the operands' offsets kept by the same odometer (<see cref="Advance"/>).</summary>
    private void ShortRows<TOp>(ref float a, ref float b, ref float y, int length)
        where TOp : struct, IScalarOp
    {
        int inner = _inner, innerA = _innerA, innerB = _innerB, offA = 0, offB = 0;
        for (int yo = 0; yo < length; yo += inner)
        {
            for (int i = 0; i < inner; i++)
            {
                Unsafe.Add(ref y, yo + i) = TOp.Apply(Unsafe.Add(ref a, offA + i * innerA), Unsafe.Add(ref b, offB + i * innerB));
            }
            Advance(ref offA, ref offB);
        }
    }

    private interface IScalarOp
    {
        static abstract float Apply(float x, float z);
    }

    private struct AddOp : IScalarOp { public static float Apply(float x, float z) => x + z; }
    private struct SubOp : IScalarOp { public static float Apply(float x, float z) => x - z; }
    private struct MulOp : IScalarOp { public static float Apply(float x, float z) => x * z; }
    private struct DivOp : IScalarOp { public static float Apply(float x, float z) => x / z; }
    private struct PowOp : IScalarOp { public static float Apply(float x, float z) => MathF.Pow(x, z); }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector<float> Apply(Vector<float> x, Vector<float> z) => _op switch
    {
        BinaryOpKind.Add => x + z,
        BinaryOpKind.Sub => x - z,
        BinaryOpKind.Mul => x * z,
        _ => x / z,
    };

    public void Dispose()
    {
    }
}

/// <summary>Concat on the <c>cpu</c> backend: per outer index, each input's contiguous block is copied into place. Allocates nothing.</summary>
internal sealed class CpuConcatPlan : INaryPlan
{
    private readonly TensorShape[] _inputs;
    private readonly int[] _blocks;
    private readonly int _outer, _outBlock;

    public CpuConcatPlan(IReadOnlyList<TensorShape> inputs, int axis)
    {
        OutputShape = Reference.ConcatOutputShape(inputs, axis);
        int a = axis < 0 ? axis + OutputShape.Rank : axis;
        int inner = 1;
        for (int d = a + 1; d < OutputShape.Rank; d++)
        {
            inner *= OutputShape[d];
        }
        _outer = 1;
        for (int d = 0; d < a; d++)
        {
            _outer *= OutputShape[d];
        }
        _inputs = [.. inputs];
        _blocks = [.. inputs.Select(s => s[a] * inner)];
        _outBlock = OutputShape[a] * inner;
    }

    public string Algorithm => "concat-copy";
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        if (inputs.Length != _inputs.Length)
        {
            throw new InvalidShapeException($"Concat: planned for {_inputs.Length} inputs, got {inputs.Length}.");
        }
        Reference.RequireShape(y, OutputShape, "output", "Concat", OutputShape);
        Span<float> ys = y.Span;
        int offset = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            Reference.RequireShape(inputs[i], _inputs[i], "input", "Concat", OutputShape);
            ReadOnlySpan<float> xs = inputs[i].Span;
            int block = _blocks[i];
            for (int o = 0; o < _outer; o++)
            {
                StridedCopy.CopyRow(xs.Slice(o * block, block), ys.Slice(o * _outBlock + offset, block));
            }
            offset += block;
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Inference BatchNormalization on the <c>cpu</c> backend: per channel <c>y = x·s + t</c> with
/// <c>s = γ/√(σ²+ε)</c>, <c>t = β − μ·s</c> computed in double at plan time and rounded to float (within an ulp or
/// two of the reference, which evaluates the whole formula in double). Allocates nothing.
/// </summary>
internal sealed class CpuBatchNormPlan : IUnaryPlan
{
    private readonly float[] _scale, _shift;
    private readonly int _n, _c, _inner;

    public CpuBatchNormPlan(TensorShape x, Tensor scale, Tensor bias, Tensor mean, Tensor var, float epsilon)
    {
        if (x.Rank < 2)
        {
            throw new InvalidShapeException($"BatchNormalization: input must have rank >= 2, got {x}.");
        }
        OutputShape = x;
        _n = x[0];
        _c = x[1];
        _inner = _n * _c == 0 ? 0 : x.ElementCount / (_n * _c);
        foreach (Tensor t in new[] { scale, bias, mean, var })
        {
            Reference.RequireShape(t, TensorShape.Of(_c), "per-channel parameter", "BatchNormalization", x);
        }
        _scale = new float[_c];
        _shift = new float[_c];
        for (int c = 0; c < _c; c++)
        {
            double s = scale.Span[c] / Math.Sqrt((double)var.Span[c] + epsilon);
            _scale[c] = (float)s;
            _shift[c] = (float)(bias.Span[c] - mean.Span[c] * s);
        }
    }

    public string Algorithm => "batchnorm-scale-shift";
    public long WorkspaceBytes => 8L * _c;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, OutputShape, "input", "BatchNormalization", OutputShape);
        Reference.RequireShape(y, OutputShape, "output", "BatchNormalization", OutputShape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int n = 0; n < _n; n++)
        {
            for (int c = 0; c < _c; c++)
            {
                int start = (n * _c + c) * _inner;
                ScaleShift(xs.Slice(start, _inner), ys.Slice(start, _inner), _scale[c], _shift[c]);
            }
        }
    }

    private static void ScaleShift(ReadOnlySpan<float> x, Span<float> y, float s, float t)
    {
        var vs = new Vector<float>(s);
        var vt = new Vector<float>(t);
        int i = 0;
        for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            (new Vector<float>(x[i..]) * vs + vt).CopyTo(y[i..]);
        }
        for (; i < x.Length; i++)
        {
            y[i] = x[i] * s + t;
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>Sqrt on the <c>cpu</c> backend: vector square roots (correctly rounded, as the reference). Allocates nothing.</summary>
internal sealed class CpuSqrtPlan(TensorShape shape) : IUnaryPlan
{
    public string Algorithm => "sqrt-vector";
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape => shape;

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, shape, "input", "Sqrt", shape);
        Reference.RequireShape(y, shape, "output", "Sqrt", shape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        int i = 0;
        for (; i <= xs.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            Vector.SquareRoot(new Vector<float>(xs[i..])).CopyTo(ys[i..]);
        }
        for (; i < xs.Length; i++)
        {
            ys[i] = MathF.Sqrt(xs[i]);
        }
    }

    public void Dispose()
    {
    }
}
