using System.Runtime.Intrinsics;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu;

/// <summary>
/// <c>depthwise</c>: groups = C and K = m·C (m = 1 is MobileNet's depthwise conv; m &gt; 1 is the channel
/// multiplier, output channel k reading input channel k / m), any R, S, stride, dilation, padding.
/// <para>
/// One output plane (n, k) at a time, vectorized along the output row Q, all R·S taps of a vector accumulated
/// in registers (4 vectors in flight to cover the FMA latency; depthwise is load-bound — one load per FMA —
/// so more accumulators buy nothing). The taps of a channel are contiguous (the K×1×R×S weights copied at
/// plan time), the epilogue runs on the finished plane while it is in cache.
/// </para>
/// <para>
/// Horizontal stride 1: tap (r, s) of output pixels q..q+lanes is one unaligned load of the input row, read
/// in place. The output row splits like MLAS's: an interior [qLo, qHi) where every tap is inside the row
/// (no checks, full vectors, an overlapping last vector for the tail) and the borders, where taps fall in
/// the padding, computed by a checked scalar loop (at most ⌈(S−1)·dw/1⌉ pixels per side). Rows outside the
/// input are skipped per output row.
/// </para>
/// <para>
/// Horizontal stride 2–3, and stride-1 rows whose interior is narrower than two vectors: the plane is first copied into a zero-padded, column-de-interleaved scratch
/// (<see cref="ConvPaddedInput"/>): tap s then reads phase (s·dw) mod sw as one contiguous load, with no
/// gathers, no padding checks and no border path. This beats a scalar-strided load (one load + insert per
/// lane) and a gather (vgatherdps: ~1 lane per cycle on Zen) by the lane count, and the copy (H·W) is
/// small against the R·S·P·Q ≈ R·S·H·W/(sh·sw) multiply-adds it feeds; it is done once per input plane even
/// when a channel multiplier reads it m times.
/// </para>
/// <para>
/// Channel multiplier 1 with 8 or 16 lanes, horizontal stride &gt; 1 or rows no wider than one vector: the
/// channel-vectorized path instead (ChannelBlockJob): a block of <c>lanes</c> channels is transposed into a
/// zero-padded [Hp][Wp][lanes] scratch and every output pixel is R·S full-vector FMAs, so small planes and
/// strides waste no lanes.
/// </para>
/// </summary>
internal sealed class Conv2dDepthwise : IConv2dAlgorithm
{
    public const string AlgorithmName = "depthwise";

    public string Name => AlgorithmName;

    public bool Supports(Conv2dShape shape, CpuContext context)
        => shape.Groups == shape.C && shape.K % shape.C == 0;

    public IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(context);
        return context.Simd switch
        {
            SimdLevel.Avx512 => new DepthwisePlan<Vector512<float>, ConvVec512>(shape, weights, bias, epilogue, context),
            SimdLevel.Avx2 => new DepthwisePlan<Vector256<float>, ConvVec256>(shape, weights, bias, epilogue, context),
            SimdLevel.Vector128 => new DepthwisePlan<Vector128<float>, ConvVec128>(shape, weights, bias, epilogue, context),
            _ => new DepthwisePlan<float, ConvVecScalar>(shape, weights, bias, epilogue, context),
        };
    }
}

/// <summary>The depthwise row kernels, shared by the plan and the kernel tests.</summary>
internal static unsafe class DepthwiseKernels
{
    /// <summary>
    /// The interior of output row <paramref name="p"/> for horizontal stride 1: [qLo, qHi) with every tap in
    /// the row. Needs qHi − qLo ≥ lanes (the last vector overlaps the one before it).
    /// <c>src</c>: the input plane H×W; <c>dst</c>: the output row, Q floats; <c>w</c>: the R×S taps.
    /// </summary>
    public static void InteriorRowStride1<TV, TOps>(in DepthwiseGeometry g, float* src, float* dst, float* w, int p, int qLo, int qHi)
        where TV : unmanaged
        where TOps : IConvVec<TV>
    {
        int lanes = TOps.Count;
        int yBase = p * g.StrideH - g.Top;
        int q = qLo;
        for (; q + 4 * lanes <= qHi; q += 4 * lanes)
        {
            TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
            for (int r = 0; r < g.R; r++)
            {
                int y = yBase + r * g.DilationH;
                if ((uint)y >= (uint)g.H)
                {
                    continue;
                }
                float* row = src + (long)y * g.W + q - g.Left;
                float* wr = w + r * g.S;
                for (int s = 0; s < g.S; s++)
                {
                    TV wv = TOps.Broadcast(wr + s);
                    float* x = row + s * g.DilationW;
                    a0 = TOps.Fma(TOps.Load(x), wv, a0);
                    a1 = TOps.Fma(TOps.Load(x + lanes), wv, a1);
                    a2 = TOps.Fma(TOps.Load(x + 2 * lanes), wv, a2);
                    a3 = TOps.Fma(TOps.Load(x + 3 * lanes), wv, a3);
                }
            }
            TOps.Store(dst + q, a0);
            TOps.Store(dst + q + lanes, a1);
            TOps.Store(dst + q + 2 * lanes, a2);
            TOps.Store(dst + q + 3 * lanes, a3);
        }
        while (q < qHi)
        {
            if (q + lanes > qHi)
            {
                q = qHi - lanes; // overlapping last vector: recomputes a few pixels with the same result
            }
            TV a = TOps.Zero;
            for (int r = 0; r < g.R; r++)
            {
                int y = yBase + r * g.DilationH;
                if ((uint)y >= (uint)g.H)
                {
                    continue;
                }
                float* row = src + (long)y * g.W + q - g.Left;
                float* wr = w + r * g.S;
                for (int s = 0; s < g.S; s++)
                {
                    a = TOps.Fma(TOps.Load(row + s * g.DilationW), TOps.Broadcast(wr + s), a);
                }
            }
            TOps.Store(dst + q, a);
            q += lanes;
        }
    }

    /// <summary>Output pixels [q0, q1) of row <paramref name="p"/>, any stride, every tap checked against the input.</summary>
    public static void CheckedRow(in DepthwiseGeometry g, float* src, float* dst, float* w, int p, int q0, int q1)
    {
        int yBase = p * g.StrideH - g.Top;
        for (int q = q0; q < q1; q++)
        {
            int xBase = q * g.StrideW - g.Left;
            float sum = 0f;
            for (int r = 0; r < g.R; r++)
            {
                int y = yBase + r * g.DilationH;
                if ((uint)y >= (uint)g.H)
                {
                    continue;
                }
                float* row = src + (long)y * g.W;
                for (int s = 0; s < g.S; s++)
                {
                    int x = xBase + s * g.DilationW;
                    if ((uint)x < (uint)g.W)
                    {
                        sum = MathF.FusedMultiplyAdd(row[x], w[r * g.S + s], sum);
                    }
                }
            }
            dst[q] = sum;
        }
    }

    /// <summary>
    /// Output row <paramref name="p"/> from a padded, de-interleaved plane (<see cref="ConvPaddedInput"/>):
    /// whole vectors everywhere, the last one stored partially.
    /// </summary>
    public static void PaddedRow<TV, TOps>(ConvPaddedInput layout, int* taps, int tapCount, float* plane, float* dst, float* w, int p, int q)
        where TV : unmanaged
        where TOps : IConvVec<TV>
    {
        int lanes = TOps.Count;
        float* rowBase = plane + layout.SlotBase(p, 0);
        int q0 = 0;
        for (; q0 + 2 * lanes <= q; q0 += 2 * lanes)
        {
            TV a0 = TOps.Zero, a1 = TOps.Zero;
            float* x = rowBase + q0;
            for (int t = 0; t < tapCount; t++)
            {
                TV wv = TOps.Broadcast(w + t);
                a0 = TOps.Fma(TOps.Load(x + taps[t]), wv, a0);
                a1 = TOps.Fma(TOps.Load(x + taps[t] + lanes), wv, a1);
            }
            TOps.Store(dst + q0, a0);
            TOps.Store(dst + q0 + lanes, a1);
        }
        for (; q0 < q; q0 += lanes)
        {
            TV a = TOps.Zero;
            float* x = rowBase + q0;
            for (int t = 0; t < tapCount; t++)
            {
                a = TOps.Fma(TOps.Load(x + taps[t]), TOps.Broadcast(w + t), a);
            }
            ConvVecStore.StoreFirst<TV, TOps>(dst + q0, a, Math.Min(lanes, q - q0));
        }
    }

    /// <summary>
    /// The interior of an output row for horizontal stride 1: the q whose taps all fall inside [0, W),
    /// i.e. q − left ≥ 0 and q − left + (S−1)·dw ≤ W − 1. Returns an empty range (qLo = qHi) when there is none.
    /// </summary>
    public static (int QLo, int QHi) InteriorStride1(int w, int q, int s, int dilationW, int left)
    {
        int lo = Math.Min(left, q);
        int hi = Math.Min(q, w - 1 + left - (s - 1) * dilationW + 1);
        return hi > lo ? (lo, hi) : (lo, lo);
    }
}

/// <summary>The geometry the depthwise row kernels read.</summary>
internal readonly record struct DepthwiseGeometry(int H, int W, int R, int S, int StrideH, int StrideW, int DilationH, int DilationW, int Top, int Left)
{
    public static DepthwiseGeometry Of(Conv2dShape s) => new(s.H, s.W, s.R, s.S, s.Params.StrideH, s.Params.StrideW,
        s.Params.DilationH, s.Params.DilationW, s.Params.Padding.Top, s.Params.Padding.Left);
}

/// <summary>A <c>depthwise</c> plan at one SIMD level.</summary>
internal sealed unsafe class DepthwisePlan<TV, TOps> : IConv2dPlan
    where TV : unmanaged
    where TOps : IConvVec<TV>
{
    private readonly Conv2dShape _shape;
    private readonly CpuContext _context;
    private readonly CpuEpilogue _epilogue;
    private readonly DepthwiseGeometry _geometry;
    private readonly float[] _weights;        // pinned: K × R·S
    private readonly ConvPaddedInput? _layout; // horizontal stride > 1, or rows too narrow to read in place
    private readonly int[] _taps;             // pinned
    private readonly float[][] _scratch;      // pinned, one per chunk (padded layout only)
    private readonly int _chunks;
    private readonly PlaneJob _job;
    private readonly int _qLo, _qHi;
    private readonly ChannelBlockJob? _blockJob; // the channel-vectorized path, or null

    public DepthwisePlan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        _shape = shape;
        _context = context;
        _epilogue = new CpuEpilogue(shape.K, bias is null ? default : bias.Span, epilogue);
        _geometry = DepthwiseGeometry.Of(shape);
        _weights = GC.AllocateArray<float>(weights.Length, pinned: true);
        weights.Span.CopyTo(_weights); // K×1×R×S: the taps of a channel are already contiguous
        int planes = shape.N * shape.K;
        bool inPlace = false;
        if (shape.Params.StrideW == 1)
        {
            (_qLo, _qHi) = DepthwiseKernels.InteriorStride1(shape.W, shape.Q, shape.S, shape.Params.DilationW, shape.Params.Padding.Left);
            // Reading the plane in place pays only when the interior holds at least two whole vectors. On
            // narrower rows (MobileNet's 14×14 and 7×7 planes at 16 lanes) nearly every pixel would take the
            // checked scalar path — measured 25× slower than ORT on dw384_14 — so those copy the plane into the
            // padded layout instead and run whole vectors everywhere, like the strided case.
            inPlace = _qHi - _qLo >= 2 * TOps.Count;
        }
        // Channel-vectorized path: m = 1, 8 or 16 lanes, horizontal stride > 1 or rows no wider than one vector
        // (where the per-plane path wastes most lanes and pays a padded copy per plane anyway). Measured on
        // MobileNet at 16 lanes, 1 thread: dw576_14_s2 0.222 → 0.075 ms, dw960_7 0.182 → 0.069, dw192_28_s2
        // 0.202 → 0.102; at Q = 28 (> lanes, stride 1) the padded per-plane path stayed faster (0.172 vs 0.188).
        // The transposed block must stay cache-sized: dw96_112_s2 (817 KB at 16 lanes) measured 0.93 → 1.0 ms.
        long blockBytes = 4L * TOps.Count * (shape.H + shape.Params.Padding.Top + shape.Params.Padding.Bottom + shape.R)
            * (shape.W + shape.Params.Padding.Left + shape.Params.Padding.Right + shape.S);
        if (shape.K == shape.C && TOps.Count >= 8 && !inPlace && (shape.Params.StrideW > 1 || shape.Q <= TOps.Count)
            && blockBytes <= 512 * 1024)
        {
            _blockJob = new ChannelBlockJob(this);
            _chunks = _blockJob.Chunks;
            _scratch = [];
            _taps = [];
            _job = new PlaneJob(this);
            return;
        }
        if (inPlace)
        {
            // Planes are equal work and need no scratch: one task each, handed out dynamically.
            _chunks = planes;
            _scratch = [];
            _taps = [];
        }
        else
        {
            _layout = new ConvPaddedInput(shape, TOps.Count);
            _taps = GC.AllocateArray<int>(shape.R * shape.S, pinned: true);
            _layout.TapOffsets.CopyTo(_taps, 0);
            // A few chunks per thread, each with its own scratch plane (the zero padding persists across runs).
            _chunks = Math.Min(planes, 4 * context.Pool.Threads);
            _scratch = new float[_chunks][];
            for (int i = 0; i < _chunks; i++)
            {
                _scratch[i] = GC.AllocateArray<float>(checked((int)(_layout.PlaneStride + TOps.Count)), pinned: true);
            }
        }
        _job = new PlaneJob(this);
    }

    public Conv2dShape Shape => _shape;
    public string Algorithm => Conv2dDepthwise.AlgorithmName;
    public long WorkspaceBytes => 4L * (_weights.Length + _scratch.Sum(a => (long)a.Length)) + (_blockJob?.WorkspaceBytes ?? 0);
    public TensorShape OutputShape => _shape.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        ConvPlanChecks.Require(_shape, _epilogue.AddResidual, x, y, residual);
        fixed (float* px = x.Span)
        fixed (float* py = y.Span)
        fixed (float* pr = residual is null ? default : residual.Span)
        {
            if (_blockJob is not null)
            {
                _blockJob.X = px;
                _blockJob.Y = py;
                _blockJob.Residual = pr;
                _context.Pool.For(_chunks, _blockJob);
                return;
            }
            _job.X = px;
            _job.Y = py;
            _job.Residual = pr;
            _context.Pool.For(_chunks, _job);
        }
    }

    public void Dispose()
    {
    }

    /// <summary>
    /// Channel-vectorized depthwise (m = 1): a block of <c>lanes</c> channels of one image is transposed into a
    /// zero-padded [Hp][Wp][lanes] scratch, each output pixel is R·S vector FMAs against weights packed
    /// [block][R][S][lanes] (4 pixels in flight), the [P][Q][lanes] result is transposed back to NCHW and the
    /// epilogue runs per plane. Taps are accumulated in the same order (r, s) as the other paths, so results
    /// are bit-identical.
    /// </summary>
    private sealed class ChannelBlockJob : IParallelJob
    {
        public float* X;
        public float* Y;
        public float* Residual;

        private readonly DepthwisePlan<TV, TOps> _plan;
        private readonly int _blocks, _hp, _wp;
        private readonly float[] _packed;      // pinned: blocks × R·S × lanes
        private readonly float[][] _inScratch;  // pinned, one per chunk: Hp·Wp·lanes (padding stays zero)
        private readonly float[][] _outScratch; // pinned, one per chunk: P·Q·lanes

        public ChannelBlockJob(DepthwisePlan<TV, TOps> plan)
        {
            _plan = plan;
            Conv2dShape s = plan._shape;
            int lanes = TOps.Count, rs = s.R * s.S;
            Conv2dParams prm = s.Params;
            _blocks = (s.C + lanes - 1) / lanes;
            _hp = Math.Max(s.H + prm.Padding.Top, (s.P - 1) * prm.StrideH + (s.R - 1) * prm.DilationH + 1);
            _wp = Math.Max(s.W + prm.Padding.Left, (s.Q - 1) * prm.StrideW + (s.S - 1) * prm.DilationW + 1);
            _packed = GC.AllocateArray<float>(checked(_blocks * rs * lanes), pinned: true);
            for (int c = 0; c < s.C; c++)
            {
                int b = c / lanes, lane = c % lanes;
                for (int t = 0; t < rs; t++)
                {
                    _packed[((long)b * rs + t) * lanes + lane] = plan._weights[(long)c * rs + t];
                }
            }
            Chunks = Math.Min(s.N * _blocks, 4 * plan._context.Pool.Threads);
            _inScratch = new float[Chunks][];
            _outScratch = new float[Chunks][];
            for (int i = 0; i < Chunks; i++)
            {
                _inScratch[i] = GC.AllocateArray<float>(checked(_hp * _wp * lanes), pinned: true);
                _outScratch[i] = GC.AllocateArray<float>(checked(s.P * s.Q * lanes), pinned: true);
            }
        }

        public int Chunks { get; }

        public long WorkspaceBytes => 4L * (_packed.Length + _inScratch.Sum(a => (long)a.Length) + _outScratch.Sum(a => (long)a.Length));

        public void Run(int index)
        {
            DepthwisePlan<TV, TOps> pl = _plan;
            Conv2dShape s = pl._shape;
            Conv2dParams prm = s.Params;
            int lanes = TOps.Count, rs = s.R * s.S;
            long units = (long)s.N * _blocks;
            long first = index * units / Chunks, end = (index + 1) * units / Chunks;
            long inPlane = (long)s.H * s.W, outPlane = (long)s.P * s.Q;
            int top = prm.Padding.Top, left = prm.Padding.Left;
            fixed (float* packed = _packed)
            fixed (float* xin = _inScratch[index])
            fixed (float* xout = _outScratch[index])
            {
                for (long unit = first; unit < end; unit++)
                {
                    int n = (int)(unit / _blocks), b = (int)(unit % _blocks);
                    int c0 = b * lanes, cb = Math.Min(lanes, s.C - c0);
                    // Transpose in: channel ci of the block → lane ci of [Hp][Wp][lanes].
                    for (int ci = 0; ci < cb; ci++)
                    {
                        float* src = X + ((long)n * s.C + c0 + ci) * inPlane;
                        for (int y = 0; y < s.H; y++)
                        {
                            float* d = xin + ((long)(y + top) * _wp + left) * lanes + ci;
                            float* sr = src + (long)y * s.W;
                            for (int x = 0; x < s.W; x++)
                            {
                                d[(long)x * lanes] = sr[x];
                            }
                        }
                    }
                    Compute(s, packed + (long)b * rs * lanes, xin, xout);
                    // Transpose out and the epilogue, one plane at a time.
                    for (int ci = 0; ci < cb; ci++)
                    {
                        int k = c0 + ci;
                        long plane = (long)n * s.K + k;
                        float* dst = Y + plane * outPlane;
                        float* o = xout + ci;
                        for (long i = 0; i < outPlane; i++)
                        {
                            dst[i] = o[i * lanes];
                        }
                        if (!pl._epilogue.IsIdentity)
                        {
                            pl._epilogue.Apply(k, new Span<float>(dst, (int)outPlane),
                                Residual is null ? default : new ReadOnlySpan<float>(Residual + plane * outPlane, (int)outPlane));
                        }
                    }
                }
            }
        }

        private void Compute(Conv2dShape s, float* w, float* xin, float* xout)
        {
            Conv2dParams prm = s.Params;
            int lanes = TOps.Count;
            int sh = prm.StrideH, sw = prm.StrideW;
            long rowStep = (long)prm.DilationH * _wp * lanes, colStep = (long)prm.DilationW * lanes, qStep = (long)sw * lanes;
            int R = s.R, S = s.S, Q = s.Q;
            for (int p = 0; p < s.P; p++)
            {
                float* inRow = xin + (long)p * sh * _wp * lanes;
                float* outRow = xout + (long)p * Q * lanes;
                int q = 0;
                for (; q + 4 <= Q; q += 4)
                {
                    TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
                    float* xr = inRow + q * qStep;
                    float* wt = w;
                    for (int r = 0; r < R; r++, xr += rowStep)
                    {
                        float* x = xr;
                        for (int t = 0; t < S; t++, x += colStep, wt += lanes)
                        {
                            TV wv = TOps.Load(wt);
                            a0 = TOps.Fma(TOps.Load(x), wv, a0);
                            a1 = TOps.Fma(TOps.Load(x + qStep), wv, a1);
                            a2 = TOps.Fma(TOps.Load(x + 2 * qStep), wv, a2);
                            a3 = TOps.Fma(TOps.Load(x + 3 * qStep), wv, a3);
                        }
                    }
                    float* o = outRow + (long)q * lanes;
                    TOps.Store(o, a0);
                    TOps.Store(o + lanes, a1);
                    TOps.Store(o + 2 * lanes, a2);
                    TOps.Store(o + 3 * lanes, a3);
                }
                for (; q < Q; q++)
                {
                    TV a = TOps.Zero;
                    float* xr = inRow + q * qStep;
                    float* wt = w;
                    for (int r = 0; r < R; r++, xr += rowStep)
                    {
                        float* x = xr;
                        for (int t = 0; t < S; t++, x += colStep, wt += lanes)
                        {
                            a = TOps.Fma(TOps.Load(x), TOps.Load(wt), a);
                        }
                    }
                    TOps.Store(outRow + (long)q * lanes, a);
                }
            }
        }
    }

    private sealed class PlaneJob(DepthwisePlan<TV, TOps> plan) : IParallelJob
    {
        public float* X;
        public float* Y;
        public float* Residual;

        public void Run(int index)
        {
            DepthwisePlan<TV, TOps> pl = plan;
            Conv2dShape s = pl._shape;
            long planes = (long)s.N * s.K;
            long first = index * planes / pl._chunks, end = (index + 1) * planes / pl._chunks;
            int m = s.K / s.C;
            long inPlane = (long)s.H * s.W, outPlane = (long)s.P * s.Q;
            long copied = -1;
            fixed (float* weights = pl._weights)
            fixed (int* taps = pl._taps)
            {
                for (long plane = first; plane < end; plane++)
                {
                    int n = (int)(plane / s.K), k = (int)(plane % s.K);
                    long inIndex = (long)n * s.C + k / m;
                    float* src = X + inIndex * inPlane;
                    float* dst = Y + plane * outPlane;
                    float* w = weights + (long)k * s.R * s.S;
                    if (pl._layout is null)
                    {
                        for (int p = 0; p < s.P; p++)
                        {
                            float* row = dst + (long)p * s.Q;
                            DepthwiseKernels.CheckedRow(pl._geometry, src, row, w, p, 0, pl._qLo);
                            if (pl._qHi > pl._qLo)
                            {
                                DepthwiseKernels.InteriorRowStride1<TV, TOps>(pl._geometry, src, row, w, p, pl._qLo, pl._qHi);
                                DepthwiseKernels.CheckedRow(pl._geometry, src, row, w, p, pl._qHi, s.Q);
                            }
                            else
                            {
                                DepthwiseKernels.CheckedRow(pl._geometry, src, row, w, p, pl._qLo, s.Q);
                            }
                        }
                    }
                    else
                    {
                        fixed (float* scratch = pl._scratch[index])
                        {
                            if (copied != inIndex)
                            {
                                pl._layout.CopyPlane(src, scratch);
                                copied = inIndex;
                            }
                            for (int p = 0; p < s.P; p++)
                            {
                                DepthwiseKernels.PaddedRow<TV, TOps>(pl._layout, taps, s.R * s.S, scratch, dst + (long)p * s.Q, w, p, s.Q);
                            }
                        }
                    }
                    if (!pl._epilogue.IsIdentity)
                    {
                        pl._epilogue.Apply(k, new Span<float>(dst, (int)outPlane),
                            Residual is null ? default : new ReadOnlySpan<float>(Residual + plane * outPlane, (int)outPlane));
                    }
                }
            }
        }
    }
}
