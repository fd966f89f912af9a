using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// A convolution as one GEMM per image and group (CUTLASS's mapping, transposed for NCHW):
/// Y_g[K/g, P·Q] = W_g[K/g, (C/g)·R·S] · X̂_g[(C/g)·R·S, P·Q], where X̂ is the input itself for an unpadded
/// stride-1 1×1 conv (<see cref="Gemm1x1Conv2d"/>) and the im2col matrix otherwise (<see cref="Im2colGemmConv2d"/>).
/// W_g is packed once here; the conv epilogue runs on each finished row piece (one output channel) inside the
/// GEMM while it is in cache. Execute allocates nothing: the SGEMM workspace and the im2col buffer are sized here.
/// </summary>
internal sealed unsafe class GemmConv2dPlan : IConv2dPlan
{
    /// <summary>
    /// Target size of one im2col chunk: 2 MB stays in L3 (32 MB, shared with the other core and the packed B
    /// panels) between being written and being packed, instead of a whole-image matrix of up to 100+ MB
    /// (VGG conv1_2: 576 × 50176 floats) making a round trip to memory.
    /// </summary>
    private const int Im2colChunkFloats = 1 << 19;

    /// <summary>At least this many columns per chunk, so the GEMM still splits into several N parts per thread.</summary>
    private const int MinChunkColumns = 1024;

    private readonly PackedA[] _weights;
    private readonly SgemmWorkspace _workspace;
    private readonly ConvRowEpilogue? _epilogue;
    private readonly bool _addResidual;
    private readonly WorkerPool _pool;
    private readonly Im2colJob? _im2col;
    private readonly int _chunk;

    public GemmConv2dPlan(string algorithm, bool im2col, Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue, CpuContext context)
    {
        Algorithm = algorithm;
        Shape = shape;
        _pool = context.Pool;
        int groups = shape.Groups, kg = shape.OutputChannelsPerGroup, crs = shape.InputChannelsPerGroup * shape.R * shape.S;
        int pq = shape.P * shape.Q;
        _weights = PlanSharing.Get(weights.Memory, ("gemm-conv", context.Simd, groups, kg, crs), () =>
        {
            var packed = new PackedA[groups];
            for (int g = 0; g < groups; g++)
            {
                packed[g] = Sgemm.PackA(context.Simd, false, kg, crs, weights.Span.Slice(g * kg * crs, kg * crs), crs);
            }
            return packed;
        });
        var cpuEpilogue = new CpuEpilogue(shape.K, bias is null ? default : bias.Span, epilogue);
        _epilogue = cpuEpilogue.IsIdentity ? null : new ConvRowEpilogue(cpuEpilogue, pq);
        _addResidual = epilogue.AddResidual;
        _chunk = im2col ? Math.Min(pq, Math.Max(MinChunkColumns, Im2colChunkFloats / crs / 32 * 32)) : pq;
        _workspace = new SgemmWorkspace(context.Simd, _pool.Threads, kg, _chunk, crs);
        if (im2col)
        {
            _im2col = new Im2colJob(shape, _chunk, _pool.Threads);
        }
        WorkspaceBytes = _weights.Sum(p => p.Bytes) + _workspace.Bytes + (_im2col?.Bytes ?? 0);
    }

    public string Algorithm { get; }
    public Conv2dShape Shape { get; }
    public long WorkspaceBytes { get; }
    public TensorShape OutputShape => Shape.OutputShape;

    public void Execute(Tensor x, Tensor y, Tensor? residual = null)
    {
        Conv2dShape s = Shape;
        ConvPlanChecks.Require(s, _addResidual, x, y, residual);
        int cg = s.InputChannelsPerGroup, kg = s.OutputChannelsPerGroup, hw = s.H * s.W, pq = s.P * s.Q;
        Span<float> rs = residual is null ? default : residual.Span;
        fixed (float* px = x.Span, py = y.Span, pr = rs)
        {
            for (int n = 0; n < s.N; n++)
            {
                for (int g = 0; g < s.Groups; g++)
                {
                    float* xg = px + ((long)n * s.C + (long)g * cg) * hw;
                    float* yg = py + ((long)n * s.K + (long)g * kg) * pq;
                    if (_im2col is null)
                    {
                        _epilogue?.Set(g * kg, 0, pr == null ? null : pr + (long)n * s.K * pq);
                        Sgemm.Multiply(_workspace, _weights[g], false, pq, 1f, new ReadOnlySpan<float>(xg, cg * hw), hw,
                            0f, new Span<float>(yg, kg * pq), pq, _pool, _epilogue);
                        continue;
                    }
                    for (int j0 = 0; j0 < pq; j0 += _chunk)
                    {
                        int nc = Math.Min(_chunk, pq - j0);
                        _im2col.Fill(xg, j0, nc, _pool);
                        _epilogue?.Set(g * kg, j0, pr == null ? null : pr + (long)n * s.K * pq);
                        Sgemm.Multiply(_workspace, _weights[g], false, nc, 1f, _im2col.Matrix(nc), nc,
                            0f, new Span<float>(yg + j0, (kg - 1) * pq + nc), pq, _pool, _epilogue);
                    }
                }
            }
        }
    }

    public void Dispose()
    {
    }

    /// <summary>
    /// The conv epilogue as an SGEMM row hook: row r of the group's GEMM is output channel kBase + r, its columns
    /// are output pixels from columnBase on. Set before each multiply (one multiply runs at a time per plan).
    /// </summary>
    private sealed class ConvRowEpilogue(CpuEpilogue epilogue, int pq) : ISgemmRowEpilogue
    {
        private int _kBase, _columnBase;
        private float* _residual;

        public void Set(int kBase, int columnBase, float* residualImage)
        {
            _kBase = kBase;
            _columnBase = columnBase;
            _residual = residualImage;
        }

        public void Apply(int row, int column, Span<float> values)
        {
            int k = _kBase + row;
            ReadOnlySpan<float> residual = _residual == null ? default : new ReadOnlySpan<float>(_residual + (long)k * pq + _columnBase + column, values.Length);
            epilogue.Apply(k, values, residual);
        }
    }
}
