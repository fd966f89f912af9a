using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// Conv plans for a node the layout pass left in NCHWc (<see cref="CpuLayoutPolicy"/>): input, output and residual are
/// blocked buffers [N][⌈C/L⌉][H][W][L]. Dense convs run the blocked direct kernel (<see cref="Conv2dNchwcBlocked"/>),
/// depthwise ones <see cref="DepthwiseNchwcPlan{TV, TOps}"/>; anything else (a grouped conv, an activation with no
/// blocked epilogue, a block that is not this level's width) runs its NCHW plan between two reorders inside the plan,
/// correct but paying what the chain was meant to save, which is why the policy does not ask for those.
/// </summary>
internal static class Conv2dNchwcChain
{
    /// <summary>Whether the blocked layout has a native kernel for a conv of these groups and channels: dense, or depthwise (one output per channel).</summary>
    public static bool HasBlockedKernel(int groups, int c, int k) => groups == 1 || IsDepthwise(groups, c, k);

    public static bool IsDepthwise(int groups, int c, int k) => groups > 1 && groups == c && k == c;

    public static IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, TensorLayout layout, CpuContext context, Func<IConv2dPlan> nchw)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(epilogue);
        ArgumentNullException.ThrowIfNull(nchw);
        shape.Validate(weights.Shape, bias?.Shape);
        epilogue.Validate(shape.K, shape.ToString());
        int lanes = NchwcLayout.Lanes(context.Simd);
        if (layout.Block == lanes && lanes > 1 && CpuEpilogue.HasBlockedForm(epilogue.Activation))
        {
            if (shape.Groups == 1)
            {
                return new NchwcConvPlan(Conv2dNchwcBlocked.Create(shape, weights, bias, epilogue, context));
            }
            if (IsDepthwise(shape.Groups, shape.C, shape.K))
            {
                return context.Simd switch
                {
                    SimdLevel.Avx512 => new DepthwiseNchwcPlan<Vector512<float>, ConvVec512>(shape, weights, bias, epilogue, context),
                    SimdLevel.Avx2 => new DepthwiseNchwcPlan<Vector256<float>, ConvVec256>(shape, weights, bias, epilogue, context),
                    _ => new DepthwiseNchwcPlan<Vector128<float>, ConvVec128>(shape, weights, bias, epilogue, context),
                };
            }
        }
        return new NchwcAdapterPlan(nchw(), layout, epilogue.AddResidual);
    }

    /// <summary>Throws unless <paramref name="t"/> is the blocked buffer of logical N×C×H×W at <paramref name="lanes"/> lanes.</summary>
    public static void RequireBlocked(Tensor t, int n, int c, int h, int w, int lanes, string what, Conv2dShape s)
    {
        ArgumentNullException.ThrowIfNull(t);
        TensorShape x = t.Shape;
        if (x.Rank != 5 || x[0] != n || x[1] != (c + lanes - 1) / lanes || x[2] != h || x[3] != w || x[4] != lanes)
        {
            throw new InvalidShapeException($"Conv2d (NCHW{lanes}c): {what} has shape {x}, expected [{n}, {(c + lanes - 1) / lanes}, {h}, {w}, {lanes}] (N×{c}×{h}×{w} blocked); {s}.");
        }
    }

    public static void RequireAll(Conv2dShape s, int lanes, bool addResidual, Tensor x, Tensor y, Tensor? residual)
    {
        RequireBlocked(x, s.N, s.C, s.H, s.W, lanes, "input", s);
        RequireBlocked(y, s.N, s.K, s.P, s.Q, lanes, "output", s);
        if (addResidual != residual is not null)
        {
            throw new InvalidShapeException($"Conv2d: the epilogue {(addResidual ? "adds a residual but none was given" : "adds no residual but one was given")}; {s}.");
        }
        if (residual is not null)
        {
            RequireBlocked(residual, s.N, s.K, s.P, s.Q, lanes, "residual", s);
        }
    }
}

/// <summary>A dense conv on NCHWc buffers: the blocked direct kernel, as an <see cref="IConv2dPlan"/> of the graph.</summary>
internal sealed class NchwcConvPlan(INchwcConv2d conv) : IConv2dPlan
{
    public Conv2dShape Shape => conv.Shape;
    public string Algorithm { get; } = $"{Conv2dNchwc.AlgorithmName}/NCHW{conv.Lanes}c";
    public long WorkspaceBytes => conv.WorkspaceBytes;
    public TensorShape OutputShape => conv.Shape.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        Conv2dNchwcChain.RequireAll(conv.Shape, conv.Lanes, residual is not null, x, y, residual);
        conv.Execute(x.Span, y.Span, residual is null ? default : residual.Span);
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Depthwise convolution (groups = C = K) on NCHWc: one vector is one pixel of L channels, so every tap is a vector
/// load of the input times the tap's L weights; no transposes and no lane waste whatever the plane (a 7×7 plane fills
/// every lane). A task is (image, channel block, run of output rows); border pixels clip their taps, interior ones
/// run 4 at a time so 4 independent accumulators hide the FMA latency. The epilogue (bias, scale, residual,
/// activation) runs on each finished row while it is in L1. Sums the same R·S products per output as the reference.
/// </summary>
internal sealed unsafe class DepthwiseNchwcPlan<TV, TOps> : IConv2dPlan, IParallelJob
    where TV : unmanaged
    where TOps : IConvVec<TV>
{
    private readonly CpuContext _context;
    private readonly CpuEpilogue _epilogue;
    private readonly PinnedBuffer _weights;   // [cb][r·S + s][L], zero past C
    private readonly int _blocks, _rowChunks, _rowsPerChunk;
    private readonly int _qa, _qb;            // output columns whose taps all lie inside the row: [_qa, _qb)
    private readonly bool _threeByThree;      // 3×3, dilation 1, stride 1 or 2 (MobileNet's): the register-reuse rows
    private float* _x, _y, _residual;

    public DepthwiseNchwcPlan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        Shape = shape;
        _context = context;
        int lanes = TOps.Count, rs = shape.R * shape.S;
        _blocks = (shape.C + lanes - 1) / lanes;
        _epilogue = new CpuEpilogue(shape.K, bias is null ? default : bias.Span, epilogue, context.Simd);
        _weights = new PinnedBuffer((long)_blocks * rs * lanes);
        var packed = new Span<float>(_weights.Pointer, checked((int)_weights.Length));
        packed.Clear();
        ReadOnlySpan<float> w = weights.Span;
        for (int c = 0; c < shape.C; c++)
        {
            for (int t = 0; t < rs; t++)
            {
                packed[(c / lanes * rs + t) * lanes + c % lanes] = w[c * rs + t];
            }
        }
        Conv2dParams p = shape.Params;
        int span = (shape.S - 1) * p.DilationW;
        _qa = Math.Min(shape.Q, (p.Padding.Left + p.StrideW - 1) / p.StrideW);
        int last = shape.W - 1 - span + p.Padding.Left;
        _qb = Math.Clamp(last < 0 ? 0 : last / p.StrideW + 1, _qa, shape.Q);
        int tasks = shape.N * _blocks;
        // Enough row runs for every thread twice over when there are few channel blocks (a 32-channel stem layer).
        _rowChunks = Math.Clamp((2 * context.Pool.Threads + tasks - 1) / tasks, 1, shape.P);
        _rowsPerChunk = (shape.P + _rowChunks - 1) / _rowChunks;
        _rowChunks = (shape.P + _rowsPerChunk - 1) / _rowsPerChunk;
        _threeByThree = shape.R == 3 && shape.S == 3 && p.DilationH == 1 && p.DilationW == 1 && p.StrideW is 1 or 2;
        Algorithm = $"depthwise-nchwc/NCHW{lanes}c";
    }

    public Conv2dShape Shape { get; }
    public string Algorithm { get; }
    public long WorkspaceBytes => _weights.Bytes;
    public TensorShape OutputShape => Shape.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        Conv2dNchwcChain.RequireAll(Shape, TOps.Count, _epilogue.AddResidual, x, y, residual);
        fixed (float* px = x.Span, py = y.Span, pr = residual is null ? default : residual.Span)
        {
            _x = px;
            _y = py;
            _residual = pr;
            try
            {
                _context.Pool.For(Shape.N * _blocks * _rowChunks, this);
            }
            finally
            {
                _x = _y = _residual = null;
            }
        }
    }

    public void Run(int index)
    {
        Conv2dShape s = Shape;
        Conv2dParams p = s.Params;
        int lanes = TOps.Count, rs = s.R * s.S;
        int chunk = index % _rowChunks, plane = index / _rowChunks, cb = plane % _blocks;
        float* x = _x + (long)plane * s.H * s.W * lanes;
        long outPlane = (long)plane * s.P * s.Q * lanes;
        float* w = _weights.Pointer + (long)cb * rs * lanes;
        int p0 = chunk * _rowsPerChunk, p1 = Math.Min(s.P, p0 + _rowsPerChunk);
        int dh = p.DilationH, dw = p.DilationW, sw = p.StrideW;
        long colStep = (long)sw * lanes, tapStep = (long)dw * lanes;
        for (int op = p0; op < p1; op++)
        {
            int ih0 = op * p.StrideH - p.Padding.Top;
            // Taps r whose row lies inside the image: ih0 + r·dh in [0, H).
            int r0 = ih0 >= 0 ? 0 : (-ih0 + dh - 1) / dh;
            int r1 = Math.Min(s.R, ih0 >= s.H ? 0 : (s.H - 1 - ih0) / dh + 1);
            float* yrow = _y + outPlane + (long)op * s.Q * lanes;
            for (int q = 0; q < _qa; q++)
            {
                Border(x, w, s, ih0, r0, r1, q, yrow);
            }
            int q4 = _qa;
            if (_threeByThree && r0 == 0 && r1 == 3)
            {
                q4 = sw == 1 ? Row3x3Stride1(x + (long)ih0 * s.W * lanes, s.W, w, yrow, q4, _qb)
                    : Row3x3Stride2(x + (long)ih0 * s.W * lanes, s.W, w, yrow, q4, _qb);
            }
            for (; q4 + 4 <= _qb; q4 += 4)
            {
                TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
                for (int r = r0; r < r1; r++)
                {
                    float* src = x + ((long)(ih0 + r * dh) * s.W + q4 * sw - p.Padding.Left) * lanes;
                    float* wr = w + (long)r * s.S * lanes;
                    for (int t = 0; t < s.S; t++)
                    {
                        TV wv = TOps.Load(wr + t * lanes);
                        float* at = src + t * tapStep;
                        a0 = TOps.Fma(TOps.Load(at), wv, a0);
                        a1 = TOps.Fma(TOps.Load(at + colStep), wv, a1);
                        a2 = TOps.Fma(TOps.Load(at + 2 * colStep), wv, a2);
                        a3 = TOps.Fma(TOps.Load(at + 3 * colStep), wv, a3);
                    }
                }
                float* d = yrow + (long)q4 * lanes;
                TOps.Store(d, a0);
                TOps.Store(d + lanes, a1);
                TOps.Store(d + 2 * lanes, a2);
                TOps.Store(d + 3 * lanes, a3);
            }
            for (int q = q4; q < s.Q; q++)
            {
                Border(x, w, s, ih0, r0, r1, q, yrow);
            }
        }
        if (!_epilogue.IsIdentity && p1 > p0)
        {
            // The run's rows are contiguous: one epilogue pass over all of them (they are still in L1/L2).
            int k0 = cb * lanes;
            long first = outPlane + (long)p0 * s.Q * lanes;
            _epilogue.TryApplyBlocked(k0, Math.Min(lanes, s.K - k0), _y + first, (p1 - p0) * s.Q, lanes, _residual == null ? null : _residual + first);
        }
    }

    /// <summary>
    /// Interior pixels of a 3×3 stride-1 row whose three input rows all lie inside the image, 4 at a time: the 9 tap
    /// weights stay in registers and each input vector is loaded once for the 3 outputs that read it (6 loads per row
    /// of taps for 4 outputs, not 12). Returns the first column not done.
    /// </summary>
    private int Row3x3Stride1(float* row0, int w, float* wt, float* yrow, int q, int qb)
    {
        int lanes = TOps.Count, padLeft = Shape.Params.Padding.Left;
        long rowStep = (long)w * lanes;
        TV w0 = TOps.Load(wt), w1 = TOps.Load(wt + lanes), w2 = TOps.Load(wt + 2 * lanes);
        TV w3 = TOps.Load(wt + 3 * lanes), w4 = TOps.Load(wt + 4 * lanes), w5 = TOps.Load(wt + 5 * lanes);
        TV w6 = TOps.Load(wt + 6 * lanes), w7 = TOps.Load(wt + 7 * lanes), w8 = TOps.Load(wt + 8 * lanes);
        for (; q + 4 <= qb; q += 4)
        {
            float* a = row0 + (long)(q - padLeft) * lanes;
            TV o0 = TOps.Zero, o1 = TOps.Zero, o2 = TOps.Zero, o3 = TOps.Zero;
            Taps(a, w0, w1, w2, ref o0, ref o1, ref o2, ref o3);
            Taps(a + rowStep, w3, w4, w5, ref o0, ref o1, ref o2, ref o3);
            Taps(a + 2 * rowStep, w6, w7, w8, ref o0, ref o1, ref o2, ref o3);
            float* d = yrow + (long)q * lanes;
            TOps.Store(d, o0);
            TOps.Store(d + lanes, o1);
            TOps.Store(d + 2 * lanes, o2);
            TOps.Store(d + 3 * lanes, o3);
        }
        return q;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Taps(float* p, TV k0, TV k1, TV k2, ref TV o0, ref TV o1, ref TV o2, ref TV o3)
        {
            int l = TOps.Count;
            TV v0 = TOps.Load(p), v1 = TOps.Load(p + l), v2 = TOps.Load(p + 2 * l);
            TV v3 = TOps.Load(p + 3 * l), v4 = TOps.Load(p + 4 * l), v5 = TOps.Load(p + 5 * l);
            o0 = TOps.Fma(v2, k2, TOps.Fma(v1, k1, TOps.Fma(v0, k0, o0)));
            o1 = TOps.Fma(v3, k2, TOps.Fma(v2, k1, TOps.Fma(v1, k0, o1)));
            o2 = TOps.Fma(v4, k2, TOps.Fma(v3, k1, TOps.Fma(v2, k0, o2)));
            o3 = TOps.Fma(v5, k2, TOps.Fma(v4, k1, TOps.Fma(v3, k0, o3)));
        }
    }

    /// <summary>As <see cref="Row3x3Stride1"/> at stride 2: 9 loads per row of taps for 4 outputs (neighbours share one column).</summary>
    private int Row3x3Stride2(float* row0, int w, float* wt, float* yrow, int q, int qb)
    {
        int lanes = TOps.Count, padLeft = Shape.Params.Padding.Left;
        long rowStep = (long)w * lanes;
        TV w0 = TOps.Load(wt), w1 = TOps.Load(wt + lanes), w2 = TOps.Load(wt + 2 * lanes);
        TV w3 = TOps.Load(wt + 3 * lanes), w4 = TOps.Load(wt + 4 * lanes), w5 = TOps.Load(wt + 5 * lanes);
        TV w6 = TOps.Load(wt + 6 * lanes), w7 = TOps.Load(wt + 7 * lanes), w8 = TOps.Load(wt + 8 * lanes);
        for (; q + 4 <= qb; q += 4)
        {
            float* a = row0 + (long)(2 * q - padLeft) * lanes;
            TV o0 = TOps.Zero, o1 = TOps.Zero, o2 = TOps.Zero, o3 = TOps.Zero;
            Taps(a, w0, w1, w2, ref o0, ref o1, ref o2, ref o3);
            Taps(a + rowStep, w3, w4, w5, ref o0, ref o1, ref o2, ref o3);
            Taps(a + 2 * rowStep, w6, w7, w8, ref o0, ref o1, ref o2, ref o3);
            float* d = yrow + (long)q * lanes;
            TOps.Store(d, o0);
            TOps.Store(d + lanes, o1);
            TOps.Store(d + 2 * lanes, o2);
            TOps.Store(d + 3 * lanes, o3);
        }
        return q;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Taps(float* p, TV k0, TV k1, TV k2, ref TV o0, ref TV o1, ref TV o2, ref TV o3)
        {
            int l = TOps.Count;
            TV v0 = TOps.Load(p), v1 = TOps.Load(p + l), v2 = TOps.Load(p + 2 * l), v3 = TOps.Load(p + 3 * l), v4 = TOps.Load(p + 4 * l);
            TV v5 = TOps.Load(p + 5 * l), v6 = TOps.Load(p + 6 * l), v7 = TOps.Load(p + 7 * l), v8 = TOps.Load(p + 8 * l);
            o0 = TOps.Fma(v2, k2, TOps.Fma(v1, k1, TOps.Fma(v0, k0, o0)));
            o1 = TOps.Fma(v4, k2, TOps.Fma(v3, k1, TOps.Fma(v2, k0, o1)));
            o2 = TOps.Fma(v6, k2, TOps.Fma(v5, k1, TOps.Fma(v4, k0, o2)));
            o3 = TOps.Fma(v8, k2, TOps.Fma(v7, k1, TOps.Fma(v6, k0, o3)));
        }
    }

    /// <summary>One output pixel with each tap checked against the row (the left and right borders, and the interior's tail).</summary>
    private static void Border(float* x, float* w, Conv2dShape s, int ih0, int r0, int r1, int q, float* yrow)
    {
        Conv2dParams p = s.Params;
        int lanes = TOps.Count;
        int iw0 = q * p.StrideW - p.Padding.Left;
        TV acc = TOps.Zero;
        for (int r = r0; r < r1; r++)
        {
            float* row = x + (long)(ih0 + r * p.DilationH) * s.W * lanes;
            for (int t = 0; t < s.S; t++)
            {
                int iw = iw0 + t * p.DilationW;
                if ((uint)iw < (uint)s.W)
                {
                    acc = TOps.Fma(TOps.Load(row + (long)iw * lanes), TOps.Load(w + ((long)r * s.S + t) * lanes), acc);
                }
            }
        }
        TOps.Store(yrow + (long)q * lanes, acc);
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// A conv with no blocked kernel inside a blocked chain: reorders its input (and residual) to NCHW, runs the NCHW plan,
/// and reorders the result back. Correct for any conv; the policy keeps such convs NCHW instead when it can tell.
/// </summary>
internal sealed class NchwcAdapterPlan : IConv2dPlan
{
    private readonly IConv2dPlan _inner;
    private readonly TensorLayout _layout;
    private readonly Tensor _x, _y;
    private readonly Tensor? _residual;

    public NchwcAdapterPlan(IConv2dPlan inner, TensorLayout layout, bool addResidual)
    {
        _inner = inner;
        _layout = layout;
        Conv2dShape s = inner.Shape;
        _x = Tensor.Allocate(s.InputShape);
        _y = Tensor.Allocate(s.OutputShape);
        _residual = addResidual ? Tensor.Allocate(s.OutputShape) : null;
    }

    public Conv2dShape Shape => _inner.Shape;
    public string Algorithm => $"{_inner.Algorithm}+reorders/{_layout}";
    public long WorkspaceBytes => _inner.WorkspaceBytes + 4L * ((long)_x.Length + _y.Length + (_residual?.Length ?? 0));
    public TensorShape OutputShape => _inner.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        Conv2dShape s = Shape;
        int lanes = _layout.Block;
        Conv2dNchwcChain.RequireAll(s, lanes, _residual is not null, x, y, residual);
        NchwcLayout.ToNchw(x.Span, s.N, s.C, s.H, s.W, lanes, _x.Span);
        if (residual is not null)
        {
            NchwcLayout.ToNchw(residual.Span, s.N, s.K, s.P, s.Q, lanes, _residual!.Span);
        }
        _inner.Execute(_x, _y, _residual);
        NchwcLayout.FromNchw(_y.Span, s.N, s.K, s.P, s.Q, lanes, y.Span);
    }

    public void Dispose() => _inner.Dispose();
}
