using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// ConvTranspose2d on the <c>cpu</c> backend as GEMM + col2im (the adjoint of im2col + GEMM). Per image n and group g:
/// <code>
/// col[(k·R + r)·S + s, j] = Σ_c W[g·C/G + c, k, r, s] · x[n, g·C/G + c, j]      GEMM: M = K/G·R·S, N = rows·W, K = C/G
/// y[n, g·K/G + k, h·strideH − padTop + r·dilH, w·strideW − padLeft + s·dilW] += col[(k·R + r)·S + s, (h, w)]
/// </code>
/// with Wᵀ packed once at plan time for the packed SGEMM (threaded on the pool), the input taken a few rows at a
/// time so the column buffer stays near 1 MB, and the scatter-add split across the pool by output channel (each
/// worker owns whole output planes, so no two write the same element). y starts as the bias; when the kernel
/// tiles the output exactly (R = strideH, S = strideW, no padding, dilation 1: FPN's 2×2 stride-2 upsampling) each
/// output element receives exactly one product sum and is written as col + bias in one pass instead.
/// When M = K/G·R·S is small (≤ 16: a 2×2 deconvolution to one or a few channels, DBNet's probability map) the packed
/// GEMM would spend its time packing x for a few rows of output, so col is computed by a row kernel instead: four
/// rows of col at a time as four vector accumulators over C, x read once per four rows, split across the pool by
/// column blocks. Execute allocates nothing.
/// </summary>
internal sealed class ConvTranspose2dGemmPlan : IUnaryPlan, IParallelJob
{
    /// <summary>Column buffer budget in floats (1 MB): large enough for a long GEMM N, small enough for L2.</summary>
    private const int ColumnBudget = 1 << 18;

    private readonly ConvTranspose2dShape _s;
    private readonly TensorShape _input;
    private readonly PackedA[] _weights;
    private readonly float[] _bias;
    private readonly SgemmWorkspace _workspace;
    private readonly CpuContext _context;
    private readonly float[] _col;
    private readonly int _rowsPerChunk, _cg, _kg, _chunks;
    private readonly bool _assign;
    private readonly float[]? _small;          // the weights as stored (C × K/G·R·S) for the small-M row kernel
    private readonly int _m, _gemmChunks;
    private Tensor? _x, _y;
    private int _n, _g, _h0, _rows, _phase;

    public ConvTranspose2dGemmPlan(ConvTranspose2dShape shape, Tensor weights, Tensor? bias, CpuContext context)
    {
        shape.Validate(weights.Shape, bias?.Shape);
        _s = shape;
        _input = shape.InputShape;
        OutputShape = shape.OutputShape;
        _context = context;
        _cg = shape.InputChannelsPerGroup;
        _kg = shape.OutputChannelsPerGroup;
        int m = _kg * shape.R * shape.S;
        // W of group g is C/G rows of K/G·R·S: exactly Aᵀ for the GEMM above (A stored k×m, lda = m).
        _weights = new PackedA[shape.Groups];
        for (int g = 0; g < shape.Groups; g++)
        {
            _weights[g] = Sgemm.PackA(context.Simd, true, m, _cg, weights.Span.Slice(g * _cg * m, _cg * m), m);
        }
        _bias = bias is null ? new float[shape.K] : bias.ToArray();
        _rowsPerChunk = Math.Clamp(ColumnBudget / Math.Max(1, m * shape.W), 1, Math.Max(shape.H, 1));
        _col = GC.AllocateUninitializedArray<float>(Math.Max(1, m * _rowsPerChunk * shape.W), pinned: true);
        _workspace = new SgemmWorkspace(context.Simd, context.Pool.Threads, m, _rowsPerChunk * shape.W, _cg);
        ConvTranspose2dParams p = shape.Params;
        _assign = shape.R == p.StrideH && shape.S == p.StrideW && p.DilationH == 1 && p.DilationW == 1 && p.Padding == default
            && p.OutputPaddingH == 0 && p.OutputPaddingW == 0;
        _chunks = Elementwise.ElementwiseThreading.Chunks((long)_kg * shape.P * shape.Q, _kg, context.Pool);
        _m = m;
        if (m <= 16 && context.Simd > SimdLevel.Scalar)
        {
            _small = weights.ToArray();
            int cols = _rowsPerChunk * shape.W;
            _gemmChunks = Elementwise.ElementwiseThreading.Chunks((long)m * _cg * cols / 4, Math.Max(1, cols / 256), context.Pool);
        }
        Algorithm = (_small is not null ? "rows" : "gemm") + (_assign ? "+col2im-tiled" : "+col2im");
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => _weights.Sum(a => a.Bytes) + _workspace.Bytes + 4L * _col.Length + 4L * (_small?.Length ?? 0);
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        // Shapes kept from plan time: ConvTranspose2dShape builds new TensorShape objects on every call.
        Reference.RequireShape(x, _input, "input", "ConvTranspose2d", _s);
        Reference.RequireShape(y, OutputShape, "output", "ConvTranspose2d", _s);
        ReadOnlySpan<float> xs = x.Span;
        int hw = _s.H * _s.W;
        _x = x;
        _y = y;
        try
        {
            for (_n = 0; _n < _s.N; _n++)
            {
                for (_g = 0; _g < _s.Groups; _g++)
                {
                    if (!_assign || hw == 0)
                    {
                        _h0 = -1; // bias pass
                        _phase = 0;
                        _context.Pool.For(_chunks, this);
                    }
                    for (_h0 = 0; _h0 < _s.H; _h0 += _rowsPerChunk)
                    {
                        _rows = Math.Min(_rowsPerChunk, _s.H - _h0);
                        int cols = _rows * _s.W;
                        int start = ((_n * _s.C + _g * _cg) * _s.H + _h0) * _s.W;
                        if (_small is not null)
                        {
                            _phase = 1;
                            _context.Pool.For(_gemmChunks, this);
                        }
                        else
                        {
                            Sgemm.Multiply(_workspace, _weights[_g], false, cols, 1f, xs[start..], hw, 0f, _col.AsSpan(0, _m * cols), cols, _context.Pool);
                        }
                        _phase = 0;
                        _context.Pool.For(_chunks, this);
                    }
                }
            }
        }
        finally
        {
            _x = null;
            _y = null;
        }
    }

    public void Run(int chunk)
    {
        if (_phase == 1)
        {
            SmallGemm(chunk);
            return;
        }
        int k0 = (int)((long)chunk * _kg / _chunks), k1 = (int)((long)(chunk + 1) * _kg / _chunks);
        ConvTranspose2dParams p = _s.Params;
        int planeSize = _s.P * _s.Q, cols = _rows * _s.W;
        ref float y = ref MemoryMarshal.GetReference(_y!.Span);
        ref float col = ref MemoryMarshal.GetArrayDataReference(_col);
        for (int k = k0; k < k1; k++)
        {
            int ko = _g * _kg + k;
            ref float plane = ref Unsafe.Add(ref y, (nint)(_n * _s.K + ko) * planeSize);
            if (_h0 < 0)
            {
                MemoryMarshal.CreateSpan(ref plane, planeSize).Fill(_bias[ko]);
                continue;
            }
            for (int r = 0; r < _s.R; r++)
            {
                for (int s = 0; s < _s.S; s++)
                {
                    ref float c = ref Unsafe.Add(ref col, (nint)((k * _s.R + r) * _s.S + s) * cols);
                    int shiftW = s * p.DilationW - p.Padding.Left;
                    // Input columns whose output column w·strideW + shiftW lands in [0, Q).
                    int wLo = shiftW >= 0 ? 0 : (-shiftW + p.StrideW - 1) / p.StrideW;
                    int wHi = _s.Q - 1 - shiftW < 0 ? 0 : Math.Min(_s.W, (_s.Q - 1 - shiftW) / p.StrideW + 1);
                    for (int i = 0; i < _rows; i++)
                    {
                        int oh = (_h0 + i) * p.StrideH - p.Padding.Top + r * p.DilationH;
                        if (oh < 0 || oh >= _s.P)
                        {
                            continue;
                        }
                        ref float yr = ref Unsafe.Add(ref plane, (nint)oh * _s.Q + shiftW);
                        ref float cr = ref Unsafe.Add(ref c, i * _s.W);
                        if (_assign && _s.S == 2 && s == 0)
                        {
                            // Both kernel columns of this output row at once: y[2w] and y[2w + 1] written in order.
                            ref float cr1 = ref Unsafe.Add(ref cr, cols);
                            float b = _bias[ko];
                            for (int w = wLo; w < wHi; w++)
                            {
                                Unsafe.Add(ref yr, 2 * w) = Unsafe.Add(ref cr, w) + b;
                                Unsafe.Add(ref yr, 2 * w + 1) = Unsafe.Add(ref cr1, w) + b;
                            }
                        }
                        else if (_assign && _s.S == 2)
                        {
                            continue; // written with column 0
                        }
                        else if (_assign)
                        {
                            float b = _bias[ko];
                            for (int w = wLo; w < wHi; w++)
                            {
                                Unsafe.Add(ref yr, w * p.StrideW) = Unsafe.Add(ref cr, w) + b;
                            }
                        }
                        else if (p.StrideW == 1)
                        {
                            AddInPlace(ref Unsafe.Add(ref yr, wLo), ref Unsafe.Add(ref cr, wLo), wHi - wLo);
                        }
                        else
                        {
                            for (int w = wLo; w < wHi; w++)
                            {
                                Unsafe.Add(ref yr, w * p.StrideW) += Unsafe.Add(ref cr, w);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// col[mi, j] = Σ_c W[g·C/G + c, mi]·x[n, g·C/G + c, h0·W + j] for this chunk's column range: vectors of j, four
    /// rows mi at a time (four independent accumulators, each x vector loaded once for the four), then single rows,
    /// then the scalar tail of j.
    /// </summary>
    private void SmallGemm(int chunk)
    {
        int cols = _rows * _s.W, hw = _s.H * _s.W, m = _m, cg = _cg;
        int j0 = (int)((long)chunk * cols / _gemmChunks), j1 = (int)((long)(chunk + 1) * cols / _gemmChunks);
        ref float x = ref Unsafe.Add(ref MemoryMarshal.GetReference(_x!.Span), ((_n * _s.C + _g * cg) * _s.H + _h0) * _s.W);
        ref float w = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_small!), _g * cg * m);
        ref float col = ref MemoryMarshal.GetArrayDataReference(_col);
        int v = System.Numerics.Vector<float>.Count;
        int j = j0;
        for (; j + v <= j1; j += v)
        {
            int mi = 0;
            for (; mi + 4 <= m; mi += 4)
            {
                System.Numerics.Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int c = 0; c < cg; c++)
                {
                    var xv = System.Numerics.Vector.LoadUnsafe(ref x, (nuint)((nint)c * hw + j));
                    ref float wc = ref Unsafe.Add(ref w, c * m + mi);
                    a0 += new System.Numerics.Vector<float>(wc) * xv;
                    a1 += new System.Numerics.Vector<float>(Unsafe.Add(ref wc, 1)) * xv;
                    a2 += new System.Numerics.Vector<float>(Unsafe.Add(ref wc, 2)) * xv;
                    a3 += new System.Numerics.Vector<float>(Unsafe.Add(ref wc, 3)) * xv;
                }
                System.Numerics.Vector.StoreUnsafe(a0, ref col, (nuint)((nint)mi * cols + j));
                System.Numerics.Vector.StoreUnsafe(a1, ref col, (nuint)((nint)(mi + 1) * cols + j));
                System.Numerics.Vector.StoreUnsafe(a2, ref col, (nuint)((nint)(mi + 2) * cols + j));
                System.Numerics.Vector.StoreUnsafe(a3, ref col, (nuint)((nint)(mi + 3) * cols + j));
            }
            for (; mi < m; mi++)
            {
                System.Numerics.Vector<float> a = default;
                for (int c = 0; c < cg; c++)
                {
                    a += new System.Numerics.Vector<float>(Unsafe.Add(ref w, c * m + mi)) * System.Numerics.Vector.LoadUnsafe(ref x, (nuint)((nint)c * hw + j));
                }
                System.Numerics.Vector.StoreUnsafe(a, ref col, (nuint)((nint)mi * cols + j));
            }
        }
        for (; j < j1; j++)
        {
            for (int mi = 0; mi < m; mi++)
            {
                float a = 0;
                for (int c = 0; c < cg; c++)
                {
                    a += Unsafe.Add(ref w, c * m + mi) * Unsafe.Add(ref x, (nint)c * hw + j);
                }
                Unsafe.Add(ref col, (nint)mi * cols + j) = a;
            }
        }
    }

    /// <summary>y[i] += x[i] for i &lt; n, a vector at a time.</summary>
    private static void AddInPlace(ref float y, ref float x, int n)
    {
        int i = 0;
        for (; i <= n - System.Numerics.Vector<float>.Count; i += System.Numerics.Vector<float>.Count)
        {
            System.Numerics.Vector.StoreUnsafe(System.Numerics.Vector.LoadUnsafe(ref y, (nuint)i) + System.Numerics.Vector.LoadUnsafe(ref x, (nuint)i), ref y, (nuint)i);
        }
        for (; i < n; i++)
        {
            Unsafe.Add(ref y, i) += Unsafe.Add(ref x, i);
        }
    }

    public void Dispose()
    {
    }
}
