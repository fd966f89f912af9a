using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;
using FastConv.Ops;

namespace FastConv.Cpu;

/// <summary>
/// Gemm with constant B and C (a fully-connected layer): op(B) packed once for the fast SGEMM, Beta·C
/// broadcast to [M, N] once and added by the row epilogue while each row piece is in cache; Execute packs
/// only A (small for FC: M is the batch) and allocates nothing. Up to <see cref="PackedGemv.MaxRows"/> rows of A
/// (batch 1–4) stream the packed B once through <see cref="PackedGemv"/> instead ("packed-gemv").
/// </summary>
internal sealed class CpuGemmPlan : IUnaryPlan
{
    private readonly TensorShape _aShape;
    private readonly GemmParams _p;
    private readonly PackedB _b;
    private readonly SgemmWorkspace? _workspace;
    private readonly PackedGemv? _gemv;
    private readonly WorkerPool _pool;
    private readonly AddRows? _addC;
    private readonly int _m;

    public CpuGemmPlan(TensorShape aShape, Tensor b, Tensor? c, GemmParams p, CpuContext context)
    {
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(p);
        OutputShape = p.OutputShape(aShape, b.Shape);
        _aShape = aShape;
        _p = p;
        _pool = context.Pool;
        _m = OutputShape[0];
        int n = OutputShape[1], k = p.TransA ? aShape[0] : aShape[1];
        _b = PlanSharing.Get(b.Memory, (context.Simd, p.TransB, k, n), () => Sgemm.PackB(context.Simd, p.TransB, k, n, b.Span, p.TransB ? k : n));
        if (!p.TransA && _m <= PackedGemv.MaxRows && PackedGemv.Supports(_b.Level))
        {
            _gemv = new PackedGemv(_b);
        }
        else
        {
            _workspace = new SgemmWorkspace(context.Simd, _pool.Threads, _m, n, k);
        }
        if (c is not null)
        {
            Broadcast.RequireUnidirectional(c.Shape, OutputShape, "C", "Gemm");
            if (p.Beta != 0f)
            {
                int[] strides = Broadcast.Strides(c.Shape, OutputShape);
                var betaC = new float[_m * n];
                ReadOnlySpan<float> cs = c.Span;
                for (int i = 0; i < betaC.Length; i++)
                {
                    betaC[i] = p.Beta * cs[Broadcast.Offset(i, OutputShape, strides)];
                }
                _addC = new AddRows(betaC, n);
            }
        }
        WorkspaceBytes = _b.Bytes + (_workspace?.Bytes ?? _gemv!.Bytes) + (_addC?.Bytes ?? 0);
    }

    public string Algorithm => _gemv is null ? "packed-sgemm" : "packed-gemv";
    public long WorkspaceBytes { get; }
    public TensorShape OutputShape { get; }

    public void Execute(Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        Reference.RequireShape(x, _aShape, "A", "Gemm", _p);
        Reference.RequireShape(y, OutputShape, "output", "Gemm", _p);
        if (_gemv is not null)
        {
            _gemv.Multiply(_m, _p.Alpha, x.Span, _b.K, y.Span, _b.N, _pool, _addC);
            return;
        }
        Sgemm.Multiply(_workspace!, _p.TransA, _m, _p.Alpha, x.Span, _p.TransA ? _m : _b.K, _b, 0f, y.Span, _b.N, _pool, _addC);
    }

    public void Dispose()
    {
    }

    /// <summary>Adds the precomputed Beta·C to each finished row piece.</summary>
    private sealed class AddRows(float[] betaC, int n) : ISgemmRowEpilogue
    {
        public long Bytes => betaC.Length * sizeof(float);

        public void Apply(int row, int column, Span<float> values)
        {
            ReadOnlySpan<float> add = betaC.AsSpan(row * n + column, values.Length);
            for (int j = 0; j < values.Length; j++)
            {
                values[j] += add[j];
            }
        }
    }
}
