using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;

namespace FastConv.Cpu;

/// <summary>
/// MatMul of two run-time operands (NumPy semantics: batched, broadcast batch axes, 1-D operands promoted) on the
/// <c>cpu</c> backend: one packed SGEMM (<see cref="Sgemm"/>, threaded on the pool when big) per output matrix, its A
/// and B matrices found through the broadcast batch strides computed at plan time; an operand whose batch is
/// broadcast is simply read again. Execute allocates nothing.
/// </summary>
internal sealed class CpuMatMulPlan : IBinaryPlan
{
    private readonly TensorShape _a, _b;
    private readonly int[] _aOffsets, _bOffsets;  // per output batch: the start of A's and B's matrix
    private readonly int _m, _n, _k;
    private readonly SgemmWorkspace _workspace;
    private readonly WorkerPool _pool;

    public CpuMatMulPlan(TensorShape a, TensorShape b, CpuContext context)
    {
        OutputShape = Reference.MatMulOutputShape(a, b);
        _a = a;
        _b = b;
        TensorShape a2 = a.Rank == 1 ? TensorShape.Of(1, a[0]) : a;
        TensorShape b2 = b.Rank == 1 ? TensorShape.Of(b[0], 1) : b;
        _m = a2[^2];
        _k = a2[^1];
        _n = b2[^1];
        TensorShape batchA = new(a2.Dims[..^2]), batchB = new(b2.Dims[..^2]);
        TensorShape batch = Broadcast.BroadcastShape(batchA, batchB, "MatMul");
        int[] sa = Broadcast.Strides(batchA, batch), sb = Broadcast.Strides(batchB, batch);
        _aOffsets = [.. Enumerable.Range(0, batch.ElementCount).Select(i => Broadcast.Offset(i, batch, sa) * _m * _k)];
        _bOffsets = [.. Enumerable.Range(0, batch.ElementCount).Select(i => Broadcast.Offset(i, batch, sb) * _k * _n)];
        _pool = context.Pool;
        _workspace = new SgemmWorkspace(context.Simd, _pool.Threads, _m, _n, _k);
    }

    public string Algorithm => "packed-sgemm-batched";
    public long WorkspaceBytes => _workspace.Bytes;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor a, Tensor b, Tensor y)
    {
        Reference.RequireShape(a, _a, "input A", "MatMul", OutputShape);
        Reference.RequireShape(b, _b, "input B", "MatMul", OutputShape);
        Reference.RequireShape(y, OutputShape, "output", "MatMul", OutputShape);
        ReadOnlySpan<float> aS = a.Span, bS = b.Span;
        Span<float> ys = y.Span;
        int mn = _m * _n;
        for (int i = 0; i < _aOffsets.Length; i++)
        {
            Span<float> yi = ys.Slice(i * mn, mn);
            if (_k == 0)
            {
                yi.Clear();
                continue;
            }
            Sgemm.Multiply(_workspace, false, false, _m, _n, _k, 1f, aS.Slice(_aOffsets[i], _m * _k), _k, bS.Slice(_bOffsets[i], _k * _n), _n, 0f, yi, _n, _pool);
        }
    }

    public void Dispose()
    {
    }
}
