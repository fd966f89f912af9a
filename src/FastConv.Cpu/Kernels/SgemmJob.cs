using FastConv.Cpu.Threading;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// One multiply in flight: the operands (raw pointers, pinned by the caller for the call's duration) and the
/// split of C into PartsM × PartsN rectangles of whole micro-tiles. Owned by a workspace, so a multiply
/// allocates nothing; <see cref="Run"/> computes one rectangle in a free thread slot.
/// </summary>
internal sealed unsafe class SgemmJob(SgemmWorkspace ws) : IParallelJob
{
    public int M, N, K, PartsM, PartsN;
    private float _alpha, _beta;
    private float* _a, _b, _c;
    private nint _lda, _ldb, _ldc;
    private bool _transA, _transB;
    private PackedA? _packedA;
    private PackedB? _packedB;
    private ISgemmRowEpilogue? _epilogue;

    public void Set(int m, int n, int k, float alpha, float beta, float* a, int lda, bool transA, PackedA? packedA,
        float* b, int ldb, bool transB, PackedB? packedB, float* c, int ldc, ISgemmRowEpilogue? epilogue)
    {
        (M, N, K, _alpha, _beta) = (m, n, k, alpha, beta);
        _a = a;
        _b = b;
        _c = c;
        (_lda, _transA, _packedA) = (lda, transA, packedA);
        (_ldb, _transB, _packedB) = (ldb, transB, packedB);
        (_ldc, _epilogue) = (ldc, epilogue);
    }

    /// <summary>Drops the pointers and references once the call returns, so none outlives its pinning.</summary>
    public void Clear() => Set(0, 0, 0, 0f, 0f, null, 0, false, null, null, 0, false, null, null, 0, null);

    public void Run(int index)
    {
        SgemmBlocking bl = ws.Blocking;
        int im = index / PartsN, jn = index % PartsN;
        int tilesM = (M + bl.MR - 1) / bl.MR, tilesN = (N + bl.NR - 1) / bl.NR;
        int m0 = Math.Min(M, (int)((long)tilesM * im / PartsM) * bl.MR), m1 = Math.Min(M, (int)((long)tilesM * (im + 1) / PartsM) * bl.MR);
        int n0 = Math.Min(N, (int)((long)tilesN * jn / PartsN) * bl.NR), n1 = Math.Min(N, (int)((long)tilesN * (jn + 1) / PartsN) * bl.NR);
        if (m0 >= m1 || n0 >= n1)
        {
            return;
        }
        int slot = ws.AcquireSlot();
        try
        {
            switch (ws.Level)
            {
                case SimdLevel.Avx512:
                    Rectangle<SgemmKernel512>(slot, m0, m1, n0, n1);
                    break;
                case SimdLevel.Avx2:
                    Rectangle<SgemmKernel256>(slot, m0, m1, n0, n1);
                    break;
                case SimdLevel.Vector128:
                    Rectangle<SgemmKernel128>(slot, m0, m1, n0, n1);
                    break;
                default:
                    Rectangle<SgemmKernelScalar>(slot, m0, m1, n0, n1);
                    break;
            }
        }
        finally
        {
            ws.ReleaseSlot(slot);
        }
    }

    /// <summary>C[m0..m1, n0..n1) in BLIS loop order: NC panels of B, KC blocks of k, MC blocks of A, then the macro-kernel.</summary>
    private void Rectangle<TK>(int slot, int m0, int m1, int n0, int n1) where TK : struct, ISgemmMicroKernel
    {
        SgemmBlocking bl = ws.Blocking;
        int mcMax = ws.MaxMc, ncMax = ws.MaxNc, kcMax = bl.KC;
        float* aBuf = ws.A[slot].Pointer, bBuf = ws.B[slot].Pointer, tile = ws.Tile[slot].Pointer;
        if (K == 0)
        {
            for (int i = m0; i < m1; i++)
            {
                float* row = _c + i * _ldc;
                for (int j = n0; j < n1; j++)
                {
                    row[j] = _beta == 0f ? 0f : _beta * row[j];
                }
                _epilogue?.Apply(i, n0, new Span<float>(row + n0, n1 - n0));
            }
            return;
        }
        for (int jc = n0; jc < n1; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n1 - jc);
            for (int pc = 0; pc < K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, K - pc);
                float* bPanel;
                if (_packedB is not null)
                {
                    bPanel = _packedB.Data.Pointer + (long)pc * _packedB.NPad + (long)jc * kc;
                }
                else
                {
                    SgemmPacking.PackB(bBuf, _b, _ldb, _transB, jc, nc, pc, kc, TK.NR);
                    bPanel = bBuf;
                }
                // The first KC block applies beta; later blocks add to what the earlier ones left in C.
                float beta = pc == 0 ? _beta : 1f;
                bool last = pc + kc == K;
                for (int ic = m0; ic < m1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m1 - ic);
                    float* aBlock;
                    if (_packedA is not null)
                    {
                        aBlock = _packedA.Data.Pointer + (long)pc * _packedA.MPad + (long)ic * kc;
                    }
                    else
                    {
                        SgemmPacking.PackA(aBuf, _a, _lda, _transA, ic, mc, pc, kc, TK.MR);
                        aBlock = aBuf;
                    }
                    float* cBlock = _c + ic * _ldc + jc;
                    Macro<TK>(mc, nc, kc, aBlock, bPanel, cBlock, _ldc, _alpha, beta, tile);
                    if (last && _epilogue is not null)
                    {
                        for (int i = 0; i < mc; i++)
                        {
                            _epilogue.Apply(ic + i, jc, new Span<float>(cBlock + i * _ldc, nc));
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// The macro-kernel: B micro-panels outside (each stays in L1 while every A micro-panel of the block passes
    /// under it), A micro-panels inside. Partial tiles run the full kernel into <paramref name="tile"/> and merge.
    /// </summary>
    private static void Macro<TK>(int mc, int nc, int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, float* tile)
        where TK : struct, ISgemmMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nv = Math.Min(nr, nc - jr);
            float* bj = b + (nint)jr * kc;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int mv = Math.Min(mr, mc - ir);
                float* ai = a + (nint)ir * kc;
                float* cij = c + ir * ldc + jr;
                if (mv == mr && nv == nr)
                {
                    TK.Run(kc, ai, bj, cij, ldc, alpha, beta);
                }
                else
                {
                    TK.Run(kc, ai, bj, tile, nr, 1f, 0f);
                    for (int i = 0; i < mv; i++)
                    {
                        float* src = tile + i * nr, dst = cij + i * ldc;
                        for (int j = 0; j < nv; j++)
                        {
                            dst[j] = beta == 0f ? alpha * src[j] : alpha * src[j] + beta * dst[j];
                        }
                    }
                }
            }
        }
    }
}

/// <summary>Packing of op(A) blocks into MR-row micro-panels and op(B) panels into NR-column micro-panels, zero-padded.</summary>
internal static unsafe class SgemmPacking
{
    /// <summary>
    /// op(A)[i0..i0+mc, p0..p0+kc) into <paramref name="dst"/>: micro-panel r (rows i0+r·MR ..) at dst + r·MR·kc,
    /// element (i, p) of it at [p·MR + i]; rows past mc are zeros.
    /// </summary>
    public static void PackA(float* dst, float* a, nint lda, bool transA, int i0, int mc, int p0, int kc, int mr)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* d = dst + (nint)ir * kc;
            if (!transA)
            {
                // A row-major: each row of the micro-panel is a contiguous run of A, written with stride MR.
                for (int i = 0; i < rows; i++)
                {
                    float* src = a + (i0 + ir + i) * lda + p0;
                    for (int p = 0; p < kc; p++)
                    {
                        d[p * mr + i] = src[p];
                    }
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (p0 + p) * lda + i0 + ir;
                    for (int i = 0; i < rows; i++)
                    {
                        d[p * mr + i] = src[i];
                    }
                }
            }
            if (rows < mr)
            {
                for (int p = 0; p < kc; p++)
                {
                    new Span<float>(d + p * mr + rows, mr - rows).Clear();
                }
            }
        }
    }

    /// <summary>
    /// op(B)[p0..p0+kc, j0..j0+nc) into <paramref name="dst"/>: micro-panel r (columns j0+r·NR ..) at dst + r·NR·kc,
    /// element (p, j) of it at [p·NR + j]; columns past nc are zeros.
    /// </summary>
    public static void PackB(float* dst, float* b, nint ldb, bool transB, int j0, int nc, int p0, int kc, int nr)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* d = dst + (nint)jr * kc;
            if (!transB)
            {
                // B row-major: one contiguous run of NR floats per step of k.
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (p0 + p) * ldb + j0 + jr;
                    new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(d + p * nr, cols));
                    if (cols < nr)
                    {
                        new Span<float>(d + p * nr + cols, nr - cols).Clear();
                    }
                }
            }
            else
            {
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (j0 + jr + j) * ldb + p0;
                    for (int p = 0; p < kc; p++)
                    {
                        d[p * nr + j] = src[p];
                    }
                }
                if (cols < nr)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        new Span<float>(d + p * nr + cols, nr - cols).Clear();
                    }
                }
            }
        }
    }
}
