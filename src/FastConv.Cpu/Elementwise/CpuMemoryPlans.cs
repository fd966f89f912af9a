using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Graphs.Ops;
using FastConv.Ops;

namespace FastConv.Cpu.Elementwise;

/// <summary>
/// A copy plan over <see cref="StridedCopy"/>: Transpose (strides permuted), Slice (strides times the steps, from
/// the starts), Expand (stride 0 on broadcast axes), and through them Split, Tile, DepthToSpace and SpaceToDepth.
/// </summary>
internal sealed class CpuStridedCopyPlan : IUnaryPlan
{
    private readonly StridedCopy _copy;
    private readonly TensorShape _input;
    private readonly string _op;

    private CpuStridedCopyPlan(string op, TensorShape input, TensorShape output, int[] inStrides, int baseOffset, WorkerPool pool)
    {
        _op = op;
        _input = input;
        OutputShape = output;
        _copy = new StridedCopy(output.Dims, inStrides, baseOffset, pool);
    }

    public string Algorithm => _copy.Algorithm;
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public static CpuStridedCopyPlan Transpose(TensorShape x, IReadOnlyList<int> perm, CpuContext context)
    {
        TensorShape y = Reference.TransposeOutputShape(x, perm);
        int[] xs = x.Strides();
        return new("Transpose", x, y, [.. perm.Select(p => xs[p])], 0, context.Pool);
    }

    public static CpuStridedCopyPlan Slice(TensorShape x, IReadOnlyList<int> starts, IReadOnlyList<int> steps, TensorShape y, CpuContext context)
    {
        if (starts.Count != x.Rank || steps.Count != x.Rank || y.Rank != x.Rank)
        {
            throw new InvalidShapeException($"Slice: input {x}, output {y}, starts and steps must have the same rank.");
        }
        int[] xs = x.Strides();
        int offset = 0;
        for (int d = 0; d < x.Rank; d++)
        {
            long last = starts[d] + (long)(y[d] - 1) * steps[d];
            if (y[d] > 0 && (steps[d] == 0 || starts[d] < 0 || starts[d] >= x[d] || last < 0 || last >= x[d]))
            {
                throw new InvalidHyperparameterException($"Slice: axis {d} reads {starts[d]} to {last} outside input {x}; output {y}.");
            }
            offset += y.ElementCount == 0 ? 0 : starts[d] * xs[d];
        }
        return new("Slice", x, y, [.. Enumerable.Range(0, x.Rank).Select(d => xs[d] * steps[d])], offset, context.Pool);
    }

    public static CpuStridedCopyPlan Expand(TensorShape x, TensorShape y, CpuContext context)
    {
        Broadcast.RequireUnidirectional(x, y, "input", "Expand");
        return new("Expand", x, y, Broadcast.Strides(x, y), 0, context.Pool);
    }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, _input, "input", _op, OutputShape);
        Reference.RequireShape(y, OutputShape, "output", _op, OutputShape);
        _copy.Execute(x, y);
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Gather with constant indices on the <c>cpu</c> backend: x seen as outer × d × inner around the axis; for each
/// outer index and each gathered index one block copy of <c>inner</c> floats. Allocates nothing.
/// </summary>
internal sealed class CpuGatherPlan : IUnaryPlan
{
    private readonly TensorShape _input;
    private readonly int[] _indices;
    private readonly int _outer, _extent, _inner;

    public CpuGatherPlan(TensorShape x, int axis, IReadOnlyList<int> indices, TensorShape indicesShape)
    {
        int a = x.NormalizeAxis(axis, "Gather");
        _input = x;
        _indices = [.. indices];
        if (_indices.Length != indicesShape.ElementCount || _indices.Any(i => i < 0 || i >= x[a]))
        {
            throw new InvalidHyperparameterException($"Gather: {_indices.Length} indices must fill shape {indicesShape} and lie in [0, {x[a]}) on axis {a} of input {x}.");
        }
        OutputShape = GatherOp.OutputShape(x, a, indicesShape);
        _outer = 1;
        _inner = 1;
        for (int d = 0; d < a; d++)
        {
            _outer *= x[d];
        }
        for (int d = a + 1; d < x.Rank; d++)
        {
            _inner *= x[d];
        }
        _extent = x[a];
    }

    public string Algorithm => "gather-blocks";
    public long WorkspaceBytes => 4L * _indices.Length;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, _input, "input", "Gather", OutputShape);
        Reference.RequireShape(y, OutputShape, "output", "Gather", OutputShape);
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        int o = 0;
        for (int outer = 0; outer < _outer; outer++)
        {
            int xBase = outer * _extent * _inner;
            foreach (int k in _indices)
            {
                xs.Slice(xBase + k * _inner, _inner).CopyTo(ys.Slice(o, _inner));
                o += _inner;
            }
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Pad on the <c>cpu</c> backend (constant, edge, reflect; negative pads crop): per axis a table maps each output
/// index to its input index (or to the constant), built at plan time; each output row (all axes but the last) then
/// either fills with the constant or copies the middle of its input row in one block and the few border elements
/// through the last axis' table. Equals the reference exactly; allocates nothing.
/// </summary>
internal sealed class CpuPadPlan : IUnaryPlan, IParallelJob
{
    private readonly TensorShape _input;
    private readonly PadParams _p;
    private readonly int[][] _map;     // per axis: output index → input index, or −1 for the constant
    private readonly int[] _inStrides;
    private readonly int[][] _index;
    private readonly int _rows, _width, _lo, _hi, _chunks;
    private readonly CpuContext _context;
    private Tensor? _x, _y;

    public CpuPadPlan(TensorShape x, PadParams p, CpuContext context)
    {
        OutputShape = Reference.PadOutputShape(x, p);
        _input = x;
        _p = p;
        _context = context;
        int r = x.Rank;
        _inStrides = x.Strides();
        _map = new int[r][];
        for (int d = 0; d < r; d++)
        {
            int b = p.Begin(d), e = p.End(d);
            int extent = x[d] + Math.Min(b, 0) + Math.Min(e, 0);
            var m = new int[OutputShape[d]];
            for (int o = 0; o < m.Length; o++)
            {
                int i = o - Math.Max(b, 0);
                if (i < 0 || i >= extent)
                {
                    i = p.Mode switch
                    {
                        PadMode.Constant => int.MinValue,
                        PadMode.Edge => Math.Clamp(i, 0, extent - 1),
                        _ => i < 0 ? -i : 2 * (extent - 1) - i,
                    };
                }
                m[o] = i == int.MinValue ? -1 : Math.Max(-b, 0) + i;
            }
            _map[d] = m;
        }
        if (r == 0)
        {
            _width = 1;
            _rows = 1;
        }
        else
        {
            _width = OutputShape[r - 1];
            _rows = _width == 0 ? 0 : OutputShape.ElementCount / _width;
            // Output [lo, hi) of the last axis copies input [map[lo], …) straight: the positions after the begin pad.
            int b = p.Begin(r - 1), e = p.End(r - 1);
            _lo = Math.Min(Math.Max(b, 0), _width);
            _hi = Math.Min(_lo + x[r - 1] + Math.Min(b, 0) + Math.Min(e, 0), _width);
        }
        _chunks = ElementwiseThreading.Chunks(OutputShape.ElementCount, _rows, context.Pool);
        _index = [.. Enumerable.Range(0, _chunks).Select(_ => new int[Math.Max(r - 1, 0)])];
    }

    public string Algorithm => $"pad-{_p.Mode.ToString().ToLowerInvariant()}-rows";
    public long WorkspaceBytes => 4L * _map.Sum(m => m.Length);
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        Reference.RequireShape(x, _input, "input", "Pad", _p);
        Reference.RequireShape(y, OutputShape, "output", "Pad", _p);
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
        int outer = _map.Length - 1;
        int[] index = _index[chunk];
        int rem = first;
        for (int d = outer - 1; d >= 0; d--)
        {
            index[d] = rem % OutputShape[d];
            rem /= OutputShape[d];
        }
        ReadOnlySpan<float> xs = _x!.Span;
        Span<float> ys = _y!.Span;
        int[] last = _map[^1];
        for (int row = first; row < end; row++)
        {
            Span<float> yr = ys.Slice(row * _width, _width);
            int off = 0;
            bool border = false;
            for (int d = 0; d < outer; d++)
            {
                int i = _map[d][index[d]];
                border |= i < 0;
                off += i * _inStrides[d];
            }
            if (border)
            {
                yr.Fill(_p.Value);
            }
            else
            {
                for (int o = 0; o < _lo; o++)
                {
                    yr[o] = last[o] < 0 ? _p.Value : xs[off + last[o]];
                }
                if (_hi > _lo)
                {
                    xs.Slice(off + last[_lo], _hi - _lo).CopyTo(yr[_lo.._hi]);
                }
                for (int o = _hi; o < _width; o++)
                {
                    yr[o] = last[o] < 0 ? _p.Value : xs[off + last[o]];
                }
            }
            for (int d = outer - 1; d >= 0; d--)
            {
                if (++index[d] < OutputShape[d])
                {
                    break;
                }
                index[d] = 0;
            }
        }
    }

    public void Dispose()
    {
    }
}
