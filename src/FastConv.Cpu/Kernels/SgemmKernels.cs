using System.Runtime.Intrinsics;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// A register-blocked SGEMM micro-kernel: <c>C[0..MR, 0..NR] = alpha·Σ_p A[p]·B[p] + beta·C</c> over kc steps,
/// reading A as a packed micro-panel (kc × MR, one column of op(A) per step) and B as a packed micro-panel
/// (kc × NR, one row of op(B) per step); beta = 0 writes C without reading it. The generic macro-kernel is
/// instantiated per struct, so the JIT inlines nothing through an interface call at run time.
/// </summary>
internal interface ISgemmMicroKernel
{
    static abstract int MR { get; }
    static abstract int NR { get; }
    static abstract unsafe void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta);
}

/// <summary>
/// Cache blocking of one SIMD level (BLIS names): MR×NR is the micro-kernel tile; an MC×KC block of op(A)
/// and a KC×NC panel of op(B) are packed. Chosen for Zen 5 (48 KB L1D, 1 MB L2 per core, 32 MB L3 per CCX):
/// <list type="bullet">
/// <item>KC: the B micro-panel (KC×NR floats) is reused by every A micro-panel of the block, so it must stay in
/// L1: 192×32×4 B = 24 KB at AVX-512, half of L1, leaving room for the streaming A micro-panel (12×192×4 = 9 KB)
/// and the C tile. Narrower levels afford KC = 256 (16 KB / 8 KB B micro-panels). KC ≥ 128 amortizes the C
/// tile's load and store (24 vectors) over ≥ 3000 FMAs.</item>
/// <item>MC: the packed A block (MC×KC) is re-read from L2 for every B micro-panel: 144×192×4 = 108 KB, a tenth
/// of L2, so the B panel and the C tile being written fit beside it; a multiple of MR.</item>
/// <item>NC: the packed B panel (KC×NC) is read once per A block from L2/L3: 192×512×4 = 384 KB. NC = 512 also
/// bounds the C tile that the per-row epilogue revisits (MC×NC×4 = 288 KB) so it is still in L2.</item>
/// </list>
/// </summary>
internal readonly record struct SgemmBlocking(int MR, int NR, int MC, int KC, int NC)
{
    public static SgemmBlocking For(SimdLevel level) => level switch
    {
        SimdLevel.Avx512 => new(12, 32, 144, 192, 512),
        SimdLevel.Avx2 => new(6, 16, 96, 256, 512),
        SimdLevel.Vector128 => new(6, 8, 96, 256, 512),
        _ => new(4, 4, 64, 256, 256),
    };
}

/// <summary>Scalar micro-kernel: 4×4, sixteen accumulators the JIT keeps in registers; the always-works baseline.</summary>
internal readonly struct SgemmKernelScalar : ISgemmMicroKernel
{
    public static int MR => 4;
    public static int NR => 4;

    public static unsafe void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            a += 4;
            b += 4;
        }
        StoreRow(c, c00, c01, c02, c03, alpha, beta);
        StoreRow(c + ldc, c10, c11, c12, c13, alpha, beta);
        StoreRow(c + 2 * ldc, c20, c21, c22, c23, alpha, beta);
        StoreRow(c + 3 * ldc, c30, c31, c32, c33, alpha, beta);
    }

    private static unsafe void StoreRow(float* c, float v0, float v1, float v2, float v3, float alpha, float beta)
    {
        if (beta == 0f)
        {
            c[0] = alpha * v0;
            c[1] = alpha * v1;
            c[2] = alpha * v2;
            c[3] = alpha * v3;
        }
        else
        {
            c[0] = alpha * v0 + beta * c[0];
            c[1] = alpha * v1 + beta * c[1];
            c[2] = alpha * v2 + beta * c[2];
            c[3] = alpha * v3 + beta * c[3];
        }
    }
}

// The vector kernels below are unrolled by hand (generated once: one line per accumulator) because the JIT
// keeps locals, not array elements, in registers.

/// <summary>
/// Vector512 micro-kernel: 12 rows × 32 columns, 24 accumulators. 24 zmm accumulators + 2 B vectors + the broadcast (folded into the FMA as {1to16}) = 27 of 32 registers; MLAS's AVX-512 kernel shape, measured at 98 % of the FMA peak in C# (CPU-NOTES).
/// </summary>
internal readonly struct SgemmKernel512 : ISgemmMicroKernel
{
    public static int MR => 12;
    public static int NR => 32;

    public static unsafe void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> r0a = default, r0b = default;
        Vector512<float> r1a = default, r1b = default;
        Vector512<float> r2a = default, r2b = default;
        Vector512<float> r3a = default, r3b = default;
        Vector512<float> r4a = default, r4b = default;
        Vector512<float> r5a = default, r5b = default;
        Vector512<float> r6a = default, r6b = default;
        Vector512<float> r7a = default, r7b = default;
        Vector512<float> r8a = default, r8b = default;
        Vector512<float> r9a = default, r9b = default;
        Vector512<float> r10a = default, r10b = default;
        Vector512<float> r11a = default, r11b = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> ba = Vector512.Load(b + 0);
            Vector512<float> bb = Vector512.Load(b + 16);
            Vector512<float> a0 = Vector512.Create(a[0]);
            r0a = Vector512.FusedMultiplyAdd(a0, ba, r0a);
            r0b = Vector512.FusedMultiplyAdd(a0, bb, r0b);
            Vector512<float> a1 = Vector512.Create(a[1]);
            r1a = Vector512.FusedMultiplyAdd(a1, ba, r1a);
            r1b = Vector512.FusedMultiplyAdd(a1, bb, r1b);
            Vector512<float> a2 = Vector512.Create(a[2]);
            r2a = Vector512.FusedMultiplyAdd(a2, ba, r2a);
            r2b = Vector512.FusedMultiplyAdd(a2, bb, r2b);
            Vector512<float> a3 = Vector512.Create(a[3]);
            r3a = Vector512.FusedMultiplyAdd(a3, ba, r3a);
            r3b = Vector512.FusedMultiplyAdd(a3, bb, r3b);
            Vector512<float> a4 = Vector512.Create(a[4]);
            r4a = Vector512.FusedMultiplyAdd(a4, ba, r4a);
            r4b = Vector512.FusedMultiplyAdd(a4, bb, r4b);
            Vector512<float> a5 = Vector512.Create(a[5]);
            r5a = Vector512.FusedMultiplyAdd(a5, ba, r5a);
            r5b = Vector512.FusedMultiplyAdd(a5, bb, r5b);
            Vector512<float> a6 = Vector512.Create(a[6]);
            r6a = Vector512.FusedMultiplyAdd(a6, ba, r6a);
            r6b = Vector512.FusedMultiplyAdd(a6, bb, r6b);
            Vector512<float> a7 = Vector512.Create(a[7]);
            r7a = Vector512.FusedMultiplyAdd(a7, ba, r7a);
            r7b = Vector512.FusedMultiplyAdd(a7, bb, r7b);
            Vector512<float> a8 = Vector512.Create(a[8]);
            r8a = Vector512.FusedMultiplyAdd(a8, ba, r8a);
            r8b = Vector512.FusedMultiplyAdd(a8, bb, r8b);
            Vector512<float> a9 = Vector512.Create(a[9]);
            r9a = Vector512.FusedMultiplyAdd(a9, ba, r9a);
            r9b = Vector512.FusedMultiplyAdd(a9, bb, r9b);
            Vector512<float> a10 = Vector512.Create(a[10]);
            r10a = Vector512.FusedMultiplyAdd(a10, ba, r10a);
            r10b = Vector512.FusedMultiplyAdd(a10, bb, r10b);
            Vector512<float> a11 = Vector512.Create(a[11]);
            r11a = Vector512.FusedMultiplyAdd(a11, ba, r11a);
            r11b = Vector512.FusedMultiplyAdd(a11, bb, r11b);
            a += 12;
            b += 32;
        }
        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            (r0a * va).Store(c + 0 * ldc + 0);
            (r0b * va).Store(c + 0 * ldc + 16);
            (r1a * va).Store(c + 1 * ldc + 0);
            (r1b * va).Store(c + 1 * ldc + 16);
            (r2a * va).Store(c + 2 * ldc + 0);
            (r2b * va).Store(c + 2 * ldc + 16);
            (r3a * va).Store(c + 3 * ldc + 0);
            (r3b * va).Store(c + 3 * ldc + 16);
            (r4a * va).Store(c + 4 * ldc + 0);
            (r4b * va).Store(c + 4 * ldc + 16);
            (r5a * va).Store(c + 5 * ldc + 0);
            (r5b * va).Store(c + 5 * ldc + 16);
            (r6a * va).Store(c + 6 * ldc + 0);
            (r6b * va).Store(c + 6 * ldc + 16);
            (r7a * va).Store(c + 7 * ldc + 0);
            (r7b * va).Store(c + 7 * ldc + 16);
            (r8a * va).Store(c + 8 * ldc + 0);
            (r8b * va).Store(c + 8 * ldc + 16);
            (r9a * va).Store(c + 9 * ldc + 0);
            (r9b * va).Store(c + 9 * ldc + 16);
            (r10a * va).Store(c + 10 * ldc + 0);
            (r10b * va).Store(c + 10 * ldc + 16);
            (r11a * va).Store(c + 11 * ldc + 0);
            (r11b * va).Store(c + 11 * ldc + 16);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 0 * ldc + 0), r0a * va).Store(c + 0 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 0 * ldc + 16), r0b * va).Store(c + 0 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 1 * ldc + 0), r1a * va).Store(c + 1 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 1 * ldc + 16), r1b * va).Store(c + 1 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 2 * ldc + 0), r2a * va).Store(c + 2 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 2 * ldc + 16), r2b * va).Store(c + 2 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 3 * ldc + 0), r3a * va).Store(c + 3 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 3 * ldc + 16), r3b * va).Store(c + 3 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 4 * ldc + 0), r4a * va).Store(c + 4 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 4 * ldc + 16), r4b * va).Store(c + 4 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 5 * ldc + 0), r5a * va).Store(c + 5 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 5 * ldc + 16), r5b * va).Store(c + 5 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 6 * ldc + 0), r6a * va).Store(c + 6 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 6 * ldc + 16), r6b * va).Store(c + 6 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 7 * ldc + 0), r7a * va).Store(c + 7 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 7 * ldc + 16), r7b * va).Store(c + 7 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 8 * ldc + 0), r8a * va).Store(c + 8 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 8 * ldc + 16), r8b * va).Store(c + 8 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 9 * ldc + 0), r9a * va).Store(c + 9 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 9 * ldc + 16), r9b * va).Store(c + 9 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 10 * ldc + 0), r10a * va).Store(c + 10 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 10 * ldc + 16), r10b * va).Store(c + 10 * ldc + 16);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 11 * ldc + 0), r11a * va).Store(c + 11 * ldc + 0);
            Vector512.FusedMultiplyAdd(vb, Vector512.Load(c + 11 * ldc + 16), r11b * va).Store(c + 11 * ldc + 16);
        }
    }
}

/// <summary>
/// Vector256 micro-kernel: 6 rows × 16 columns, 12 accumulators. 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of the 16 registers AVX2 has (BLIS haswell 6×16).
/// </summary>
internal readonly struct SgemmKernel256 : ISgemmMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;

    public static unsafe void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> r0a = default, r0b = default;
        Vector256<float> r1a = default, r1b = default;
        Vector256<float> r2a = default, r2b = default;
        Vector256<float> r3a = default, r3b = default;
        Vector256<float> r4a = default, r4b = default;
        Vector256<float> r5a = default, r5b = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> ba = Vector256.Load(b + 0);
            Vector256<float> bb = Vector256.Load(b + 8);
            Vector256<float> a0 = Vector256.Create(a[0]);
            r0a = Vector256.FusedMultiplyAdd(a0, ba, r0a);
            r0b = Vector256.FusedMultiplyAdd(a0, bb, r0b);
            Vector256<float> a1 = Vector256.Create(a[1]);
            r1a = Vector256.FusedMultiplyAdd(a1, ba, r1a);
            r1b = Vector256.FusedMultiplyAdd(a1, bb, r1b);
            Vector256<float> a2 = Vector256.Create(a[2]);
            r2a = Vector256.FusedMultiplyAdd(a2, ba, r2a);
            r2b = Vector256.FusedMultiplyAdd(a2, bb, r2b);
            Vector256<float> a3 = Vector256.Create(a[3]);
            r3a = Vector256.FusedMultiplyAdd(a3, ba, r3a);
            r3b = Vector256.FusedMultiplyAdd(a3, bb, r3b);
            Vector256<float> a4 = Vector256.Create(a[4]);
            r4a = Vector256.FusedMultiplyAdd(a4, ba, r4a);
            r4b = Vector256.FusedMultiplyAdd(a4, bb, r4b);
            Vector256<float> a5 = Vector256.Create(a[5]);
            r5a = Vector256.FusedMultiplyAdd(a5, ba, r5a);
            r5b = Vector256.FusedMultiplyAdd(a5, bb, r5b);
            a += 6;
            b += 16;
        }
        Vector256<float> va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            (r0a * va).Store(c + 0 * ldc + 0);
            (r0b * va).Store(c + 0 * ldc + 8);
            (r1a * va).Store(c + 1 * ldc + 0);
            (r1b * va).Store(c + 1 * ldc + 8);
            (r2a * va).Store(c + 2 * ldc + 0);
            (r2b * va).Store(c + 2 * ldc + 8);
            (r3a * va).Store(c + 3 * ldc + 0);
            (r3b * va).Store(c + 3 * ldc + 8);
            (r4a * va).Store(c + 4 * ldc + 0);
            (r4b * va).Store(c + 4 * ldc + 8);
            (r5a * va).Store(c + 5 * ldc + 0);
            (r5b * va).Store(c + 5 * ldc + 8);
        }
        else
        {
            Vector256<float> vb = Vector256.Create(beta);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 0 * ldc + 0), r0a * va).Store(c + 0 * ldc + 0);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 0 * ldc + 8), r0b * va).Store(c + 0 * ldc + 8);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 1 * ldc + 0), r1a * va).Store(c + 1 * ldc + 0);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 1 * ldc + 8), r1b * va).Store(c + 1 * ldc + 8);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 2 * ldc + 0), r2a * va).Store(c + 2 * ldc + 0);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 2 * ldc + 8), r2b * va).Store(c + 2 * ldc + 8);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 3 * ldc + 0), r3a * va).Store(c + 3 * ldc + 0);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 3 * ldc + 8), r3b * va).Store(c + 3 * ldc + 8);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 4 * ldc + 0), r4a * va).Store(c + 4 * ldc + 0);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 4 * ldc + 8), r4b * va).Store(c + 4 * ldc + 8);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 5 * ldc + 0), r5a * va).Store(c + 5 * ldc + 0);
            Vector256.FusedMultiplyAdd(vb, Vector256.Load(c + 5 * ldc + 8), r5b * va).Store(c + 5 * ldc + 8);
        }
    }
}

/// <summary>
/// Vector128 micro-kernel: 6 rows × 8 columns, 12 accumulators. 12 accumulators + 2 B vectors + 1 broadcast fit the 16 xmm of SSE (and NEON's 32); MultiplyAddEstimate fuses where the hardware has FMA and stays a multiply and an add where it does not (no slow software fma).
/// </summary>
internal readonly struct SgemmKernel128 : ISgemmMicroKernel
{
    public static int MR => 6;
    public static int NR => 8;

    public static unsafe void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector128<float> r0a = default, r0b = default;
        Vector128<float> r1a = default, r1b = default;
        Vector128<float> r2a = default, r2b = default;
        Vector128<float> r3a = default, r3b = default;
        Vector128<float> r4a = default, r4b = default;
        Vector128<float> r5a = default, r5b = default;
        for (int p = 0; p < kc; p++)
        {
            Vector128<float> ba = Vector128.Load(b + 0);
            Vector128<float> bb = Vector128.Load(b + 4);
            Vector128<float> a0 = Vector128.Create(a[0]);
            r0a = Vector128.MultiplyAddEstimate(a0, ba, r0a);
            r0b = Vector128.MultiplyAddEstimate(a0, bb, r0b);
            Vector128<float> a1 = Vector128.Create(a[1]);
            r1a = Vector128.MultiplyAddEstimate(a1, ba, r1a);
            r1b = Vector128.MultiplyAddEstimate(a1, bb, r1b);
            Vector128<float> a2 = Vector128.Create(a[2]);
            r2a = Vector128.MultiplyAddEstimate(a2, ba, r2a);
            r2b = Vector128.MultiplyAddEstimate(a2, bb, r2b);
            Vector128<float> a3 = Vector128.Create(a[3]);
            r3a = Vector128.MultiplyAddEstimate(a3, ba, r3a);
            r3b = Vector128.MultiplyAddEstimate(a3, bb, r3b);
            Vector128<float> a4 = Vector128.Create(a[4]);
            r4a = Vector128.MultiplyAddEstimate(a4, ba, r4a);
            r4b = Vector128.MultiplyAddEstimate(a4, bb, r4b);
            Vector128<float> a5 = Vector128.Create(a[5]);
            r5a = Vector128.MultiplyAddEstimate(a5, ba, r5a);
            r5b = Vector128.MultiplyAddEstimate(a5, bb, r5b);
            a += 6;
            b += 8;
        }
        Vector128<float> va = Vector128.Create(alpha);
        if (beta == 0f)
        {
            (r0a * va).Store(c + 0 * ldc + 0);
            (r0b * va).Store(c + 0 * ldc + 4);
            (r1a * va).Store(c + 1 * ldc + 0);
            (r1b * va).Store(c + 1 * ldc + 4);
            (r2a * va).Store(c + 2 * ldc + 0);
            (r2b * va).Store(c + 2 * ldc + 4);
            (r3a * va).Store(c + 3 * ldc + 0);
            (r3b * va).Store(c + 3 * ldc + 4);
            (r4a * va).Store(c + 4 * ldc + 0);
            (r4b * va).Store(c + 4 * ldc + 4);
            (r5a * va).Store(c + 5 * ldc + 0);
            (r5b * va).Store(c + 5 * ldc + 4);
        }
        else
        {
            Vector128<float> vb = Vector128.Create(beta);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 0 * ldc + 0), r0a * va).Store(c + 0 * ldc + 0);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 0 * ldc + 4), r0b * va).Store(c + 0 * ldc + 4);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 1 * ldc + 0), r1a * va).Store(c + 1 * ldc + 0);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 1 * ldc + 4), r1b * va).Store(c + 1 * ldc + 4);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 2 * ldc + 0), r2a * va).Store(c + 2 * ldc + 0);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 2 * ldc + 4), r2b * va).Store(c + 2 * ldc + 4);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 3 * ldc + 0), r3a * va).Store(c + 3 * ldc + 0);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 3 * ldc + 4), r3b * va).Store(c + 3 * ldc + 4);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 4 * ldc + 0), r4a * va).Store(c + 4 * ldc + 0);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 4 * ldc + 4), r4b * va).Store(c + 4 * ldc + 4);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 5 * ldc + 0), r5a * va).Store(c + 5 * ldc + 0);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 5 * ldc + 4), r5b * va).Store(c + 5 * ldc + 4);
        }
    }
}
