using FastConv.Cpu.Threading;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Row-major single-precision GEMM: <c>C[m,n] = alpha·Σ_k op(A)[m,k]·op(B)[k,n] + beta·C[m,n]</c>, where
/// op(A) is A (m×k, leading dimension lda) or Aᵀ (A stored k×m) and likewise for B. With beta = 0, C is
/// written without being read (so NaN-poisoned outputs are overwritten).
/// <para>
/// BLIS/MLAS structure: op(B) is packed a KC×NC panel at a time into NR-column micro-panels, op(A) an MC×KC
/// block at a time into MR-row micro-panels, and a register-blocked MR×NR micro-kernel per SIMD level
/// (<see cref="SgemmBlocking"/> gives the sizes and the reasons) runs over them; edge tiles are computed whole
/// into a scratch tile (the packing zero-pads) and only their valid part is merged into C. A constant operand
/// (conv or FC weights) is packed once with <see cref="PackA"/> / <see cref="PackB"/>. Threads split C into
/// rectangles of whole micro-tiles handed out dynamically by <see cref="WorkerPool.For"/>.
/// </para>
/// </summary>
public static class Sgemm
{
    /// <summary>Below this many multiply-adds one thread does it all: waking the pool costs more (~10 µs).</summary>
    internal const long ParallelThreshold = 1L << 21;

    private static readonly Stack<SgemmWorkspace>[] Cache = [new(), new(), new(), new()];

    /// <summary>The general entry point at <see cref="CpuFeatures.Current"/>; <paramref name="pool"/> null runs on the calling thread.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, WorkerPool? pool = null)
        => Multiply(CpuFeatures.Current, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pool);

    /// <summary>
    /// As above at a given SIMD level; takes a workspace from a process-wide cache (allocated on first use), so
    /// callers that plan should hold their own <see cref="SgemmWorkspace"/> instead.
    /// </summary>
    public static void Multiply(SimdLevel level, bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, WorkerPool? pool = null)
    {
        SgemmWorkspace ws = Rent(level, pool?.Threads ?? 1);
        try
        {
            Multiply(ws, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pool);
        }
        finally
        {
            Return(ws);
        }
    }

    /// <summary>Multiplies with both operands packed per call into <paramref name="ws"/>; allocates nothing.</summary>
    public static unsafe void Multiply(SgemmWorkspace ws, bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        WorkerPool? pool = null, ISgemmRowEpilogue? epilogue = null)
    {
        ArgumentNullException.ThrowIfNull(ws);
        CheckOperand("A", transA, m, k, a.Length, lda);
        CheckOperand("B", transB, k, n, b.Length, ldb);
        CheckOperand("C", false, m, n, c.Length, ldc);
        fixed (float* pa = a, pb = b, pc = c)
        {
            SgemmJob job = ws.Job;
            job.Set(m, n, k, alpha, beta, pa, lda, transA, null, pb, ldb, transB, null, pc, ldc, epilogue);
            Execute(ws, job, pool);
        }
    }

    /// <summary>C = alpha·A·op(B) + beta·C with A packed once by <see cref="PackA"/> (e.g. conv weights); allocates nothing.</summary>
    public static unsafe void Multiply(SgemmWorkspace ws, PackedA a, bool transB, int n, float alpha,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, WorkerPool? pool = null, ISgemmRowEpilogue? epilogue = null)
    {
        ArgumentNullException.ThrowIfNull(ws);
        ArgumentNullException.ThrowIfNull(a);
        RequireLevel(ws, a.Level);
        CheckOperand("B", transB, a.K, n, b.Length, ldb);
        CheckOperand("C", false, a.M, n, c.Length, ldc);
        fixed (float* pb = b, pc = c)
        {
            SgemmJob job = ws.Job;
            job.Set(a.M, n, a.K, alpha, beta, null, 0, false, a, pb, ldb, transB, null, pc, ldc, epilogue);
            Execute(ws, job, pool);
        }
    }

    /// <summary>C = alpha·op(A)·B + beta·C with B packed once by <see cref="PackB"/> (e.g. FC weights); allocates nothing.</summary>
    public static unsafe void Multiply(SgemmWorkspace ws, bool transA, int m, float alpha, ReadOnlySpan<float> a, int lda,
        PackedB b, float beta, Span<float> c, int ldc, WorkerPool? pool = null, ISgemmRowEpilogue? epilogue = null)
    {
        ArgumentNullException.ThrowIfNull(ws);
        ArgumentNullException.ThrowIfNull(b);
        RequireLevel(ws, b.Level);
        CheckOperand("A", transA, m, b.K, a.Length, lda);
        CheckOperand("C", false, m, b.N, c.Length, ldc);
        fixed (float* pa = a, pc = c)
        {
            SgemmJob job = ws.Job;
            job.Set(m, b.N, b.K, alpha, beta, pa, lda, transA, null, null, 0, false, b, pc, ldc, epilogue);
            Execute(ws, job, pool);
        }
    }

    /// <summary>Packs op(A) (m×k; A is k×m when <paramref name="transA"/>) for the kernels of <paramref name="level"/>.</summary>
    public static unsafe PackedA PackA(SimdLevel level, bool transA, int m, int k, ReadOnlySpan<float> a, int lda)
    {
        level = level < CpuFeatures.Detected ? level : CpuFeatures.Detected;
        CheckOperand("A", transA, m, k, a.Length, lda);
        SgemmBlocking bl = SgemmBlocking.For(level);
        int mPad = PackedA.RoundUp(Math.Max(m, 1), bl.MR);
        var data = new PinnedBuffer((long)mPad * Math.Max(k, 1));
        fixed (float* pa = a)
        {
            for (int pc = 0; pc < k; pc += bl.KC)
            {
                int kc = Math.Min(bl.KC, k - pc);
                SgemmPacking.PackA(data.Pointer + (long)pc * mPad, pa, lda, transA, 0, m, pc, kc, bl.MR);
            }
        }
        return new PackedA(level, m, k, data);
    }

    /// <summary>Packs op(B) (k×n; B is n×k when <paramref name="transB"/>) for the kernels of <paramref name="level"/>.</summary>
    public static unsafe PackedB PackB(SimdLevel level, bool transB, int k, int n, ReadOnlySpan<float> b, int ldb)
    {
        level = level < CpuFeatures.Detected ? level : CpuFeatures.Detected;
        CheckOperand("B", transB, k, n, b.Length, ldb);
        SgemmBlocking bl = SgemmBlocking.For(level);
        int nPad = PackedA.RoundUp(Math.Max(n, 1), bl.NR);
        var data = new PinnedBuffer((long)nPad * Math.Max(k, 1));
        fixed (float* pb = b)
        {
            for (int pc = 0; pc < k; pc += bl.KC)
            {
                int kc = Math.Min(bl.KC, k - pc);
                SgemmPacking.PackB(data.Pointer + (long)pc * nPad, pb, ldb, transB, 0, n, pc, kc, bl.NR);
            }
        }
        return new PackedB(level, k, n, data);
    }

    private static void Execute(SgemmWorkspace ws, SgemmJob job, WorkerPool? pool)
    {
        try
        {
            if (job.M == 0 || job.N == 0)
            {
                return;
            }
            if (job.K > ws.MaxKc && ws.MaxKc < ws.Blocking.KC)
            {
                throw new InvalidShapeException($"Sgemm: K={job.K} is larger than the workspace was sized for ({ws.MaxKc}).");
            }
            // A workspace with fewer slots than the pool has threads would leave a thread spinning for a slot.
            int threads = pool is null || pool.Threads > ws.Threads ? 1 : pool.Threads;
            if (threads == 1 || (long)job.M * job.N * Math.Max(job.K, 1) < ParallelThreshold)
            {
                job.PartsM = job.PartsN = 1;
                job.Run(0);
                return;
            }
            // About three rectangles per thread, so a thread slowed by another process does not hold up the rest;
            // split N first: with A packed once (conv weights) a split of N costs nothing, a split of M repacks B.
            SgemmBlocking bl = ws.Blocking;
            int tilesM = (job.M + bl.MR - 1) / bl.MR, tilesN = (job.N + bl.NR - 1) / bl.NR;
            int target = 3 * threads;
            job.PartsN = Math.Min(tilesN, target);
            job.PartsM = Math.Min(tilesM, (target + job.PartsN - 1) / job.PartsN);
            pool!.For(job.PartsM * job.PartsN, job);
        }
        finally
        {
            job.Clear();
        }
    }

    private static void RequireLevel(SgemmWorkspace ws, SimdLevel packed)
    {
        if (ws.Level != packed)
        {
            throw new InvalidHyperparameterException($"Sgemm: operand packed for {packed} but the workspace runs {ws.Level}.");
        }
    }

    /// <summary>Checks that a row-major rows×cols operand (stored cols×rows when transposed) fits its span.</summary>
    private static void CheckOperand(string name, bool trans, int rows, int cols, int length, int ld)
    {
        if (rows < 0 || cols < 0)
        {
            throw new InvalidShapeException($"Sgemm: {name} dimensions must be >= 0, got {rows}x{cols}.");
        }
        int storedRows = trans ? cols : rows, storedCols = trans ? rows : cols;
        if (storedRows == 0 || storedCols == 0)
        {
            return;
        }
        if (ld < storedCols)
        {
            throw new InvalidShapeException($"Sgemm: leading dimension of {name} is {ld}, less than its {storedCols} stored columns.");
        }
        long need = (long)(storedRows - 1) * ld + storedCols;
        if (length < need)
        {
            throw new InvalidShapeException($"Sgemm: {name} ({storedRows}x{storedCols}, ld {ld}) needs {need} floats, the span has {length}.");
        }
    }

    private static SgemmWorkspace Rent(SimdLevel level, int threads)
    {
        level = level < CpuFeatures.Detected ? level : CpuFeatures.Detected;
        Stack<SgemmWorkspace> stack = Cache[(int)level];
        lock (stack)
        {
            if (stack.TryPop(out SgemmWorkspace? ws))
            {
                if (ws.Threads >= threads)
                {
                    return ws;
                }
            }
        }
        return new SgemmWorkspace(level, threads);
    }

    private static void Return(SgemmWorkspace ws)
    {
        Stack<SgemmWorkspace> stack = Cache[(int)ws.Level];
        lock (stack)
        {
            // A few are enough: one per thread that multiplies at the same time.
            if (stack.Count < 8)
            {
                stack.Push(ws);
            }
        }
    }
}
