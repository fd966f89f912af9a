using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastConv.Backends;
using FastConv.Cpu.Kernels;
using FastConv.Cpu.Threading;

namespace FastConv.Cpu;

/// <summary>
/// MatMul of two run-time operands (NumPy semantics: batched, broadcast batch axes, 1-D operands promoted) on the
/// <c>cpu</c> backend: one packed SGEMM (<see cref="Sgemm"/>, threaded on the pool when big) per output matrix, its A
/// and B matrices found through the broadcast batch strides computed at plan time; an operand whose batch is
/// broadcast is simply read again. Narrow products (N ≤ 32, as attention's probabilities times V with a head
/// width of 8 to 32) waste most of a packed micro-tile, so they take a row kernel instead — each output row the sum of
/// B's rows scaled by A's elements, one vector FMA per (k, vector of N), four rows at a time so each load of B serves
/// four multiply-adds (fused where the CPU has FMA: <c>MultiplyAddEstimate</c>, never a software fma) — split across the pool by (batch, row block).
/// Execute allocates nothing.
/// </summary>
internal sealed class CpuMatMulPlan : IBinaryPlan, IParallelJob
{
    /// <summary>Widest N the row kernel takes (wider products fill the packed SGEMM's micro-tiles well enough).</summary>
    private const int RowKernelMaxN = 32;

    /// <summary>Output rows per work item of the row kernel.</summary>
    private const int RowBlock = 16;

    /// <summary>Rows the row kernel computes together, sharing each load of B.</summary>
    private const int RowGroup = 4;

    private readonly TensorShape _a, _b;
    private readonly int[] _aOffsets, _bOffsets;  // per output batch: the start of A's and B's matrix
    private readonly int _m, _n, _k;
    private readonly SgemmWorkspace _workspace;
    private readonly WorkerPool _pool;
    private readonly bool _rows;
    private readonly int _blocksPerMatrix, _chunks;
    private Tensor? _ta, _tb, _ty;

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
        _rows = _n <= RowKernelMaxN && context.Simd > SimdLevel.Scalar;
        _blocksPerMatrix = (_m + RowBlock - 1) / RowBlock;
        int items = _aOffsets.Length * _blocksPerMatrix;
        _chunks = _pool.Threads == 1 || (long)_aOffsets.Length * _m * _n * _k < (1 << 16) ? 1 : Math.Min(items, 4 * _pool.Threads);
        Algorithm = _rows ? "matmul-rows-vector" : "packed-sgemm-batched";
    }

    public string Algorithm { get; }
    public long WorkspaceBytes => _workspace.Bytes;
    public TensorShape OutputShape { get; }

    public void Execute(Tensor a, Tensor b, Tensor y)
    {
        Reference.RequireShape(a, _a, "input A", "MatMul", OutputShape);
        Reference.RequireShape(b, _b, "input B", "MatMul", OutputShape);
        Reference.RequireShape(y, OutputShape, "output", "MatMul", OutputShape);
        if (_rows)
        {
            _ta = a;
            _tb = b;
            _ty = y;
            try
            {
                _pool.For(_chunks, this);
            }
            finally
            {
                _ta = _tb = _ty = null;
            }
            return;
        }
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

    public void Run(int chunk)
    {
        int items = _aOffsets.Length * _blocksPerMatrix;
        int first = (int)((long)chunk * items / _chunks), end = (int)((long)(chunk + 1) * items / _chunks);
        ref float a = ref MemoryMarshal.GetReference(_ta!.Span);
        ref float b = ref MemoryMarshal.GetReference(_tb!.Span);
        ref float y = ref MemoryMarshal.GetReference(_ty!.Span);
        int vn = _n / Vector<float>.Count * Vector<float>.Count;
        for (int item = first; item < end; item++)
        {
            int batch = item / _blocksPerMatrix, m0 = item % _blocksPerMatrix * RowBlock, m1 = Math.Min(m0 + RowBlock, _m);
            ref float ab = ref Unsafe.Add(ref a, _aOffsets[batch]);
            ref float bb = ref Unsafe.Add(ref b, _bOffsets[batch]);
            int m = m0;
            for (; m + RowGroup <= m1; m += RowGroup)
            {
                RowGroupVectors(ref Unsafe.Add(ref ab, (nint)m * _k), ref bb, ref Unsafe.Add(ref y, ((nint)batch * _m + m) * _n), vn);
                for (int r = 0; r < RowGroup; r++)
                {
                    ScalarTail(ref Unsafe.Add(ref ab, (nint)(m + r) * _k), ref bb, ref Unsafe.Add(ref y, ((nint)batch * _m + m + r) * _n), vn);
                }
            }
            for (; m < m1; m++)
            {
                ref float ar = ref Unsafe.Add(ref ab, (nint)m * _k);
                ref float yr = ref Unsafe.Add(ref y, ((nint)batch * _m + m) * _n);
                // y[m, j] = Σ_k a[m, k]·b[k, j]: whole vectors of N first, then the scalar tail.
                for (int j = 0; j < vn; j += Vector<float>.Count)
                {
                    // Four partial sums over k (k mod 4) so the multiply-adds do not wait on each other, then combined.
                    Vector<float> acc0 = Vector<float>.Zero, acc1 = acc0, acc2 = acc0, acc3 = acc0;
                    int k = 0;
                    for (; k + 4 <= _k; k += 4)
                    {
                        ref float bk = ref Unsafe.Add(ref bb, (nint)k * _n + j);
                        acc0 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref ar, k)), Vector.LoadUnsafe(ref bk), acc0);
                        acc1 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref ar, k + 1)), Vector.LoadUnsafe(ref bk, (nuint)_n), acc1);
                        acc2 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref ar, k + 2)), Vector.LoadUnsafe(ref bk, (nuint)(2 * _n)), acc2);
                        acc3 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref ar, k + 3)), Vector.LoadUnsafe(ref bk, (nuint)(3 * _n)), acc3);
                    }
                    for (; k < _k; k++)
                    {
                        acc0 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref ar, k)), Vector.LoadUnsafe(ref bb, (nuint)((nint)k * _n + j)), acc0);
                    }
                    ((acc0 + acc1) + (acc2 + acc3)).StoreUnsafe(ref yr, (nuint)j);
                }
                ScalarTail(ref ar, ref bb, ref yr, vn);
            }
        }
    }

    /// <summary>
    /// <see cref="RowGroup"/> rows of y at once, whole vectors of N: each vector of B's row k is loaded once and
    /// multiply-added into the four rows' sums, two steps of k in flight (eight independent sums, enough to cover the
    /// FMA latency), the two halves added at the end.
    /// </summary>
    private void RowGroupVectors(ref float a, ref float b, ref float y, int vn)
    {
        nint kEnd = _k, lda = _k, n = _n; // A's rows are K apart, B's N
        for (int j = 0; j < vn; j += Vector<float>.Count)
        {
            Vector<float> s0 = Vector<float>.Zero, s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
            nint k = 0;
            for (; k + 2 <= kEnd; k += 2)
            {
                ref float bk = ref Unsafe.Add(ref b, k * n + j);
                Vector<float> b0 = Vector.LoadUnsafe(ref bk), b1 = Vector.LoadUnsafe(ref bk, (nuint)n);
                s0 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, k)), b0, s0);
                s1 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, lda + k)), b0, s1);
                s2 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, 2 * lda + k)), b0, s2);
                s3 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, 3 * lda + k)), b0, s3);
                t0 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, k + 1)), b1, t0);
                t1 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, lda + k + 1)), b1, t1);
                t2 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, 2 * lda + k + 1)), b1, t2);
                t3 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, 3 * lda + k + 1)), b1, t3);
            }
            if (k < kEnd)
            {
                Vector<float> b0 = Vector.LoadUnsafe(ref b, (nuint)(k * n + j));
                s0 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, k)), b0, s0);
                s1 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, lda + k)), b0, s1);
                s2 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, 2 * lda + k)), b0, s2);
                s3 = Vector.MultiplyAddEstimate(new Vector<float>(Unsafe.Add(ref a, 3 * lda + k)), b0, s3);
            }
            (s0 + t0).StoreUnsafe(ref y, (nuint)j);
            (s1 + t1).StoreUnsafe(ref y, (nuint)(n + j));
            (s2 + t2).StoreUnsafe(ref y, (nuint)(2 * n + j));
            (s3 + t3).StoreUnsafe(ref y, (nuint)(3 * n + j));
        }
    }

    /// <summary>The columns of one row of y past the whole vectors (N not a multiple of the vector width).</summary>
    private void ScalarTail(ref float a, ref float b, ref float y, int vn)
    {
        for (int j = vn; j < _n; j++)
        {
            float acc = 0;
            for (int k = 0; k < _k; k++)
            {
                acc += Unsafe.Add(ref a, k) * Unsafe.Add(ref b, (nint)k * _n + j);
            }
            Unsafe.Add(ref y, j) = acc;
        }
    }

    public void Dispose()
    {
    }
}
