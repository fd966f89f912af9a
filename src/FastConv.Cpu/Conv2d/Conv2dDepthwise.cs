using System.Runtime.CompilerServices;
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

    /// <summary>
    /// Not for a dense conv on a one-channel image with 16 or more outputs (MNIST's first conv: C = 1, K = 32, 5×5,
    /// pad 2): it is "depthwise" with a channel multiplier of K, but one plane at a time leaves the padded borders to
    /// the scalar loop; the dense paths do better (for that 5×5, <c>direct-nchwc</c>: output channels in the lanes, a
    /// padded copy of the image; a pointwise one goes to the 1×1 paths).
    /// Measured on that layer (<c>fastconv run builtin:mnist --profile</c>, 1 thread, Zen 5): AVX-512 0.079 → 0.020 ms,
    /// AVX2 0.196 → 0.029, 128-bit 0.145 → 0.079; scalar code is slower there (0.29 → 0.35), so it keeps this path.
    /// </summary>
    public bool IsWorthIt(Conv2dShape shape, CpuContext context)
        => context.Simd == SimdLevel.Scalar || !(shape.C == 1 && shape.K >= 16);

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
        // Channel-vectorized path: m = 1 with 8 or 16 lanes, every stride and plane size. It replaced the per-plane
        // paths there (measured at 16 lanes, 1 thread, against ONNX Runtime in the same run: those were 2–3.7× slower
        // on MobileNet's layers: latency-bound single accumulators on 56-wide rows, scalar borders, scalar
        // de-interleaving for stride 2, scalar transposes); the per-plane paths remain for channel multipliers > 1
        // and the narrow SIMD levels.
        if (shape.K == shape.C && TOps.Count >= 8)
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
    /// Channel-vectorized depthwise (m = 1): a block of <c>lanes</c> channels of one image, a strip of output rows
    /// at a time. The strip's input rows are transposed 16×16 (8×8 on AVX2) in registers straight into a zero-padded
    /// [strip rows][Wp][lanes] scratch (rows narrower than a block as one run, each pixel vector stored at its place); each output pixel is R·S
    /// vector FMAs against weights packed [block][R][S][lanes] (4 pixels in flight); the strip's [rows·Q][lanes]
    /// result is transposed back into the NCHW planes and the epilogue runs on it while it is in cache. Strips
    /// keep the scratch near 96 KB whatever the plane (a whole 112×112 block would be 800 KB), at the price of
    /// transposing the (R−1)·dh rows two strips share twice. Taps are accumulated in the same order (r, s) as
    /// the other paths, so results are bit-identical.
    /// </summary>
    private sealed class ChannelBlockJob : IParallelJob
    {
        /// <summary>Target bytes of one strip's two buffers (padded input, output).</summary>
        private const int StripBytes = 96 * 1024;

        public float* X;
        public float* Y;
        public float* Residual;

        private readonly DepthwisePlan<TV, TOps> _plan;
        private readonly int _blocks, _wp, _stripRows, _strips, _stripInRows;
        private readonly float[] _packed;          // pinned: blocks × R·S × lanes
        private readonly int[] _inputPlaces;       // pinned: input pixel (y, x) of a run starting at row 0 → (y·Wp + left + x)·lanes
        private readonly PinnedBuffer[] _inPadded; // per thread: [strip rows][Wp][lanes], padding columns zero
        private readonly PinnedBuffer[] _out;      // per thread: [strip rows·Q][lanes]
        private readonly int[] _busy;
        private readonly int[] _pixelOffsets;      // pinned: strip pixel j = (p, q) → (p·sh·Wp + q·sw)·lanes
        private readonly int[] _tapOffsets;        // pinned: tap (r, s) → (r·dh·Wp + s·dw)·lanes
        private readonly bool _rows3;              // S = 3, sw ≤ 2, dw = 1: the row kernels that share loads

        public ChannelBlockJob(DepthwisePlan<TV, TOps> plan)
        {
            _plan = plan;
            Conv2dShape s = plan._shape;
            int lanes = TOps.Count, rs = s.R * s.S;
            Conv2dParams prm = s.Params;
            _blocks = (s.C + lanes - 1) / lanes;
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
            // Output rows per strip: as many as keep the two buffers (padded input, output) near StripBytes, at least one.
            int span = (s.R - 1) * prm.DilationH + 1;
            long perRow = 4L * lanes * ((long)prm.StrideH * _wp + s.Q);
            _stripRows = (int)Math.Clamp((StripBytes - 4L * lanes * (span - prm.StrideH) * _wp) / perRow, 1, s.P);
            _strips = (s.P + _stripRows - 1) / _stripRows;
            _stripInRows = (_stripRows - 1) * prm.StrideH + span;
            int threads = plan._context.Pool.Threads;
            _inPadded = new PinnedBuffer[threads];
            _out = new PinnedBuffer[threads];
            for (int i = 0; i < threads; i++)
            {
                _inPadded[i] = new PinnedBuffer((long)_stripInRows * _wp * lanes);
                new Span<float>(_inPadded[i].Pointer, checked((int)_inPadded[i].Length)).Clear();
                _out[i] = new PinnedBuffer((long)_stripRows * s.Q * lanes);
            }
            _inputPlaces = GC.AllocateArray<int>(s.W < lanes ? _stripInRows * s.W : 0, pinned: true);
            for (int j = 0; j < _inputPlaces.Length; j++)
            {
                _inputPlaces[j] = checked((j / s.W * _wp + prm.Padding.Left + j % s.W) * lanes);
            }
            _busy = new int[threads];
            _pixelOffsets = GC.AllocateArray<int>(_stripRows * s.Q, pinned: true);
            for (int j = 0; j < _pixelOffsets.Length; j++)
            {
                _pixelOffsets[j] = checked(((j / s.Q) * prm.StrideH * _wp + (j % s.Q) * prm.StrideW) * lanes);
            }
            _rows3 = s.S == 3 && prm.StrideW <= 2 && prm.DilationW == 1;
            _tapOffsets = GC.AllocateArray<int>(rs, pinned: true);
            for (int r = 0; r < s.R; r++)
            {
                for (int t = 0; t < s.S; t++)
                {
                    _tapOffsets[r * s.S + t] = (r * prm.DilationH * _wp + t * prm.DilationW) * lanes;
                }
            }
        }

        /// <summary>Units of work: (image, channel block, strip of output rows).</summary>
        public int Chunks => checked(_plan._shape.N * _blocks * _strips);

        public long WorkspaceBytes => 4L * (_packed.Length + _inputPlaces.Length) + _inPadded.Sum(b => b.Bytes) + _out.Sum(b => b.Bytes);

        public void Run(int index)
        {
            int slot = 0;
            while (Interlocked.CompareExchange(ref _busy[slot], 1, 0) != 0)
            {
                slot = slot + 1 == _busy.Length ? 0 : slot + 1;
                if (slot == 0)
                {
                    Thread.SpinWait(1);
                }
            }
            try
            {
                Strip(index, _inPadded[slot].Pointer, _out[slot].Pointer);
            }
            finally
            {
                Volatile.Write(ref _busy[slot], 0);
            }
        }

        private void Strip(int index, float* xin, float* xout)
        {
            DepthwisePlan<TV, TOps> pl = _plan;
            Conv2dShape s = pl._shape;
            Conv2dParams prm = s.Params;
            int lanes = TOps.Count, rs = s.R * s.S;
            int strip = index % _strips, unit = index / _strips;
            int n = unit / _blocks, b = unit % _blocks;
            int c0 = b * lanes, cb = Math.Min(lanes, s.C - c0);
            int p0 = strip * _stripRows, p1 = Math.Min(s.P, p0 + _stripRows);
            long inPlane = (long)s.H * s.W, outPlane = (long)s.P * s.Q;
            int left = prm.Padding.Left;
            // Input rows y0 .. y0 + _stripInRows − 1 (padded coordinates shifted by top) feed this strip.
            int y0 = p0 * prm.StrideH - prm.Padding.Top;
            int rows = (p1 - p0 - 1) * prm.StrideH + (s.R - 1) * prm.DilationH + 1;
            int yLo = Math.Max(y0, 0), yHi = Math.Min(y0 + rows, s.H);
            float* src = X + ((long)n * s.C + c0) * inPlane;
            // Input rows go straight into their padded places: rows at least a block wide one at a time, narrower
            // ones as one flat run whose pixel vectors are scattered to their rows by a table.
            if (yHi > yLo)
            {
                if (s.W >= lanes)
                {
                    for (int y = yLo; y < yHi; y++)
                    {
                        NchwcTranspose.RowsToBlock(src + (long)y * s.W, inPlane, lanes, s.W, cb, xin + ((long)(y - y0) * _wp + left) * lanes);
                    }
                }
                else
                {
                    fixed (int* at = _inputPlaces)
                    {
                        NchwcTranspose.RowsToBlockScatter(src + (long)yLo * s.W, inPlane, lanes, (yHi - yLo) * s.W, cb,
                            xin + (long)(yLo - y0) * _wp * lanes, at);
                    }
                }
            }
            long rowFloats = (long)_wp * lanes;
            for (int i = 0; i < rows; i++)
            {
                int y = y0 + i;
                if (y < yLo || y >= yHi)
                {
                    new Span<float>(xin + i * rowFloats, (int)rowFloats).Clear();
                }
            }
            Compute(p1 - p0, _packed, b * rs * lanes, xin, xout);
            float* dst = Y + ((long)n * s.K + c0) * outPlane + (long)p0 * s.Q;
            int len = (p1 - p0) * s.Q;
            bool finished = pl._epilogue.IsIdentity || pl._epilogue.TryApplyBlocked(c0, cb, xout, len, lanes);
            NchwcTranspose.BlockToRows(xout, lanes, len, cb, dst, outPlane);
            if (!finished)
            {
                for (int ci = 0; ci < cb; ci++)
                {
                    long off = ((long)n * s.K + c0 + ci) * outPlane + (long)p0 * s.Q;
                    pl._epilogue.Apply(c0 + ci, new Span<float>(Y + off, len),
                        Residual is null ? default : new ReadOnlySpan<float>(Residual + off, len));
                }
            }
        }

        /// <summary>
        /// Up to 8 consecutive output pixels (<typeparamref name="TP"/>) of one row for S = 3, horizontal stride and
        /// dilation 1: per filter row the n + 2 input vectors the pixels share are loaded once and feed 3·n FMAs (13
        /// loads instead of 27 for 8 pixels), summed in the reference's (r, s) order.
        /// </summary>
        private static void Row3<TP>(float* x, long rowStep, int rCount, float* w, float* o)
            where TP : struct, INchwcPixels
        {
            int L = TOps.Count, n = TP.N;
            TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero, a4 = TOps.Zero, a5 = TOps.Zero, a6 = TOps.Zero, a7 = TOps.Zero;
            for (int r = 0; r < rCount; r++, x += rowStep, w += 3 * L)
            {
                TV w0 = TOps.Load(w), w1 = TOps.Load(w + L), w2 = TOps.Load(w + 2 * L);
                TV x0 = TOps.Load(x), x1 = TOps.Load(x + L), x2 = TOps.Load(x + 2 * L);
                a0 = TOps.Fma(x0, w0, a0); a0 = TOps.Fma(x1, w1, a0); a0 = TOps.Fma(x2, w2, a0);
                if (n > 1)
                {
                    TV x3 = TOps.Load(x + 3 * L);
                    a1 = TOps.Fma(x1, w0, a1); a1 = TOps.Fma(x2, w1, a1); a1 = TOps.Fma(x3, w2, a1);
                    if (n > 2)
                    {
                        TV x4 = TOps.Load(x + 4 * L);
                        a2 = TOps.Fma(x2, w0, a2); a2 = TOps.Fma(x3, w1, a2); a2 = TOps.Fma(x4, w2, a2);
                        if (n > 3)
                        {
                            TV x5 = TOps.Load(x + 5 * L);
                            a3 = TOps.Fma(x3, w0, a3); a3 = TOps.Fma(x4, w1, a3); a3 = TOps.Fma(x5, w2, a3);
                            if (n > 4)
                            {
                                TV x6 = TOps.Load(x + 6 * L);
                                a4 = TOps.Fma(x4, w0, a4); a4 = TOps.Fma(x5, w1, a4); a4 = TOps.Fma(x6, w2, a4);
                                if (n > 5)
                                {
                                    TV x7 = TOps.Load(x + 7 * L);
                                    a5 = TOps.Fma(x5, w0, a5); a5 = TOps.Fma(x6, w1, a5); a5 = TOps.Fma(x7, w2, a5);
                                    if (n > 6)
                                    {
                                        TV x8 = TOps.Load(x + 8 * L);
                                        a6 = TOps.Fma(x6, w0, a6); a6 = TOps.Fma(x7, w1, a6); a6 = TOps.Fma(x8, w2, a6);
                                        if (n > 7)
                                        {
                                            TV x9 = TOps.Load(x + 9 * L);
                                            a7 = TOps.Fma(x7, w0, a7); a7 = TOps.Fma(x8, w1, a7); a7 = TOps.Fma(x9, w2, a7);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Store8<TP>(o, a0, a1, a2, a3, a4, a5, a6, a7);
        }

        /// <summary>
        /// <see cref="Row3{TP}"/> for horizontal stride 2: pixel i reads columns 2i..2i+2, so each filter row loads
        /// the 2n + 1 columns once (pixel i's last is pixel i+1's first) for 3·n FMAs.
        /// </summary>
        private static void Row3Stride2<TP>(float* x, long rowStep, int rCount, float* w, float* o)
            where TP : struct, INchwcPixels
        {
            int L = TOps.Count, n = TP.N;
            TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero, a4 = TOps.Zero, a5 = TOps.Zero, a6 = TOps.Zero, a7 = TOps.Zero;
            for (int r = 0; r < rCount; r++, x += rowStep, w += 3 * L)
            {
                TV w0 = TOps.Load(w), w1 = TOps.Load(w + L), w2 = TOps.Load(w + 2 * L);
                TV e = TOps.Load(x), m, f;
                m = TOps.Load(x + L); f = TOps.Load(x + 2 * L);
                a0 = TOps.Fma(e, w0, a0); a0 = TOps.Fma(m, w1, a0); a0 = TOps.Fma(f, w2, a0);
                if (n > 1)
                {
                    m = TOps.Load(x + 3 * L); e = TOps.Load(x + 4 * L);
                    a1 = TOps.Fma(f, w0, a1); a1 = TOps.Fma(m, w1, a1); a1 = TOps.Fma(e, w2, a1);
                }
                if (n > 2)
                {
                    m = TOps.Load(x + 5 * L); f = TOps.Load(x + 6 * L);
                    a2 = TOps.Fma(e, w0, a2); a2 = TOps.Fma(m, w1, a2); a2 = TOps.Fma(f, w2, a2);
                }
                if (n > 3)
                {
                    m = TOps.Load(x + 7 * L); e = TOps.Load(x + 8 * L);
                    a3 = TOps.Fma(f, w0, a3); a3 = TOps.Fma(m, w1, a3); a3 = TOps.Fma(e, w2, a3);
                }
                if (n > 4)
                {
                    m = TOps.Load(x + 9 * L); f = TOps.Load(x + 10 * L);
                    a4 = TOps.Fma(e, w0, a4); a4 = TOps.Fma(m, w1, a4); a4 = TOps.Fma(f, w2, a4);
                }
                if (n > 5)
                {
                    m = TOps.Load(x + 11 * L); e = TOps.Load(x + 12 * L);
                    a5 = TOps.Fma(f, w0, a5); a5 = TOps.Fma(m, w1, a5); a5 = TOps.Fma(e, w2, a5);
                }
                if (n > 6)
                {
                    m = TOps.Load(x + 13 * L); f = TOps.Load(x + 14 * L);
                    a6 = TOps.Fma(e, w0, a6); a6 = TOps.Fma(m, w1, a6); a6 = TOps.Fma(f, w2, a6);
                }
                if (n > 7)
                {
                    m = TOps.Load(x + 15 * L); e = TOps.Load(x + 16 * L);
                    a7 = TOps.Fma(f, w0, a7); a7 = TOps.Fma(m, w1, a7); a7 = TOps.Fma(e, w2, a7);
                }
            }
            Store8<TP>(o, a0, a1, a2, a3, a4, a5, a6, a7);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store8<TP>(float* o, TV a0, TV a1, TV a2, TV a3, TV a4, TV a5, TV a6, TV a7)
            where TP : struct, INchwcPixels
        {
            int L = TOps.Count, n = TP.N;
            TOps.Store(o, a0);
            if (n > 1) { TOps.Store(o + L, a1); }
            if (n > 2) { TOps.Store(o + 2 * L, a2); }
            if (n > 3) { TOps.Store(o + 3 * L, a3); }
            if (n > 4) { TOps.Store(o + 4 * L, a4); }
            if (n > 5) { TOps.Store(o + 5 * L, a5); }
            if (n > 6) { TOps.Store(o + 6 * L, a6); }
            if (n > 7) { TOps.Store(o + 7 * L, a7); }
        }

        /// <summary>One row piece of <paramref name="n"/> (1..8) pixels through the 3-tap row kernel of the stride.</summary>
        private static void RowPiece(int n, int sw, float* x, long rowStep, int rCount, float* w, float* o)
        {
            if (sw == 1)
            {
                switch (n)
                {
                    case 8: Row3<Px8>(x, rowStep, rCount, w, o); break;
                    case 7: Row3<Px7>(x, rowStep, rCount, w, o); break;
                    case 6: Row3<Px6>(x, rowStep, rCount, w, o); break;
                    case 5: Row3<Px5>(x, rowStep, rCount, w, o); break;
                    case 4: Row3<Px4>(x, rowStep, rCount, w, o); break;
                    case 3: Row3<Px3>(x, rowStep, rCount, w, o); break;
                    case 2: Row3<Px2>(x, rowStep, rCount, w, o); break;
                    default: Row3<Px1>(x, rowStep, rCount, w, o); break;
                }
                return;
            }
            switch (n)
            {
                case 8: Row3Stride2<Px8>(x, rowStep, rCount, w, o); break;
                case 7: Row3Stride2<Px7>(x, rowStep, rCount, w, o); break;
                case 6: Row3Stride2<Px6>(x, rowStep, rCount, w, o); break;
                case 5: Row3Stride2<Px5>(x, rowStep, rCount, w, o); break;
                case 4: Row3Stride2<Px4>(x, rowStep, rCount, w, o); break;
                case 3: Row3Stride2<Px3>(x, rowStep, rCount, w, o); break;
                case 2: Row3Stride2<Px2>(x, rowStep, rCount, w, o); break;
                default: Row3Stride2<Px1>(x, rowStep, rCount, w, o); break;
            }
        }

        /// <summary>
        /// Output rows [0, pRows) of the strip in <paramref name="xin"/> ([rows][Wp][lanes]) into xout ([pRows·Q][lanes]):
        /// the strip's pixels as one flat run, 8 at a time across row ends (8 independent accumulators hide the FMA
        /// latency even on 7-wide rows), each pixel's first tap found in a table, every tap one weight load and 8 FMAs.
        /// </summary>
        private void Compute(int pRows, float[] packed, int wOffset, float* xin, float* xout)
        {
            int lanes = TOps.Count, count = pRows * _plan._shape.Q, taps = _tapOffsets.Length;
            fixed (float* w = &packed[wOffset])
            fixed (int* pix = _pixelOffsets)
            fixed (int* tap = _tapOffsets)
            {
                if (_rows3)
                {
                    Conv2dShape s = _plan._shape;
                    int q = s.Q;
                    long rowStep = (long)s.Params.DilationH * _wp * lanes;
                    for (int p = 0; p < pRows; p++)
                    {
                        float* inRow = xin + pix[p * q];
                        float* outRow = xout + (long)p * q * lanes;
                        int sw = s.Params.StrideW;
                        if (q < 8)
                        {
                            RowPiece(q, sw, inRow, rowStep, s.R, w, outRow);
                            continue;
                        }
                        for (int q0 = 0; q0 < q; q0 += 8)
                        {
                            int at = Math.Min(q0, q - 8); // the last group overlaps the one before: same values twice
                            RowPiece(8, sw, inRow + (long)sw * at * lanes, rowStep, s.R, w, outRow + (long)at * lanes);
                        }
                    }
                    return;
                }
                for (int j = 0; j < count; j += 8)
                {
                    int n = Math.Min(8, count - j);
                    int last = j + n - 1;
                    float* x0 = xin + pix[j];
                    float* x1 = xin + pix[Math.Min(j + 1, last)];
                    float* x2 = xin + pix[Math.Min(j + 2, last)];
                    float* x3 = xin + pix[Math.Min(j + 3, last)];
                    float* x4 = xin + pix[Math.Min(j + 4, last)];
                    float* x5 = xin + pix[Math.Min(j + 5, last)];
                    float* x6 = xin + pix[Math.Min(j + 6, last)];
                    float* x7 = xin + pix[Math.Min(j + 7, last)];
                    TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
                    TV a4 = TOps.Zero, a5 = TOps.Zero, a6 = TOps.Zero, a7 = TOps.Zero;
                    float* wt = w;
                    for (int t = 0; t < taps; t++, wt += lanes)
                    {
                        nint off = tap[t];
                        TV wv = TOps.Load(wt);
                        a0 = TOps.Fma(TOps.Load(x0 + off), wv, a0);
                        a1 = TOps.Fma(TOps.Load(x1 + off), wv, a1);
                        a2 = TOps.Fma(TOps.Load(x2 + off), wv, a2);
                        a3 = TOps.Fma(TOps.Load(x3 + off), wv, a3);
                        a4 = TOps.Fma(TOps.Load(x4 + off), wv, a4);
                        a5 = TOps.Fma(TOps.Load(x5 + off), wv, a5);
                        a6 = TOps.Fma(TOps.Load(x6 + off), wv, a6);
                        a7 = TOps.Fma(TOps.Load(x7 + off), wv, a7);
                    }
                    float* o = xout + (long)j * lanes;
                    TOps.Store(o, a0);
                    if (n > 1) { TOps.Store(o + lanes, a1); }
                    if (n > 2) { TOps.Store(o + 2 * lanes, a2); }
                    if (n > 3) { TOps.Store(o + 3 * lanes, a3); }
                    if (n > 4) { TOps.Store(o + 4 * lanes, a4); }
                    if (n > 5) { TOps.Store(o + 5 * lanes, a5); }
                    if (n > 6) { TOps.Store(o + 6 * lanes, a6); }
                    if (n > 7) { TOps.Store(o + 7 * lanes, a7); }
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
