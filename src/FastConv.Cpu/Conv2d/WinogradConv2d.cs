using System.Runtime.InteropServices;
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
    /// Winograd pays only with enough tiles: the filter transform U (36·K·C floats) is reread for every tile
    /// block, and a problem with few tiles forms one block that one thread runs. Measured on this project's
    /// machine (the first full benchmark run): with 16 tiles (14×14, batch 1) it was 2.5–3× slower than
    /// `direct`, with 4 tiles (7×7) 7×; with 49 (28×28, batch 1) it ranged from 0.8× to 1.1× of `direct`,
    /// and from ~100 tiles on it was as fast or faster. So automatic selection takes F(4×4) from 32 tiles.
    /// F(2×2) saves 2.25× the multiplications where F(4×4) saves 4×: it is never chosen automatically, only
    /// when forced by name for its accuracy.
    /// </summary>
    public bool IsWorthIt(Conv2dShape shape, CpuContext context)
        => _m == 4 && (long)shape.N * ((shape.P + _m - 1) / _m) * ((shape.Q + _m - 1) / _m) >= MinTilesWorthIt;

    private const int MinTilesWorthIt = 32;

    public IConv2dPlan Plan(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(context);
        if (!Supports(shape, context))
        {
            throw new InvalidHyperparameterException($"cpu backend: conv algorithm '{Name}' does not support {shape} (precision {context.Options.Precision}).");
        }
        return new WinogradConv2dPlan(Name, _m, shape, weights, bias, epilogue, context);
    }
}

/// <summary>
/// A planned Winograd convolution. Output tiles (m×m, read from (m+2)×(m+2) input tiles) are numbered by tile
/// row g = n·TY + ty over the whole batch and tile column tx; a block is a rectangle of tile rows × tile columns
/// (it may span images), processed start to finish by one thread:
/// <list type="number">
/// <item>gather each channel's tiles, zero-padded, into D[α²][T] (T = the block's tile stride);</item>
/// <item>input transform, vectorized across tiles: V[ξ][c][t] = (Bᵀ d B)[ξ];</item>
/// <item>α² independent GEMMs M[ξ] (K×T) = U[ξ] (K×C, transformed at plan time) · V[ξ] (C×T);</item>
/// <item>output transform Y = Aᵀ M A per output channel, scattered to the valid outputs, and the epilogue on
/// each finished output row piece while it is in cache.</item>
/// </list>
/// </summary>
internal sealed class WinogradConv2dPlan : IConv2dPlan
{
    /// <summary>L2 per core on Zen 5 (and a common size elsewhere): the budget for one block's V and M.</summary>
    private const int L2Bytes = 1 << 20;

    private readonly int _m, _alpha, _points;
    private readonly int _tilesX, _tilesY, _tileRows, _blockCols, _blockRows, _blocksX, _blocks, _stride;
    private readonly float[] _u;
    /// <summary>
    /// Output rows and columns whose 3×3 window touches the image. Outside them (padding ≥ 3) the conv is exactly 0,
    /// but Winograd would leave there rounding noise from the rest of the tile, with nothing to scale it against.
    /// </summary>
    private readonly (int Start, int End) _liveRows, _liveCols;
    private readonly CpuEpilogue _epilogue;
    private readonly CpuContext _context;
    private readonly Scratch[] _scratch;
    private readonly Job _job;

    public WinogradConv2dPlan(string name, int m, Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        Algorithm = name;
        Shape = shape;
        _context = context;
        _m = m;
        _alpha = m + 2;
        _points = _alpha * _alpha;
        int c = shape.C, k = shape.K;

        // U[ξ][k][c]: each of the α² matrices row-major K×C, the A operand of its GEMM.
        _u = new float[_points * k * c];
        ReadOnlySpan<float> w = weights.Span;
        double[,] g = m == 4 ? WinogradTransforms.GF4 : WinogradTransforms.GF2;
        for (int ki = 0; ki < k; ki++)
        {
            for (int ci = 0; ci < c; ci++)
            {
                WinogradTransforms.Filter(g, w.Slice((ki * c + ci) * 9, 9), _u.AsSpan(ki * c + ci), k * c);
            }
        }
        _epilogue = new CpuEpilogue(k, bias is null ? default : bias.Span, epilogue);

        _liveRows = (Math.Max(0, shape.Params.Padding.Top - 2), Math.Min(shape.P, shape.H + shape.Params.Padding.Top));
        _liveCols = (Math.Max(0, shape.Params.Padding.Left - 2), Math.Min(shape.Q, shape.W + shape.Params.Padding.Left));
        _tilesX = (shape.Q + m - 1) / m;
        _tilesY = (shape.P + m - 1) / m;
        _tileRows = shape.N * _tilesY;
        long totalTiles = (long)_tileRows * _tilesX;
        int threads = context.Pool.Threads;

        // Tiles per block. V and M of a block take 4·α²·(C + K)·T bytes; we aim for them to stay in L2 between the
        // input transform, the GEMMs and the output transform. But at least 64 tiles: the GEMMs' n is T (a few
        // micro-kernel widths), and U (α²·K·C floats, MBs for deep layers) is reread once per block, so T is also
        // the number of flop pairs each U element earns; below 64 the U stream dominates. At most 256: beyond it
        // the block leaves L2 for any C + K and parallelism drops. Multiple of 16 so every lane width divides it.
        int fit = (int)Math.Min(256, L2Bytes / (4L * _points * (c + k)));
        int tb = Math.Clamp(fit / 16 * 16, 64, 256);
        // Small problems: no bigger than needed, and enough blocks for every thread.
        long perThread = (totalTiles + threads - 1) / threads;
        tb = (int)Math.Max(16, Math.Min(tb, (perThread + 15) / 16 * 16));
        _blockCols = Math.Min(_tilesX, tb);
        _blockRows = Math.Max(1, Math.Min(_tileRows, tb / _blockCols));
        _stride = tb;
        _blocksX = (_tilesX + _blockCols - 1) / _blockCols;
        _blocks = _blocksX * ((_tileRows + _blockRows - 1) / _blockRows);

        int workers = Math.Min(threads, _blocks);
        _scratch = new Scratch[workers];
        for (int i = 0; i < workers; i++)
        {
            _scratch[i] = new Scratch(_points, m * m, c, k, tb);
        }
        _job = new Job(this);
        WorkspaceBytes = 4L * (_u.Length + (long)workers * _scratch[0].Floats);
    }

    public Conv2dShape Shape { get; }
    public string Algorithm { get; }
    public long WorkspaceBytes { get; }
    public TensorShape OutputShape => Shape.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        ConvPlanChecks.Require(Shape, _epilogue.AddResidual, x, y, residual);
        _job.X = x;
        _job.Y = y;
        _job.Residual = residual;
        try
        {
            _context.Pool.For(_scratch.Length, _job);
        }
        finally
        {
            _job.X = _job.Y = _job.Residual = null;
        }
    }

    public void Dispose()
    {
    }

    /// <summary>One worker's buffers, sized at plan time.</summary>
    private sealed class Scratch(int points, int outPoints, int c, int k, int tb)
    {
        public readonly float[] D = new float[points * tb];      // gathered input tiles of one channel: [α²][T]
        public readonly float[] V = new float[points * c * tb];  // transformed input: [α²][C][T]
        public readonly float[] M = new float[points * k * tb];  // GEMM results: [α²][K][T]
        public readonly float[] Y = new float[outPoints * tb];   // one channel's output tiles: [m²][T]
        public readonly float[] Tmp = new float[36 * Vector512<float>.Count]; // transform intermediates
        public long Floats => D.Length + V.Length + M.Length + Y.Length + Tmp.Length;
    }

    /// <summary>Worker <c>i</c> of the pool runs blocks i, i + workers, …, with scratch i (blocks are equal work).</summary>
    private sealed class Job(WinogradConv2dPlan plan) : IParallelJob
    {
        public Tensor? X, Y, Residual;

        public void Run(int index)
        {
            Scratch s = plan._scratch[index];
            for (int b = index; b < plan._blocks; b += plan._scratch.Length)
            {
                plan.RunBlock(b, s, X!.Span, Y!.Span, Residual is null ? default : Residual.Span);
            }
        }
    }

    private void RunBlock(int block, Scratch s, ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> residual)
    {
        int bx = block % _blocksX, by = block / _blocksX;
        int g0 = by * _blockRows, rows = Math.Min(_blockRows, _tileRows - g0);
        int tx0 = bx * _blockCols, cols = Math.Min(_blockCols, _tilesX - tx0);
        int tiles = rows * cols;
        int count = (tiles + 15) / 16 * 16; // every lane width divides it; ≤ _stride
        int c = Shape.C, k = Shape.K, tb = _stride;
        SimdLevel level = _context.Simd;

        for (int ci = 0; ci < c; ci++)
        {
            Gather(ci, g0, rows, tx0, cols, x, s.D);
            ref float v = ref s.V[ci * tb];
            ref float d = ref s.D[0];
            int vStride = c * tb;
            if (_m == 4)
            {
                switch (level)
                {
                    case SimdLevel.Avx512: WinogradTransforms.InputF4<Lanes512, Vector512<float>>(ref d, tb, ref v, vStride, count, s.Tmp); break;
                    case SimdLevel.Avx2: WinogradTransforms.InputF4<Lanes256, Vector256<float>>(ref d, tb, ref v, vStride, count, s.Tmp); break;
                    case SimdLevel.Vector128: WinogradTransforms.InputF4<Lanes128, Vector128<float>>(ref d, tb, ref v, vStride, count, s.Tmp); break;
                    default: WinogradTransforms.InputF4<ScalarLanes, float>(ref d, tb, ref v, vStride, count, s.Tmp); break;
                }
            }
            else
            {
                switch (level)
                {
                    case SimdLevel.Avx512: WinogradTransforms.InputF2<Lanes512, Vector512<float>>(ref d, tb, ref v, vStride, count); break;
                    case SimdLevel.Avx2: WinogradTransforms.InputF2<Lanes256, Vector256<float>>(ref d, tb, ref v, vStride, count); break;
                    case SimdLevel.Vector128: WinogradTransforms.InputF2<Lanes128, Vector128<float>>(ref d, tb, ref v, vStride, count); break;
                    default: WinogradTransforms.InputF2<ScalarLanes, float>(ref d, tb, ref v, vStride, count); break;
                }
            }
        }

        // The α² products, each K×tiles = (K×C)·(C×tiles); on this thread (the block is the unit of parallelism).
        for (int xi = 0; xi < _points; xi++)
        {
            Sgemm.Multiply(false, false, k, tiles, c, 1f,
                _u.AsSpan(xi * k * c, k * c), c,
                s.V.AsSpan(xi * c * tb, c * tb), tb,
                0f, s.M.AsSpan(xi * k * tb, k * tb), tb);
        }

        for (int ki = 0; ki < k; ki++)
        {
            ref float mm = ref s.M[ki * tb];
            ref float yy = ref s.Y[0];
            int mStride = k * tb;
            if (_m == 4)
            {
                switch (level)
                {
                    case SimdLevel.Avx512: WinogradTransforms.OutputF4<Lanes512, Vector512<float>>(ref mm, mStride, ref yy, tb, count, s.Tmp); break;
                    case SimdLevel.Avx2: WinogradTransforms.OutputF4<Lanes256, Vector256<float>>(ref mm, mStride, ref yy, tb, count, s.Tmp); break;
                    case SimdLevel.Vector128: WinogradTransforms.OutputF4<Lanes128, Vector128<float>>(ref mm, mStride, ref yy, tb, count, s.Tmp); break;
                    default: WinogradTransforms.OutputF4<ScalarLanes, float>(ref mm, mStride, ref yy, tb, count, s.Tmp); break;
                }
            }
            else
            {
                switch (level)
                {
                    case SimdLevel.Avx512: WinogradTransforms.OutputF2<Lanes512, Vector512<float>>(ref mm, mStride, ref yy, tb, count); break;
                    case SimdLevel.Avx2: WinogradTransforms.OutputF2<Lanes256, Vector256<float>>(ref mm, mStride, ref yy, tb, count); break;
                    case SimdLevel.Vector128: WinogradTransforms.OutputF2<Lanes128, Vector128<float>>(ref mm, mStride, ref yy, tb, count); break;
                    default: WinogradTransforms.OutputF2<ScalarLanes, float>(ref mm, mStride, ref yy, tb, count); break;
                }
            }
            Scatter(ki, g0, rows, tx0, cols, s.Y, y, residual);
        }
    }

    /// <summary>
    /// Copies channel <paramref name="ci"/>'s input tiles of the block into d[(l·α + j)·T + t], zero outside the
    /// image (padding, and the overhang of partial tiles at the right and bottom edges).
    /// </summary>
    private void Gather(int ci, int g0, int rows, int tx0, int cols, ReadOnlySpan<float> x, Span<float> d)
    {
        int h = Shape.H, wd = Shape.W, m = _m, alpha = _alpha, tb = _stride;
        int padTop = Shape.Params.Padding.Top, padLeft = Shape.Params.Padding.Left;
        for (int r = 0; r < rows; r++)
        {
            int g = g0 + r, n = g / _tilesY, ty = g % _tilesY;
            ReadOnlySpan<float> plane = x.Slice((n * Shape.C + ci) * h * wd, h * wd);
            int y0 = ty * m - padTop;
            for (int j = 0; j < cols; j++)
            {
                int t = r * cols + j;
                int x0 = (tx0 + j) * m - padLeft;
                bool inside = x0 >= 0 && x0 + alpha <= wd;
                for (int l = 0; l < alpha; l++)
                {
                    int yy = y0 + l;
                    int p = l * alpha * tb + t;
                    if ((uint)yy >= (uint)h)
                    {
                        for (int q = 0; q < alpha; q++)
                        {
                            d[p + q * tb] = 0f;
                        }
                    }
                    else if (inside)
                    {
                        ReadOnlySpan<float> row = plane.Slice(yy * wd + x0, alpha);
                        for (int q = 0; q < row.Length; q++)
                        {
                            d[p + q * tb] = row[q];
                        }
                    }
                    else
                    {
                        ReadOnlySpan<float> row = plane.Slice(yy * wd, wd);
                        for (int q = 0; q < alpha; q++)
                        {
                            int xx = x0 + q;
                            d[p + q * tb] = (uint)xx < (uint)wd ? row[xx] : 0f;
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Writes channel <paramref name="ki"/>'s finished tiles (yt[(a·m + b)·T + t]) to the valid output positions,
    /// then runs the epilogue on each output row piece the block covers.
    /// </summary>
    private void Scatter(int ki, int g0, int rows, int tx0, int cols, ReadOnlySpan<float> yt, Span<float> y, ReadOnlySpan<float> residual)
    {
        int p = Shape.P, q = Shape.Q, m = _m, tb = _stride;
        int xStart = tx0 * m, xEnd = Math.Min(q, (tx0 + cols) * m);
        bool identity = _epilogue.IsIdentity;
        for (int r = 0; r < rows; r++)
        {
            int g = g0 + r, n = g / _tilesY, ty = g % _tilesY;
            for (int a = 0; a < m; a++)
            {
                int oy = ty * m + a;
                if (oy >= p)
                {
                    break;
                }
                int rowStart = ((n * Shape.K + ki) * p + oy) * q;
                Span<float> row = y.Slice(rowStart + xStart, xEnd - xStart);
                if (oy < _liveRows.Start || oy >= _liveRows.End)
                {
                    row.Clear();
                }
                else
                {
                    for (int j = 0; j < cols; j++)
                    {
                        int t = r * cols + j;
                        int ox = j * m;
                        int valid = Math.Min(m, row.Length - ox);
                        for (int b = 0; b < valid; b++)
                        {
                            row[ox + b] = yt[(a * m + b) * tb + t];
                        }
                    }
                    if (xStart < _liveCols.Start)
                    {
                        row[..(Math.Min(xEnd, _liveCols.Start) - xStart)].Clear();
                    }
                    if (xEnd > _liveCols.End)
                    {
                        row[(Math.Max(xStart, _liveCols.End) - xStart)..].Clear();
                    }
                }
                if (!identity)
                {
                    _epilogue.Apply(ki, row, residual.IsEmpty ? default : residual.Slice(rowStart + xStart, row.Length));
                }
            }
        }
    }
}
