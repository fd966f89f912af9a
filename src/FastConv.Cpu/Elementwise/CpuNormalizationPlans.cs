using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Graphs.Ops;

namespace FastConv.Cpu.Elementwise;

/// <summary>
/// LayerNormalization, InstanceNormalization and GroupNormalization on the <c>cpu</c> backend, one plan: the tensor is
/// rows of m contiguous elements (LayerNorm: the normalized trailing axes; InstanceNorm: one (n, c) plane;
/// GroupNorm: one (n, group) block of C/G planes). Per row, the mean and the biased variance by two vector passes
/// (<see cref="RowKernels"/>, float sums), <c>1/√(σ² + ε)</c> in double, then <c>(x − μ)·inv·scale + bias</c> in one
/// more pass — with scale and bias as arrays over the row (LayerNorm, broadcast at plan time) or one value per segment
/// of the row (a channel's plane). Rows are split across the pool when large. Allocates nothing.
/// </summary>
internal sealed class CpuNormalizationPlan : IUnaryPlan, IParallelJob
{
    private readonly string _op;
    private readonly CpuContext _context;
    private readonly int _rows, _m, _segments, _channels, _chunks;
    private readonly float _epsilon;
    private readonly float[] _scale, _bias;
    private readonly bool _perElement;
    private Tensor? _x, _y;

    private CpuNormalizationPlan(string op, TensorShape x, int m, int segments, int channels, float epsilon, float[] scale, float[] bias, bool perElement, CpuContext context)
    {
        _op = op;
        OutputShape = x;
        _context = context;
        _m = m;
        _rows = m == 0 ? 0 : x.ElementCount / m;
        _segments = segments;
        _channels = channels;
        _epsilon = epsilon;
        _scale = scale;
        _bias = bias;
        _perElement = perElement;
        _chunks = ElementwiseThreading.Chunks(x.ElementCount, _rows, context.Pool);
        Algorithm = $"{op.ToLowerInvariant()}-rows-{ElementwiseThreading.LevelName(context.Simd)}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 4L * (_scale.Length + _bias.Length);
    public TensorShape OutputShape { get; }

    public static CpuNormalizationPlan Layer(TensorShape x, int axis, float epsilon, Tensor scale, Tensor? bias, CpuContext context)
    {
        int a = x.NormalizeAxis(axis, "LayerNormalization");
        var normalized = new TensorShape(x.Dims[a..]);
        float[] s = Expand(scale, normalized, "Scale"), b = bias is null ? new float[normalized.ElementCount] : Expand(bias, normalized, "B");
        return new("LayerNormalization", x, normalized.ElementCount, 1, 1, epsilon, s, b, true, context);
    }

    public static CpuNormalizationPlan Instance(TensorShape x, float epsilon, Tensor scale, Tensor bias, CpuContext context)
    {
        Check(x, scale, bias, "InstanceNormalization");
        int c = x[1];
        return new("InstanceNormalization", x, x[0] * c == 0 ? 0 : x.ElementCount / (x[0] * c), 1, c, epsilon, scale.ToArray(), bias.ToArray(), false, context);
    }

    public static CpuNormalizationPlan Group(TensorShape x, int groups, float epsilon, Tensor scale, Tensor bias, CpuContext context)
    {
        Check(x, scale, bias, "GroupNormalization");
        int c = x[1];
        if (groups < 1 || c % groups != 0)
        {
            throw new InvalidHyperparameterException($"GroupNormalization: {groups} groups must divide the {c} channels of input {x}.");
        }
        return new("GroupNormalization", x, x[0] * groups == 0 ? 0 : x.ElementCount / (x[0] * groups), c / groups, c, epsilon, scale.ToArray(), bias.ToArray(), false, context);
    }

    private static void Check(TensorShape x, Tensor scale, Tensor bias, string op)
    {
        if (x.Rank < 3)
        {
            throw new InvalidShapeException($"{op}: input must be N×C×D1×… (rank ≥ 3), got {x}.");
        }
        Reference.RequireShape(scale, TensorShape.Of(x[1]), "scale", op, x);
        Reference.RequireShape(bias, TensorShape.Of(x[1]), "bias", op, x);
    }

    private static float[] Expand(Tensor t, TensorShape to, string what)
    {
        Broadcast.RequireUnidirectional(t.Shape, to, what, "LayerNormalization");
        int[] strides = Broadcast.Strides(t.Shape, to);
        var result = new float[to.ElementCount];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = t.Span[Broadcast.Offset(i, to, strides)];
        }
        return result;
    }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, OutputShape, "input", _op, OutputShape);
        Reference.RequireShape(y, OutputShape, "output", _op, OutputShape);
        if (_rows == 0)
        {
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

    public void Run(int chunk)
    {
        int first = (int)((long)chunk * _rows / _chunks), end = (int)((long)(chunk + 1) * _rows / _chunks);
        SimdLevel level = _context.Simd;
        ref float x0 = ref MemoryMarshal.GetReference(_x!.Span);
        ref float y0 = ref MemoryMarshal.GetReference(_y!.Span);
        ref float s0 = ref MemoryMarshal.GetArrayDataReference(_scale);
        ref float b0 = ref MemoryMarshal.GetArrayDataReference(_bias);
        int segment = _m / _segments;
        for (int row = first; row < end; row++)
        {
            ref float x = ref Unsafe.Add(ref x0, (nint)row * _m);
            ref float y = ref Unsafe.Add(ref y0, (nint)row * _m);
            float mean = RowKernels.Sum(level, ref x, _m) / _m;
            float var = RowKernels.SquaredDeviations(level, ref x, _m, mean) / _m;
            float inv = (float)(1 / Math.Sqrt((double)var + _epsilon));
            if (_perElement)
            {
                RowKernels.Normalize(level, ref x, ref y, _m, mean, inv, ref s0, ref b0, true);
                continue;
            }
            for (int k = 0; k < _segments; k++)
            {
                int c = (int)(((long)row * _segments + k) % _channels);
                RowKernels.Normalize(level, ref Unsafe.Add(ref x, k * segment), ref Unsafe.Add(ref y, k * segment), segment, mean, inv,
                    ref Unsafe.Add(ref s0, c), ref Unsafe.Add(ref b0, c), false);
            }
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// ReduceSum, ReduceMean, ReduceMax and ReduceMin on the <c>cpu</c> backend. At plan time axes of extent 1 are dropped
/// and neighbours of the same kind merged; when the reduced axes then form one block the tensor is
/// outer × R × inner: inner = 1 reduces contiguous rows (vector accumulators), otherwise whole inner rows are combined
/// with vector adds/max/min into the output row. Any other pattern first moves the reduced axes last into a scratch
/// buffer (<see cref="StridedCopy"/>, sized at plan time) and reduces rows. The mean divides the sum by the count.
/// Outer slices are split across the pool when large. Allocates nothing.
/// </summary>
internal sealed class CpuReducePlan : IUnaryPlan, IParallelJob
{
    private readonly ReduceKind _kind;
    private readonly string _name;
    private readonly TensorShape _input;
    private readonly CpuContext _context;
    private readonly int _outer, _r, _inner, _chunks;
    private readonly StridedCopy? _gather;
    private readonly Tensor? _scratch;
    private Tensor? _x, _y;

    public CpuReducePlan(ReduceKind kind, TensorShape x, IReadOnlyList<int> axes, bool keepDims, CpuContext context)
    {
        _kind = kind;
        _name = "Reduce" + kind;
        _input = x;
        _context = context;
        OutputShape = ReduceMeanOp.OutputShape(x, axes, keepDims);
        // Groups of (extent, reduced?) from the outermost axis, size-1 axes dropped, neighbours of one kind merged.
        var groups = new List<(int Extent, bool Reduced)>();
        for (int d = 0; d < x.Rank; d++)
        {
            if (x[d] == 1)
            {
                continue;
            }
            bool red = axes.Contains(d);
            if (groups.Count > 0 && groups[^1].Reduced == red)
            {
                groups[^1] = (groups[^1].Extent * x[d], red);
            }
            else
            {
                groups.Add((x[d], red));
            }
        }
        int reducedGroups = groups.Count(g => g.Reduced);
        if (reducedGroups <= 1)
        {
            int at = groups.FindIndex(g => g.Reduced);
            _r = at < 0 ? 1 : groups[at].Extent;
            _outer = at < 0 ? x.ElementCount : groups.Take(at).Aggregate(1, (p, g) => p * g.Extent);
            _inner = at < 0 ? 1 : groups.Skip(at + 1).Aggregate(1, (p, g) => p * g.Extent);
            if (axes.Any(a => x[a] == 0))
            {
                _r = 0;
                _outer = OutputShape.ElementCount;
                _inner = 1;
            }
        }
        else
        {
            // Kept axes first, reduced axes last: a transpose into scratch, then rows.
            int[] perm = [.. Enumerable.Range(0, x.Rank).Where(d => !axes.Contains(d)), .. axes];
            int[] xs = x.Strides();
            _gather = new StridedCopy([.. perm.Select(p => x[p])], [.. perm.Select(p => xs[p])], 0, context.Pool);
            _scratch = Tensor.Allocate(x);
            _r = axes.Aggregate(1, (p, a) => p * x[a]);
            _outer = x.ElementCount / _r;
            _inner = 1;
        }
        _chunks = ElementwiseThreading.Chunks(x.ElementCount, _outer, context.Pool);
        Algorithm = $"reduce{kind.ToString().ToLowerInvariant()}-{(_gather is not null ? "transposed-rows" : _inner == 1 ? "rows" : "columns")}-{ElementwiseThreading.LevelName(context.Simd)}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 4L * (_scratch?.Length ?? 0);
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, _input, "input", _name, OutputShape);
        Reference.RequireShape(y, OutputShape, "output", _name, OutputShape);
        if (OutputShape.ElementCount == 0)
        {
            return;
        }
        if (_gather is not null)
        {
            _gather.Execute(x, _scratch!);
            _x = _scratch;
        }
        else
        {
            _x = x;
        }
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

    public void Run(int chunk)
    {
        int first = (int)((long)chunk * _outer / _chunks), end = (int)((long)(chunk + 1) * _outer / _chunks);
        SimdLevel level = _context.Simd;
        ref float x0 = ref MemoryMarshal.GetReference(_x!.Span);
        ref float y0 = ref MemoryMarshal.GetReference(_y!.Span);
        int op = _kind switch { ReduceKind.Max => 1, ReduceKind.Min => 2, _ => 0 };
        for (int o = first; o < end; o++)
        {
            ref float y = ref Unsafe.Add(ref y0, (nint)o * _inner);
            if (_r == 0)
            {
                MemoryMarshal.CreateSpan(ref y, _inner).Fill(_kind == ReduceKind.Mean ? float.NaN : 0f);
                continue;
            }
            ref float x = ref Unsafe.Add(ref x0, (nint)o * _r * _inner);
            if (_inner == 1)
            {
                y = op == 0 ? RowKernels.Sum(level, ref x, _r) : RowKernels.Extreme(level, ref x, _r, op == 1);
                if (_kind == ReduceKind.Mean)
                {
                    y /= _r;
                }
                continue;
            }
            MemoryMarshal.CreateReadOnlySpan(ref x, _inner).CopyTo(MemoryMarshal.CreateSpan(ref y, _inner));
            for (int r = 1; r < _r; r++)
            {
                RowKernels.Combine(level, ref y, ref Unsafe.Add(ref x, (nint)r * _inner), _inner, op);
            }
            if (_kind == ReduceKind.Mean)
            {
                RowKernels.Divide(level, ref y, _inner, _r);
            }
        }
    }

    public void Dispose()
    {
    }
}
