using System.Runtime.Intrinsics;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// Winograd convolution F(m×m, 3×3) (Lavin &amp; Gray, arXiv 1509.09308): <c>winograd</c> is F(4×4, 3×3)
/// (6×6 input tiles, 36 multiplies per 16 outputs instead of 144), <c>winograd-f2</c> is F(2×2, 3×3)
/// (4×4 tiles, 16 per 4 instead of 36; less speed-up, about a quarter of the rounding error).
/// <para>
/// Supports 3×3 filters, stride 1, dilation 1, groups 1, any padding, only with
/// <see cref="CpuPrecision.Fast"/> (its rounding differs from plain summation; see
/// <c>CpuConvErrorFactors</c> in the tests for the bound), and only when C ≥ 8 and K ≥ 8: the transforms
/// cost O(C + K) per tile while the multiplies they save are O(C·K), and the 36 GEMMs have inner dimension C —
/// with C = 3 (VGG conv1, where NNPACK measured Winograd slower than im2col + GEMM) each GEMM is a rank-3
/// update bound by memory, and with K &lt; 8 the output transform dominates.
/// </para>
/// </summary>
public sealed class WinogradConv2d : IConv2dAlgorithm
{
    /// <summary>The smallest C and K Winograd takes (see the class summary).</summary>
    public const int MinChannels = 8;

    private readonly int _m;

    private WinogradConv2d(string name, int m)
    {
        Name = name;
        _m = m;
    }

    /// <summary>F(4×4, 3×3).</summary>
    public static WinogradConv2d F4 { get; } = new("winograd", 4);

    /// <summary>F(2×2, 3×3).</summary>
    public static WinogradConv2d F2 { get; } = new("winograd-f2", 2);

    public string Name { get; }

    public bool Supports(Conv2dShape shape, CpuContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Conv2dParams p = shape.Params;
        return context.Options.Precision == CpuPrecision.Fast
            && shape.R == 3 && shape.S == 3 && p.StrideH == 1 && p.StrideW == 1 && p.DilationH == 1 && p.DilationW == 1
            && p.Groups == 1 && shape.C >= MinChannels && shape.K >= MinChannels;
    }

    /// <summary>
    /// Winograd pays only with enough tiles: the filter transform U (36·K·C floats) is streamed once per block,
    /// each of its values used once per tile of the block, and tiles are padded to a multiple of 16 for the GEMM.
    /// With U packed at plan time and the 36 GEMMs batched (this version), F(4×4) beat `direct` on one thread
    /// from 16 tiles on (ResNet-50 l3_3x3, 256 ch at 14×14: 1.48 vs 1.61 ms; VGG conv5_2, 512 ch at 14×14:
    /// 6.7 vs 9.3 ms; l2_3x3, 49 tiles: 1.4 vs 2.8 ms) but not with 4 (l4_3x3, 512 ch at 7×7: 4.2 vs 2.9 ms,
    /// U's 38 MB then outweigh the 9 MB of filters `direct` reads). So automatic selection takes F(4×4) from
    /// 16 tiles. F(2×2) saves 2.25× the multiplications where F(4×4) saves 4×: it is never chosen
    /// automatically, only when forced by name for its accuracy.
    /// </summary>
    public bool IsWorthIt(Conv2dShape shape, CpuContext context)
        => _m == 4 && (long)shape.N * ((shape.P + _m - 1) / _m) * ((shape.Q + _m - 1) / _m) >= MinTilesWorthIt;

    private const int MinTilesWorthIt = 16;

    public IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(context);
        if (!Supports(shape, context))
        {
            throw new InvalidHyperparameterException($"cpu backend: conv algorithm '{Name}' does not support {shape} (precision {context.Options.Precision}).");
        }
        return new WinogradConv2dPlan(Name, _m, shape, weights, bias, epilogue, context, default);
    }

    /// <summary>
    /// Plans with a forced schedule instead of the automatic one: tests use it to put block boundaries inside
    /// tile rows and to run both thread modes on small problems, the benchmarks' quick loop to tune.
    /// </summary>
    internal IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context, WinogradSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(context);
        if (!Supports(shape, context))
        {
            throw new InvalidHyperparameterException($"cpu backend: conv algorithm '{Name}' does not support {shape} (precision {context.Options.Precision}).");
        }
        return new WinogradConv2dPlan(Name, _m, shape, weights, bias, epilogue, context, schedule);
    }
}

/// <summary>
/// A forced Winograd schedule: <paramref name="BlockTiles"/> tiles per block (0: automatic) and whether the threads
/// share each block (<c>true</c>), run whole blocks each (<c>false</c>) or as the plan decides (null).
/// </summary>
internal readonly record struct WinogradSchedule(int BlockTiles, bool? Cooperative);

/// <summary>
/// A planned Winograd convolution. Output tiles (m×m, read from α×α input tiles, α = m + 2) are numbered
/// g = (n·TY + ty)·TX + tx over the whole batch; a block is a run of consecutive tiles (it may span tile rows and
/// images). Each block goes through three phases:
/// <list type="number">
/// <item>input transform, per input channel c: <c>V[ξ][c][t] = (Bᵀ d B)[ξ]</c> for the block's tiles t, written
/// straight into the layout the GEMM reads (<see cref="WinogradGemm"/>);</item>
/// <item>the α² GEMMs <c>M[ξ] (K×T) = U[ξ] (K×C) · V[ξ] (C×T)</c>, U transformed and packed at plan time, split
/// into (ξ, MR-row block of K) items;</item>
/// <item>output transform per output channel k, <c>Y = Aᵀ M A</c>, with the epilogue fused in and the valid
/// outputs written once.</item>
/// </list>
/// <para>
/// Threads: each takes whole blocks, handed out dynamically, with its own V and M (one pool call per run; blocks
/// are sized so every thread gets one). When the tiles are too few for that (≤ 16 per spare thread), all threads
/// share the block instead, every phase split across them (channels, GEMM items, output channels): U is then
/// streamed once per block rather than once per thread, but each phase is a pool call that waits for the
/// slowest helper — cheap on a quiet machine, ruinous on one shared with other work.
/// </para>
/// <para>
/// At AVX-512 with F(4×4) the transforms work on whole tile rows straight from and to the tensors
/// (<see cref="WinogradAvx512"/>); other levels and F(2×2) gather each tile into a scratch (zero-padded) and run
/// the generic vector transforms of <see cref="WinogradTransforms"/>, with the epilogue applied per output row
/// piece. Nothing is allocated per run: buffers are sized at plan time for the largest block.
/// </para>
/// </summary>
internal sealed unsafe class WinogradConv2dPlan : IConv2dPlan
{
    /// <summary>
    /// Bytes of V + M for one block: they live in L2/L3 between the phases (written by one phase, read by the
    /// next), and a block this size keeps U's stream (U is reread once per block) below about one byte per 25
    /// flops even for 512 channels.
    /// </summary>
    private const long BlockBytes = 6L << 20;

    private readonly int _m, _alpha, _points, _c, _k, _mr, _kBlocks;
    private readonly SimdLevel _level;
    private readonly bool _fastInput, _fastOutput, _cooperative;
    private readonly int _tilesX, _tilesY, _tiles, _blockTiles, _tPad, _blocks;
    private readonly nint _ldb;
    private readonly PinnedBuffer _u;
    private readonly PinnedBuffer[] _vBuffers, _mBuffers;
    private readonly PinnedBuffer _zeroRow;
    private readonly Scratch[] _scratch;
    private readonly float[]? _mul, _add;
    private readonly Activation _activation;
    private readonly CpuEpilogue _epilogue;

    /// <summary>
    /// Output rows and columns whose 3×3 window touches the image. Outside them (padding ≥ 3) the conv is exactly 0,
    /// but Winograd would leave there rounding noise from the rest of the tile, with nothing to scale it against.
    /// </summary>
    private readonly (int Start, int End) _liveRows, _liveCols;

    private readonly CpuContext _context;
    private readonly PhaseJob _phaseJob;
    private readonly BlockJob _blockJob;
    private readonly int _workers;

    // The tensors of the run in progress (pinned by Execute for its duration).
    private float* _x, _y, _r;

    private static unsafe PinnedBuffer TransformFilters(ReadOnlySpan<float> w, int m, int points, int k, int c, int mr, int kPad)
    {
        float[] u = new float[points * k * c];
        double[,] gm = m == 4 ? WinogradTransforms.GF4 : WinogradTransforms.GF2;
        for (int ki = 0; ki < k; ki++)
        {
            for (int ci = 0; ci < c; ci++)
            {
                WinogradTransforms.Filter(gm, w.Slice((ki * c + ci) * 9, 9), u.AsSpan(ki * c + ci), k * c);
            }
        }
        var packed = new PinnedBuffer((long)points * kPad * c);
        WinogradGemm.PackU(u, points, k, c, mr, packed.Pointer);
        return packed;
    }

    public WinogradConv2dPlan(string name, int m, Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context, WinogradSchedule schedule)
    {
        Algorithm = name;
        Shape = shape;
        _context = context;
        _m = m;
        _alpha = m + 2;
        _points = _alpha * _alpha;
        _c = shape.C;
        _k = shape.K;
        _level = context.Simd;
        _mr = WinogradGemm.MR(_level);
        _kBlocks = (_k + _mr - 1) / _mr;
        int kPad = _kBlocks * _mr;

        // U[ξ][k][c] = (G g Gᵀ)[ξ] in double, rounded once; then packed into MR-row micro-panels (once per weights
        // for all of a session's execution contexts).
        int points = _points, kk = _k, cc = _c, mr = _mr;
        _u = PlanSharing.Get(weights.Memory, ("winograd", m, _level, kk, cc), () => TransformFilters(weights.Span, m, points, kk, cc, mr, kPad));

        ReadOnlySpan<float> b = bias is null ? default : bias.Span;
        _epilogue = new CpuEpilogue(_k, b, epilogue, _level);
        if (epilogue.Scale is not null)
        {
            _mul = (float[])epilogue.Scale.Clone();
        }
        if (!b.IsEmpty || epilogue.Shift is not null)
        {
            // As CpuEpilogue folds them: z·Scale + (bias·Scale + Shift).
            _add = new float[_k];
            for (int i = 0; i < _k; i++)
            {
                float bi = b.IsEmpty ? 0f : b[i];
                _add[i] = (_mul is null ? bi : bi * _mul[i]) + (epilogue.Shift?[i] ?? 0f);
            }
        }
        _activation = epilogue.Activation;

        Padding2d pad = shape.Params.Padding;
        _liveRows = (Math.Max(0, pad.Top - 2), Math.Min(shape.P, shape.H + pad.Top));
        _liveCols = (Math.Max(0, pad.Left - 2), Math.Min(shape.Q, shape.W + pad.Left));
        bool deadZones = _liveRows != (0, shape.P) || _liveCols != (0, shape.Q);
        _fastInput = _level == SimdLevel.Avx512 && m == 4;
        _fastOutput = _fastInput && !deadZones;

        _tilesX = (shape.Q + m - 1) / m;
        _tilesY = (shape.P + m - 1) / m;
        long tiles = (long)shape.N * _tilesY * _tilesX;
        if (tiles > int.MaxValue / 2)
        {
            throw new InvalidShapeException($"cpu backend: conv algorithm '{name}' cannot tile {shape}: {tiles} tiles.");
        }
        _tiles = (int)tiles;
        int threads = context.Pool.Threads;

        // Block size. Every tile costs 4·α²·(C + K) bytes of V and M; a block's V and M live in L2/L3 between the
        // phases, and U is streamed once per block, so blocks are as large as that budget allows — but no larger
        // than a thread's share of the tiles, so that every thread has a block.
        long perTile = 4L * _points * (_c + kPad);
        int budgetTiles = Math.Max(16, RoundDown16(BlockBytes / perTile));
        int share = (int)(((long)_tiles + threads - 1) / threads + 15) / 16 * 16;
        int tb = Math.Min(budgetTiles, share);
        // Threads run whole blocks of their own (one pool call per run). Only when there are too few tiles for
        // a block per thread (≤ 16 tiles, e.g. 14×14 at batch 1) do they share the one block phase by phase:
        // three pool calls per block, each a wait for the slowest helper — cheap on a quiet machine, costly on a
        // busy one, so not the default where private blocks work.
        _cooperative = schedule.Cooperative ?? (threads > 1 && _tiles <= 16 * (threads - 1));
        _cooperative &= threads > 1;
        if (_cooperative)
        {
            tb = budgetTiles;
        }
        if (schedule.BlockTiles > 0)
        {
            tb = schedule.BlockTiles;
        }
        _blockTiles = Math.Min(tb, _tiles);
        _blocks = (_tiles + _blockTiles - 1) / _blockTiles;
        // Equal blocks: the last one no smaller than the others need be.
        _blockTiles = (_tiles + _blocks - 1) / _blocks;
        _tPad = (_blockTiles + 15) / 16 * 16;
        // Row stride of V and M: 16 floats of slack for the 16-lane stores past a row's last tile, and a stride
        // that is not a multiple of 4 KB (an odd number of 64-byte lines), so rows do not fight for cache sets.
        int ld = _tPad + 16;
        if ((ld / 16) % 2 == 0)
        {
            ld += 16;
        }
        _ldb = ld;

        _workers = Math.Max(1, Math.Min(threads, _cooperative ? threads : _blocks));
        int sets = _cooperative ? 1 : _workers;
        _vBuffers = new PinnedBuffer[sets];
        _mBuffers = new PinnedBuffer[sets];
        for (int i = 0; i < sets; i++)
        {
            // Zeroed once: the GEMM reads tiles up to the 16-padded count; those lanes must hold finite values.
            _vBuffers[i] = Zeroed((long)_points * _c * _ldb);
            _mBuffers[i] = Zeroed((long)kPad * _points * _ldb);
        }
        _zeroRow = Zeroed(shape.W + 16);
        _scratch = new Scratch[_workers];
        for (int i = 0; i < _workers; i++)
        {
            _scratch[i] = new Scratch(_points, m * m, _tPad, _fastInput ? WinogradAvx512.RowLength(_tilesX) : 0);
        }
        _phaseJob = new PhaseJob(this);
        _blockJob = new BlockJob(this);
        long bytes = _u.Bytes + _zeroRow.Bytes;
        for (int i = 0; i < sets; i++)
        {
            bytes += _vBuffers[i].Bytes + _mBuffers[i].Bytes;
        }
        foreach (Scratch s in _scratch)
        {
            bytes += s.Bytes;
        }
        WorkspaceBytes = bytes;
    }

    public Conv2dShape Shape { get; }
    public string Algorithm { get; }
    public long WorkspaceBytes { get; }
    public TensorShape OutputShape => Shape.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        ConvPlanChecks.Require(Shape, _epilogue.AddResidual, x, y, residual);
        fixed (float* px = x.Span, py = y.Span, pr = residual is null ? default : residual.Span)
        {
            _x = px;
            _y = py;
            _r = pr;
            try
            {
                WorkerPool pool = _context.Pool;
                if (_cooperative)
                {
                    int items = _points * _kBlocks;
                    for (int b = 0; b < _blocks; b++)
                    {
                        _phaseJob.Start(Phase.Input, b, _c, Math.Min(_c, 4 * _workers));
                        pool.For(_workers, _phaseJob);
                        _phaseJob.Start(Phase.Gemm, b, items, Math.Min(items, 4 * _workers));
                        pool.For(_workers, _phaseJob);
                        _phaseJob.Start(Phase.Output, b, _k, Math.Min(_k, 4 * _workers));
                        pool.For(_workers, _phaseJob);
                    }
                }
                else
                {
                    _blockJob.Next = 0;
                    pool.For(_workers, _blockJob);
                }
            }
            finally
            {
                _x = _y = _r = null;
            }
        }
    }

    public void Dispose()
    {
    }

    private static int RoundDown16(long tiles) => (int)Math.Min(1 << 20, tiles / 16 * 16);

    private static PinnedBuffer Zeroed(long length)
    {
        var buffer = new PinnedBuffer(length);
        for (long i = 0; i < length; i += 1 << 24)
        {
            new Span<float>(buffer.Pointer + i, (int)Math.Min(1 << 24, length - i)).Clear();
        }
        return buffer;
    }

    private enum Phase
    {
        Input,
        Gemm,
        Output,
    }

    /// <summary>One worker's buffers, sized at plan time.</summary>
    private sealed class Scratch
    {
        public Scratch(int points, int outPoints, int tPad, int rowLength)
        {
            D = new PinnedBuffer(Math.Max(1, (long)points * tPad));
            Y = new PinnedBuffer((long)outPoints * tPad);
            Tmp = new PinnedBuffer(36 * 16);
            Tv = new PinnedBuffer(Math.Max(1, 6L * rowLength));
            new Span<float>(D.Pointer, (int)D.Length).Clear();
        }

        /// <summary>Gathered input tiles of one channel, [α²][tPad] (generic path).</summary>
        public PinnedBuffer D { get; }
        /// <summary>One channel's finished output tiles, [m²][tPad] (generic path).</summary>
        public PinnedBuffer Y { get; }
        /// <summary>Transform intermediates: 36 vectors of up to 16 lanes.</summary>
        public PinnedBuffer Tmp { get; }
        /// <summary>Six vertically transformed rows of a tile row (AVX-512 path).</summary>
        public PinnedBuffer Tv { get; }
        public long Bytes => D.Bytes + Y.Bytes + Tmp.Bytes + Tv.Bytes;
    }

    /// <summary>All workers on one phase of one block: chunks of its items handed out dynamically.</summary>
    private sealed class PhaseJob(WinogradConv2dPlan plan) : IParallelJob
    {
        private Phase _phase;
        private int _block, _items, _chunks, _next;

        public void Start(Phase phase, int block, int items, int chunks)
        {
            _phase = phase;
            _block = block;
            _items = items;
            _chunks = Math.Max(1, chunks);
            _next = 0;
        }

        public void Run(int index)
        {
            Scratch s = plan._scratch[index];
            float* v = plan._vBuffers[0].Pointer, m = plan._mBuffers[0].Pointer;
            int chunk;
            while ((chunk = Interlocked.Increment(ref _next) - 1) < _chunks)
            {
                int i0 = (int)((long)chunk * _items / _chunks), i1 = (int)((long)(chunk + 1) * _items / _chunks);
                switch (_phase)
                {
                    case Phase.Input: plan.Input(_block, i0, i1, s, v); break;
                    case Phase.Gemm: plan.Gemm(_block, i0, i1, v, m); break;
                    default: plan.Output(_block, i0, i1, s, m); break;
                }
            }
        }
    }

    /// <summary>Each worker runs whole blocks, taken dynamically, with its own V and M.</summary>
    private sealed class BlockJob(WinogradConv2dPlan plan) : IParallelJob
    {
        public int Next;

        public void Run(int index)
        {
            Scratch s = plan._scratch[index];
            float* v = plan._vBuffers[index].Pointer, m = plan._mBuffers[index].Pointer;
            int items = plan._points * plan._kBlocks;
            int b;
            while ((b = Interlocked.Increment(ref Next) - 1) < plan._blocks)
            {
                plan.Input(b, 0, plan._c, s, v);
                plan.Gemm(b, 0, items, v, m);
                plan.Output(b, 0, plan._k, s, m);
            }
        }
    }

    private int BlockTiles(int block) => Math.Min(_blockTiles, _tiles - block * _blockTiles);

    // ---- phase 1: input transform ----

    private void Input(int block, int c0, int c1, Scratch s, float* v)
    {
        int g0 = block * _blockTiles, tiles = BlockTiles(block);
        nint vStride = _c * _ldb;
        int h = Shape.H, wd = Shape.W, padTop = Shape.Params.Padding.Top, padLeft = Shape.Params.Padding.Left;
        if (_fastInput)
        {
            float** rows = stackalloc float*[6];
            for (int c = c0; c < c1; c++)
            {
                for (int t = 0; t < tiles;)
                {
                    int g = g0 + t, row = g / _tilesX, tx = g - row * _tilesX;
                    int n = Math.Min(_tilesX - tx, tiles - t);
                    int img = row / _tilesY, ty = row - img * _tilesY;
                    float* plane = _x + ((long)img * _c + c) * h * wd;
                    int y0 = ty * 4 - padTop;
                    for (int l = 0; l < 6; l++)
                    {
                        int yy = y0 + l;
                        rows[l] = (uint)yy < (uint)h ? plane + (long)yy * wd : _zeroRow.Pointer;
                    }
                    WinogradAvx512.InputRow(rows, tx * 4 - padLeft, wd, n, s.Tv.Pointer, v + c * _ldb + t, vStride);
                    t += n;
                }
            }
            return;
        }
        int count = (tiles + 15) / 16 * 16;
        Span<float> tmp = new(s.Tmp.Pointer, 36 * 16);
        ref float d = ref *s.D.Pointer;
        for (int c = c0; c < c1; c++)
        {
            Gather(c, g0, tiles, s.D.Pointer);
            ref float vc = ref *(v + c * _ldb);
            if (_m == 4)
            {
                switch (_level)
                {
                    case SimdLevel.Avx512: WinogradTransforms.InputF4<Lanes512, Vector512<float>>(ref d, _tPad, ref vc, (int)vStride, count, tmp); break;
                    case SimdLevel.Avx2: WinogradTransforms.InputF4<Lanes256, Vector256<float>>(ref d, _tPad, ref vc, (int)vStride, count, tmp); break;
                    case SimdLevel.Vector128: WinogradTransforms.InputF4<Lanes128, Vector128<float>>(ref d, _tPad, ref vc, (int)vStride, count, tmp); break;
                    default: WinogradTransforms.InputF4<ScalarLanes, float>(ref d, _tPad, ref vc, (int)vStride, count, tmp); break;
                }
            }
            else
            {
                switch (_level)
                {
                    case SimdLevel.Avx512: WinogradTransforms.InputF2<Lanes512, Vector512<float>>(ref d, _tPad, ref vc, (int)vStride, count); break;
                    case SimdLevel.Avx2: WinogradTransforms.InputF2<Lanes256, Vector256<float>>(ref d, _tPad, ref vc, (int)vStride, count); break;
                    case SimdLevel.Vector128: WinogradTransforms.InputF2<Lanes128, Vector128<float>>(ref d, _tPad, ref vc, (int)vStride, count); break;
                    default: WinogradTransforms.InputF2<ScalarLanes, float>(ref d, _tPad, ref vc, (int)vStride, count); break;
                }
            }
        }
    }

    /// <summary>
    /// Copies channel <paramref name="ci"/>'s input tiles g0 … g0 + tiles − 1 into d[(l·α + j)·tPad + t], zero
    /// outside the image (padding, and the overhang of partial tiles at the right and bottom edges).
    /// </summary>
    private void Gather(int ci, int g0, int tiles, float* d)
    {
        int h = Shape.H, wd = Shape.W, m = _m, alpha = _alpha, tp = _tPad;
        int padTop = Shape.Params.Padding.Top, padLeft = Shape.Params.Padding.Left;
        for (int t = 0; t < tiles; t++)
        {
            int g = g0 + t, row = g / _tilesX, tx = g - row * _tilesX;
            int img = row / _tilesY, ty = row - img * _tilesY;
            float* plane = _x + ((long)img * _c + ci) * h * wd;
            int y0 = ty * m - padTop, x0 = tx * m - padLeft;
            bool inside = x0 >= 0 && x0 + alpha <= wd;
            for (int l = 0; l < alpha; l++)
            {
                int yy = y0 + l;
                float* p = d + l * alpha * tp + t;
                if ((uint)yy >= (uint)h)
                {
                    for (int q = 0; q < alpha; q++)
                    {
                        p[q * tp] = 0f;
                    }
                }
                else if (inside)
                {
                    float* src = plane + (long)yy * wd + x0;
                    for (int q = 0; q < alpha; q++)
                    {
                        p[q * tp] = src[q];
                    }
                }
                else
                {
                    float* src = plane + (long)yy * wd;
                    for (int q = 0; q < alpha; q++)
                    {
                        int xx = x0 + q;
                        p[q * tp] = (uint)xx < (uint)wd ? src[xx] : 0f;
                    }
                }
            }
        }
    }

    // ---- phase 2: the α² GEMMs ----

    private void Gemm(int block, int i0, int i1, float* v, float* m)
    {
        int count = (BlockTiles(block) + 15) / 16 * 16;
        nint ldc = _points * _ldb;
        for (int item = i0; item < i1; item++)
        {
            int xi = item / _kBlocks, kb = item - xi * _kBlocks;
            WinogradGemm.Row(_level, _c, _u.Pointer + (long)(xi * _kBlocks + kb) * _c * _mr, v + xi * _c * _ldb, _ldb,
                m + kb * _mr * ldc + xi * _ldb, ldc, count);
        }
    }

    // ---- phase 3: output transform and epilogue ----

    private void Output(int block, int k0, int k1, Scratch s, float* m)
    {
        if (!_fastOutput)
        {
            OutputGeneric(block, k0, k1, s, m);
            return;
        }
        bool res = _epilogue.AddResidual;
        Activation a = _activation;
        switch (a.Kind)
        {
            case ActivationKind.None: OutputFast(new IdentityOperator(), res, block, k0, k1, s, m); break;
            case ActivationKind.Relu: OutputFast(new ReluOperator(), res, block, k0, k1, s, m); break;
            case ActivationKind.LeakyRelu: OutputFast(new LeakyReluOperator(a.Alpha), res, block, k0, k1, s, m); break;
            case ActivationKind.Clip: OutputFast(new ClipOperator(a.Alpha, a.Beta), res, block, k0, k1, s, m); break;
            case ActivationKind.Sigmoid: OutputFast(new SigmoidOperator(), res, block, k0, k1, s, m); break;
            case ActivationKind.Tanh: OutputFast(new TanhOperator(), res, block, k0, k1, s, m); break;
            case ActivationKind.HardSigmoid: OutputFast(new HardSigmoidOperator(a.Alpha, a.Beta), res, block, k0, k1, s, m); break;
            case ActivationKind.HardSwish: OutputFast(new HardSwishOperator(), res, block, k0, k1, s, m); break;
            case ActivationKind.Swish: OutputFast(new SwishOperator(a.Alpha), res, block, k0, k1, s, m); break;
            default: throw new InvalidHyperparameterException($"Activation: unknown kind {a.Kind}.");
        }
    }

    private void OutputFast<TOp>(TOp op, bool residual, int block, int k0, int k1, Scratch s, float* m)
        where TOp : struct, IUnaryOperator
    {
        if (residual)
        {
            OutputFast<TOp, WithResidual>(op, block, k0, k1, s, m);
        }
        else
        {
            OutputFast<TOp, NoResidual>(op, block, k0, k1, s, m);
        }
    }

    private void OutputFast<TOp, TRes>(TOp op, int block, int k0, int k1, Scratch s, float* m)
        where TOp : struct, IUnaryOperator
        where TRes : struct, IFlag
    {
        int g0 = block * _blockTiles, tiles = BlockTiles(block);
        int p = Shape.P, q = Shape.Q;
        nint ldc = _points * _ldb;
        for (int k = k0; k < k1; k++)
        {
            float mul = _mul is null ? 1f : _mul[k], add = _add is null ? 0f : _add[k];
            float* mk = m + k * ldc;
            for (int t = 0; t < tiles;)
            {
                int g = g0 + t, row = g / _tilesX, tx = g - row * _tilesX;
                int n = Math.Min(_tilesX - tx, tiles - t);
                int img = row / _tilesY, ty = row - img * _tilesY;
                long offset = (((long)img * _k + k) * p + ty * 4) * q + tx * 4;
                int rows = Math.Min(4, p - ty * 4), cols = Math.Min(q, (tx + n) * 4) - tx * 4;
                WinogradAvx512.OutputRow<TOp, TRes>(op, mk + t, _ldb, n, _y + offset, TRes.On ? _r + offset : null, q, rows, cols, mul, add, s.Tmp.Pointer);
                t += n;
            }
        }
    }

    private void OutputGeneric(int block, int k0, int k1, Scratch s, float* m)
    {
        int g0 = block * _blockTiles, tiles = BlockTiles(block);
        int count = (tiles + 15) / 16 * 16;
        nint ldc = _points * _ldb;
        Span<float> tmp = new(s.Tmp.Pointer, 36 * 16);
        ref float yy = ref *s.Y.Pointer;
        for (int k = k0; k < k1; k++)
        {
            ref float mm = ref *(m + k * ldc);
            if (_m == 4)
            {
                switch (_level)
                {
                    case SimdLevel.Avx512: WinogradTransforms.OutputF4<Lanes512, Vector512<float>>(ref mm, (int)_ldb, ref yy, _tPad, count, tmp); break;
                    case SimdLevel.Avx2: WinogradTransforms.OutputF4<Lanes256, Vector256<float>>(ref mm, (int)_ldb, ref yy, _tPad, count, tmp); break;
                    case SimdLevel.Vector128: WinogradTransforms.OutputF4<Lanes128, Vector128<float>>(ref mm, (int)_ldb, ref yy, _tPad, count, tmp); break;
                    default: WinogradTransforms.OutputF4<ScalarLanes, float>(ref mm, (int)_ldb, ref yy, _tPad, count, tmp); break;
                }
            }
            else
            {
                switch (_level)
                {
                    case SimdLevel.Avx512: WinogradTransforms.OutputF2<Lanes512, Vector512<float>>(ref mm, (int)_ldb, ref yy, _tPad, count); break;
                    case SimdLevel.Avx2: WinogradTransforms.OutputF2<Lanes256, Vector256<float>>(ref mm, (int)_ldb, ref yy, _tPad, count); break;
                    case SimdLevel.Vector128: WinogradTransforms.OutputF2<Lanes128, Vector128<float>>(ref mm, (int)_ldb, ref yy, _tPad, count); break;
                    default: WinogradTransforms.OutputF2<ScalarLanes, float>(ref mm, (int)_ldb, ref yy, _tPad, count); break;
                }
            }
            Scatter(k, g0, tiles, s.Y.Pointer);
        }
    }

    /// <summary>
    /// Writes channel <paramref name="ki"/>'s finished tiles (yt[(a·m + b)·tPad + t]) to the valid output positions,
    /// then runs the epilogue on each output row piece of each tile row.
    /// </summary>
    private void Scatter(int ki, int g0, int tiles, float* yt)
    {
        int p = Shape.P, q = Shape.Q, m = _m, tp = _tPad;
        bool identity = _epilogue.IsIdentity;
        for (int t = 0; t < tiles;)
        {
            int g = g0 + t, row = g / _tilesX, tx = g - row * _tilesX;
            int n = Math.Min(_tilesX - tx, tiles - t);
            int img = row / _tilesY, ty = row - img * _tilesY;
            int xStart = tx * m, xEnd = Math.Min(q, (tx + n) * m);
            for (int a = 0; a < m; a++)
            {
                int oy = ty * m + a;
                if (oy >= p)
                {
                    break;
                }
                long rowStart = (((long)img * _k + ki) * p + oy) * q;
                var piece = new Span<float>(_y + rowStart + xStart, xEnd - xStart);
                if (oy < _liveRows.Start || oy >= _liveRows.End)
                {
                    piece.Clear();
                }
                else
                {
                    for (int j = 0; j < n; j++)
                    {
                        int ox = j * m;
                        int valid = Math.Min(m, piece.Length - ox);
                        float* src = yt + a * m * tp + t + j;
                        for (int bb = 0; bb < valid; bb++)
                        {
                            piece[ox + bb] = src[bb * tp];
                        }
                    }
                    if (xStart < _liveCols.Start)
                    {
                        piece[..(Math.Min(xEnd, _liveCols.Start) - xStart)].Clear();
                    }
                    if (xEnd > _liveCols.End)
                    {
                        piece[(Math.Max(xStart, _liveCols.End) - xStart)..].Clear();
                    }
                }
                if (!identity)
                {
                    _epilogue.Apply(ki, piece, _r == null ? default : new ReadOnlySpan<float>(_r + rowStart + xStart, piece.Length));
                }
            }
            t += n;
        }
    }
}
