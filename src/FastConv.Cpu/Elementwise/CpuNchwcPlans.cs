using System.Runtime.Intrinsics;
using FastConv.Backends;
using FastConv.Cpu.Conv2d;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Elementwise;

/// <summary>
/// The non-conv plans of a blocked (NCHWc) chain: pooling, global pooling, channel concat and the reorders at the
/// chain's ends. In NCHWc one vector is one pixel of L channels, so pooling is a max or sum of whole vectors over the
/// window (no lane waste on 7×7 planes) and a channel concat of whole blocks is a copy of contiguous runs.
/// </summary>
internal static class CpuNchwcPlans
{
    public static IUnaryPlan Pool2d(Pool2dShape shape, bool max, TensorLayout layout, CpuContext context) => Lanes(layout, context) switch
    {
        16 => new NchwcPool2dPlan<Vector512<float>, ConvVec512>(shape, max, context),
        8 => new NchwcPool2dPlan<Vector256<float>, ConvVec256>(shape, max, context),
        4 => new NchwcPool2dPlan<Vector128<float>, ConvVec128>(shape, max, context),
        _ => throw Unsupported(layout, context, "pooling"),
    };

    public static IUnaryPlan GlobalPool(TensorShape input, bool max, TensorLayout layout, CpuContext context) => Lanes(layout, context) switch
    {
        16 => new NchwcGlobalPoolPlan<Vector512<float>, ConvVec512>(input, max, context),
        8 => new NchwcGlobalPoolPlan<Vector256<float>, ConvVec256>(input, max, context),
        4 => new NchwcGlobalPoolPlan<Vector128<float>, ConvVec128>(input, max, context),
        _ => throw Unsupported(layout, context, "global pooling"),
    };

    /// <summary>Concat of whole channel blocks: the plain concat of the blocked buffers along their block axis.</summary>
    public static INaryPlan Concat(IReadOnlyList<TensorShape> inputs, int axis, TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        TensorShape output = Reference.ConcatOutputShape(inputs, axis);
        if (output.Rank != 4 || (axis < 0 ? axis + 4 : axis) != 1 || inputs.Any(s => s[1] % layout.Block != 0))
        {
            throw new UnsupportedModelException([$"Concat in {layout}: only along channels (axis 1) of 4-D inputs whose channel counts are multiples of {layout.Block}; got axis {axis} and {string.Join(" ", inputs)}."]);
        }
        return new Blocked(new CpuConcatPlan([.. inputs.Select(layout.PhysicalShape)], 1), output);
    }

    private static int Lanes(TensorLayout layout, CpuContext context) =>
        layout.Block == NchwcLayout.Lanes(context.Simd) || layout.Block == 4 && context.Simd >= SimdLevel.Vector128 ? layout.Block : 0;

    private static UnsupportedModelException Unsupported(TensorLayout layout, CpuContext context, string what) =>
        new([$"cpu backend: no {what} kernel for {layout} at SIMD level {context.Simd} (blocks of {NchwcLayout.Lanes(context.Simd)} channels there)."]);

    /// <summary>The concat over blocked buffers, reporting the logical output shape.</summary>
    private sealed class Blocked(CpuConcatPlan inner, TensorShape output) : INaryPlan
    {
        public string Algorithm => "concat-copy/nchwc";
        public long WorkspaceBytes => 0;
        public TensorShape OutputShape => output;
        public void Execute(ReadOnlySpan<Tensor> inputs, Tensor y) => inner.Execute(inputs, y);
        public void Dispose() => inner.Dispose();
    }
}

/// <summary>
/// MaxPool2d / AvgPool2d on NCHWc: per output pixel, the window clipped to the image, one vector max or add per tap.
/// Divisors follow the reference (<see cref="Reference.AvgPool2d"/>): real elements, or with count_include_pad the
/// window clipped to the padded input. A task is (image, channel block, run of output rows).
/// </summary>
internal sealed unsafe class NchwcPool2dPlan<TV, TOps> : IUnaryPlan, IParallelJob
    where TV : unmanaged
    where TOps : IConvVec<TV>
{
    private readonly Pool2dShape _s;
    private readonly bool _max;
    private readonly CpuContext _context;
    private readonly int _blocks, _rowChunks, _rowsPerChunk;
    private float* _x, _y;

    public NchwcPool2dPlan(Pool2dShape shape, bool max, CpuContext context)
    {
        string op = max ? "MaxPool2d" : "AvgPool2d";
        shape.Validate(op);
        if (!max && (shape.Params.DilationH != 1 || shape.Params.DilationW != 1))
        {
            throw new InvalidHyperparameterException($"{op}: dilation must be 1, got ({shape.Params.DilationH},{shape.Params.DilationW}); {shape.Describe()}.");
        }
        _s = shape;
        _max = max;
        _context = context;
        int lanes = TOps.Count;
        _blocks = (shape.C + lanes - 1) / lanes;
        int tasks = shape.N * _blocks;
        long work = (long)tasks * shape.P * shape.Q * shape.R * shape.S * lanes;
        _rowChunks = work < ElementwiseThreading.MinParallelFloats ? 1 : Math.Clamp((2 * context.Pool.Threads + tasks - 1) / tasks, 1, shape.P);
        _rowsPerChunk = (shape.P + _rowChunks - 1) / _rowChunks;
        _rowChunks = (shape.P + _rowsPerChunk - 1) / _rowsPerChunk;
        Algorithm = $"{(max ? "maxpool" : "avgpool")}-nchwc/NCHW{lanes}c";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape => _s.OutputShape;

    public void Execute(Tensor x, Tensor y)
    {
        int lanes = TOps.Count;
        RequireBlocked(x, _s.N, _s.C, _s.H, _s.W, lanes, "input");
        RequireBlocked(y, _s.N, _s.C, _s.P, _s.Q, lanes, "output");
        fixed (float* px = x.Span, py = y.Span)
        {
            _x = px;
            _y = py;
            try
            {
                _context.Pool.For(_s.N * _blocks * (_s.P == 0 ? 0 : _rowChunks), this);
            }
            finally
            {
                _x = _y = null;
            }
        }
    }

    private void RequireBlocked(Tensor t, int n, int c, int h, int w, int lanes, string what)
    {
        ArgumentNullException.ThrowIfNull(t);
        TensorShape x = t.Shape;
        if (x.Rank != 5 || x[0] != n || x[1] != (c + lanes - 1) / lanes || x[2] != h || x[3] != w || x[4] != lanes)
        {
            throw new InvalidShapeException($"{(_max ? "MaxPool2d" : "AvgPool2d")} (NCHW{lanes}c): {what} has shape {x}, expected [{n}, {(c + lanes - 1) / lanes}, {h}, {w}, {lanes}]; {_s}.");
        }
    }

    public void Run(int index)
    {
        Pool2dShape s = _s;
        Pool2dParams p = s.Params;
        int lanes = TOps.Count;
        int chunk = index % _rowChunks, plane = index / _rowChunks;
        float* x = _x + (long)plane * s.H * s.W * lanes;
        float* y = _y + (long)plane * s.P * s.Q * lanes;
        int p0 = chunk * _rowsPerChunk, p1 = Math.Min(s.P, p0 + _rowsPerChunk);
        TV lowest = default;
        if (_max)
        {
            float ninf = float.NegativeInfinity;
            lowest = TOps.Broadcast(&ninf);
        }
        for (int op = p0; op < p1; op++)
        {
            int ih0 = op * p.StrideH - p.Padding.Top;
            int r0 = ih0 >= 0 ? 0 : (-ih0 + p.DilationH - 1) / p.DilationH;
            int r1 = Math.Min(s.R, ih0 >= s.H ? 0 : (s.H - 1 - ih0) / p.DilationH + 1);
            // Window rows inside the padded input (count_include_pad): ih < H + padBottom.
            int rowsPadded = 0;
            for (int r = 0; r < s.R; r++)
            {
                rowsPadded += ih0 + r < s.H + p.Padding.Bottom ? 1 : 0;
            }
            for (int oq = 0; oq < s.Q; oq++)
            {
                int iw0 = oq * p.StrideW - p.Padding.Left;
                int t0 = iw0 >= 0 ? 0 : (-iw0 + p.DilationW - 1) / p.DilationW;
                int t1 = Math.Min(s.S, iw0 >= s.W ? 0 : (s.W - 1 - iw0) / p.DilationW + 1);
                TV acc = _max ? lowest : TOps.Zero;
                for (int r = r0; r < r1; r++)
                {
                    float* row = x + ((long)(ih0 + r * p.DilationH) * s.W + iw0) * lanes;
                    for (int t = t0; t < t1; t++)
                    {
                        TV v = TOps.Load(row + (long)t * p.DilationW * lanes);
                        acc = _max ? TOps.Max(acc, v) : TOps.Add(acc, v);
                    }
                }
                if (!_max)
                {
                    int colsPadded = 0;
                    for (int t = 0; t < s.S; t++)
                    {
                        colsPadded += iw0 + t < s.W + p.Padding.Right ? 1 : 0;
                    }
                    float inv = 1f / (p.CountIncludePad ? rowsPadded * colsPadded : Math.Max(0, r1 - r0) * Math.Max(0, t1 - t0));
                    acc = TOps.Multiply(acc, TOps.Broadcast(&inv));
                }
                TOps.Store(y + ((long)op * s.Q + oq) * lanes, acc);
            }
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>GlobalMaxPool / GlobalAveragePool on NCHWc: each task reduces one channel block's plane to one vector.</summary>
internal sealed unsafe class NchwcGlobalPoolPlan<TV, TOps> : IUnaryPlan, IParallelJob
    where TV : unmanaged
    where TOps : IConvVec<TV>
{
    private readonly TensorShape _input, _blockedInput, _blockedOutput;
    private readonly bool _max;
    private readonly CpuContext _context;
    private readonly int _planes, _hw;
    private float* _x, _y;

    public NchwcGlobalPoolPlan(TensorShape input, bool max, CpuContext context)
    {
        string op = max ? "GlobalMaxPool" : "GlobalAveragePool";
        input.RequireRank(4, "input", op);
        if (input.ElementCount == 0)
        {
            throw new InvalidShapeException($"{op}: every dimension must be >= 1, got input {input}.");
        }
        _input = input;
        _max = max;
        _context = context;
        _planes = input[0] * ((input[1] + TOps.Count - 1) / TOps.Count);
        _hw = input[2] * input[3];
        OutputShape = TensorShape.Of(input[0], input[1], 1, 1);
        // Shapes built once: Execute allocates nothing.
        _blockedInput = TensorLayout.Blocked(TOps.Count).PhysicalShape(input);
        _blockedOutput = TensorLayout.Blocked(TOps.Count).PhysicalShape(OutputShape);
        Algorithm = $"{op.ToLowerInvariant()}-nchwc/NCHW{TOps.Count}c";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        int lanes = TOps.Count;
        if (x.Shape != _blockedInput || y.Shape != _blockedOutput)
        {
            throw new InvalidShapeException($"{Algorithm}: got input {x.Shape} and output {y.Shape}, expected {_blockedInput} and {_blockedOutput} (input {_input} in NCHW{lanes}c).");
        }
        fixed (float* px = x.Span, py = y.Span)
        {
            _x = px;
            _y = py;
            try
            {
                int chunks = (long)_planes * _hw * lanes < ElementwiseThreading.MinParallelFloats ? 1 : _planes;
                if (chunks == 1)
                {
                    for (int i = 0; i < _planes; i++)
                    {
                        Run(i);
                    }
                }
                else
                {
                    _context.Pool.For(_planes, this);
                }
            }
            finally
            {
                _x = _y = null;
            }
        }
    }

    public void Run(int index)
    {
        int lanes = TOps.Count;
        float* x = _x + (long)index * _hw * lanes;
        TV a0, a1, a2, a3;
        if (_max)
        {
            a0 = a1 = a2 = a3 = TOps.Load(x);
        }
        else
        {
            a0 = a1 = a2 = a3 = TOps.Zero;
        }
        int j = 0;
        for (; j + 4 <= _hw; j += 4)
        {
            float* v = x + (long)j * lanes;
            if (_max)
            {
                a0 = TOps.Max(a0, TOps.Load(v));
                a1 = TOps.Max(a1, TOps.Load(v + lanes));
                a2 = TOps.Max(a2, TOps.Load(v + 2 * lanes));
                a3 = TOps.Max(a3, TOps.Load(v + 3 * lanes));
            }
            else
            {
                a0 = TOps.Add(a0, TOps.Load(v));
                a1 = TOps.Add(a1, TOps.Load(v + lanes));
                a2 = TOps.Add(a2, TOps.Load(v + 2 * lanes));
                a3 = TOps.Add(a3, TOps.Load(v + 3 * lanes));
            }
        }
        for (; j < _hw; j++)
        {
            a0 = _max ? TOps.Max(a0, TOps.Load(x + (long)j * lanes)) : TOps.Add(a0, TOps.Load(x + (long)j * lanes));
        }
        TV acc = _max ? TOps.Max(TOps.Max(a0, a1), TOps.Max(a2, a3)) : TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3));
        if (!_max)
        {
            float inv = 1f / _hw;
            acc = TOps.Multiply(acc, TOps.Broadcast(&inv));
        }
        TOps.Store(_y + (long)index * lanes, acc);
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Reorder between NCHW and NCHWc at a blocked chain's ends: 16×16 (AVX-512) or 8×8 (AVX2) register transposes
/// (<see cref="NchwcLayout"/>), one task per (image, channel block). Other pairs of layouts take the reference's loops.
/// </summary>
internal sealed unsafe class NchwcReorderPlan : IUnaryPlan, IParallelJob
{
    private readonly TensorShape _shape, _blocked;
    private readonly bool _toBlocked;
    private readonly int _lanes, _blocks, _hw, _chunks, _chunkPixels;
    private readonly CpuContext _context;
    private float* _x, _y;

    public NchwcReorderPlan(TensorShape shape, TensorLayout from, TensorLayout to, CpuContext context)
    {
        shape.RequireRank(4, "input", "Reorder");
        if (from.IsBlocked == to.IsBlocked)
        {
            throw new InvalidHyperparameterException($"Reorder: {nameof(NchwcReorderPlan)} goes between NCHW and NCHWc, got {from} to {to}.");
        }
        _shape = shape;
        _toBlocked = to.IsBlocked;
        _lanes = Math.Max(from.Block, to.Block);
        _blocks = (shape[1] + _lanes - 1) / _lanes;
        _hw = shape[2] * shape[3];
        _blocked = TensorLayout.Blocked(_lanes).PhysicalShape(shape);
        _context = context;
        // Pixel runs as well as blocks, so a 3-channel image (one block) still splits across the threads.
        int tasks = shape[0] * _blocks;
        _chunks = (long)tasks * _hw * _lanes < ElementwiseThreading.MinParallelFloats ? 1 : Math.Clamp((2 * context.Pool.Threads + tasks - 1) / tasks, 1, Math.Max(1, _hw / 64));
        _chunkPixels = (_hw + _chunks - 1) / _chunks;
        _chunks = _hw == 0 ? 1 : (_hw + _chunkPixels - 1) / _chunkPixels;
        OutputShape = shape;
        Algorithm = $"reorder-{(_toBlocked ? $"to-nchw{_lanes}c" : $"from-nchw{_lanes}c")}";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => 0;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        TensorShape xs = _toBlocked ? _shape : _blocked, ys = _toBlocked ? _blocked : _shape;
        if (x.Shape != xs || y.Shape != ys)
        {
            throw new InvalidShapeException($"Reorder: got input {x.Shape} and output {y.Shape}, expected {xs} and {ys}.");
        }
        fixed (float* px = x.Span, py = y.Span)
        {
            _x = px;
            _y = py;
            try
            {
                int tasks = _shape[0] * _blocks * _chunks;
                if (_chunks == 1 && (long)tasks * _hw * _lanes < ElementwiseThreading.MinParallelFloats)
                {
                    // A small tensor: waking the pool would cost more than the copy.
                    for (int i = 0; i < tasks; i++)
                    {
                        Run(i);
                    }
                }
                else
                {
                    _context.Pool.For(tasks, this);
                }
            }
            finally
            {
                _x = _y = null;
            }
        }
    }

    public void Run(int index)
    {
        int c = _shape[1], lanes = _lanes, chunk = index % _chunks, plane = index / _chunks, n = plane / _blocks, b = plane % _blocks;
        int j0 = chunk * _chunkPixels, pixels = Math.Min(_hw - j0, _chunkPixels);
        float* nchw = (_toBlocked ? _x : _y) + ((long)n * c + (long)b * lanes) * _hw + j0;
        float* block = (_toBlocked ? _y : _x) + (((long)n * _blocks + b) * _hw + j0) * lanes;
        int channels = Math.Min(lanes, c - b * lanes);
        if (!_toBlocked)
        {
            NchwcTranspose.BlockToRows(block, lanes, pixels, channels, nchw, _hw);
        }
        else if (channels == lanes)
        {
            NchwcTranspose.RowsToBlock(nchw, _hw, lanes, pixels, channels, block);
        }
        else
        {
            // A partial block (an RGB image): clear it at full width, then scatter the few real channels, instead of
            // the transposes' per-element select over every lane.
            new Span<float>(block, pixels * lanes).Clear();
            for (int l = 0; l < channels; l++)
            {
                float* src = nchw + (long)l * _hw;
                float* dst = block + l;
                for (int j = 0; j < pixels; j++)
                {
                    dst[(long)j * lanes] = src[j];
                }
            }
        }
    }

    public void Dispose()
    {
    }
}
