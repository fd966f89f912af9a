using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// The batched GEMM at the heart of Winograd: for every transform point ξ, <c>M[ξ] (K×T) = U[ξ] (K×C) · V[ξ] (C×T)</c>,
/// T being the tiles of a block. GEMM_M = K (output channels), GEMM_N = T (tiles), GEMM_K = C.
/// <para>
/// U is the constant operand: transformed and packed once at plan time (<see cref="PackU"/>) into MR-row
/// micro-panels, <c>U[ξ][kb][c][MR]</c>, zero past K — the layout the micro-kernel broadcasts from. V is written
/// by the input transform straight into the layout the micro-kernel reads, <c>V[ξ][c][t]</c> (row stride ldb ≥ T),
/// so nothing is packed per run: the kernel reads NR consecutive tiles of row c (whole 64-byte lines) and steps
/// ldb to the next channel, a constant stride the L2 prefetcher follows. M is written <c>M[k][ξ][t]</c>
/// (row stride ldc = α²·ldb), so the output transform finds one channel's α² values of a tile group together.
/// </para>
/// <para>
/// Micro-kernels keep the whole C reduction in registers (no KC blocking: C ≤ a few thousand, and U's MR×C
/// micro-panel — 16 KB at C = 512 — stays in L1 while the kernel sweeps the block's tile panels), and write M
/// once, without reading it. Sizes per level: AVX-512 8×48 (24 zmm accumulators; 8 broadcasts + 3 loads per 24
/// FMAs, well under Zen 5's two loads a cycle), with 8×32 and 8×16 for the block's last tiles; AVX2 6×16 and
/// Vector128 6×8 (12 accumulators, the BLIS Haswell shape); scalar 4×4. MR = 8 divides every K of VGG and ResNet
/// (64·2ⁱ), so no rows are wasted there; tiles are padded to 16 only.
/// </para>
/// </summary>
internal static unsafe class WinogradGemm
{
    /// <summary>Rows of K per micro-kernel (the U micro-panel height) at <paramref name="level"/>.</summary>
    public static int MR(SimdLevel level) => level switch
    {
        SimdLevel.Avx512 => 8,
        SimdLevel.Avx2 or SimdLevel.Vector128 => 6,
        _ => 4,
    };

    /// <summary>
    /// Packs the transformed filters: <paramref name="u"/>[ξ·K·C + k·C + c] (row-major K×C per point) into
    /// <paramref name="packed"/>[((ξ·kBlocks + kb)·C + c)·MR + r] for k = kb·MR + r, zero for k ≥ K.
    /// </summary>
    public static void PackU(ReadOnlySpan<float> u, int points, int k, int c, int mr, float* packed)
    {
        int kBlocks = (k + mr - 1) / mr;
        for (int xi = 0; xi < points; xi++)
        {
            for (int kb = 0; kb < kBlocks; kb++)
            {
                float* dst = packed + ((long)(xi * kBlocks + kb) * c) * mr;
                for (int ci = 0; ci < c; ci++)
                {
                    for (int r = 0; r < mr; r++)
                    {
                        int kk = kb * mr + r;
                        dst[ci * mr + r] = kk < k ? u[(xi * k + kk) * c + ci] : 0f;
                    }
                }
            }
        }
    }

    /// <summary>
    /// One (ξ, k-block) row of micro-tiles: <c>m[r·ldc + t] = Σ_c u[c·MR + r]·v[c·ldb + t]</c> for r &lt; MR and
    /// t &lt; <paramref name="tiles"/> (a multiple of 16). Dispatches to the widest kernel that fits the rest.
    /// </summary>
    public static void Row(SimdLevel level, int c, float* u, float* v, nint ldb, float* m, nint ldc, int tiles)
    {
        int t = 0;
        switch (level)
        {
            case SimdLevel.Avx512:
                for (; t + 48 <= tiles; t += 48)
                {
                    Kernel8x48(c, u, v + t, ldb, m + t, ldc);
                }
                if (t + 32 <= tiles)
                {
                    Kernel8x32(c, u, v + t, ldb, m + t, ldc);
                    t += 32;
                }
                if (t < tiles)
                {
                    Kernel8x16(c, u, v + t, ldb, m + t, ldc);
                }
                break;
            case SimdLevel.Avx2:
                for (; t < tiles; t += 16)
                {
                    Kernel6x16(c, u, v + t, ldb, m + t, ldc);
                }
                break;
            case SimdLevel.Vector128:
                for (; t < tiles; t += 8)
                {
                    Kernel6x8(c, u, v + t, ldb, m + t, ldc);
                }
                break;
            default:
                for (; t < tiles; t += 4)
                {
                    Kernel4x4(c, u, v + t, ldb, m + t, ldc);
                }
                break;
        }
    }

    // The kernels are unrolled by hand (one line per accumulator): the JIT keeps locals, not array elements,
    // in registers. Vector512.Create(u[r]) folds into the FMA as an embedded {1to16} broadcast.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x48(int c, float* u, float* v, nint ldb, float* m, nint ldc)
    {
        Vector512<float> r0a = default, r0b = default, r0c = default;
        Vector512<float> r1a = default, r1b = default, r1c = default;
        Vector512<float> r2a = default, r2b = default, r2c = default;
        Vector512<float> r3a = default, r3b = default, r3c = default;
        Vector512<float> r4a = default, r4b = default, r4c = default;
        Vector512<float> r5a = default, r5b = default, r5c = default;
        Vector512<float> r6a = default, r6b = default, r6c = default;
        Vector512<float> r7a = default, r7b = default, r7c = default;
        for (int p = 0; p < c; p++)
        {
            Vector512<float> ba = Vector512.Load(v);
            Vector512<float> bb = Vector512.Load(v + 16);
            Vector512<float> bc = Vector512.Load(v + 32);
            Vector512<float> a = Vector512.Create(u[0]);
            r0a = Vector512.FusedMultiplyAdd(a, ba, r0a);
            r0b = Vector512.FusedMultiplyAdd(a, bb, r0b);
            r0c = Vector512.FusedMultiplyAdd(a, bc, r0c);
            a = Vector512.Create(u[1]);
            r1a = Vector512.FusedMultiplyAdd(a, ba, r1a);
            r1b = Vector512.FusedMultiplyAdd(a, bb, r1b);
            r1c = Vector512.FusedMultiplyAdd(a, bc, r1c);
            a = Vector512.Create(u[2]);
            r2a = Vector512.FusedMultiplyAdd(a, ba, r2a);
            r2b = Vector512.FusedMultiplyAdd(a, bb, r2b);
            r2c = Vector512.FusedMultiplyAdd(a, bc, r2c);
            a = Vector512.Create(u[3]);
            r3a = Vector512.FusedMultiplyAdd(a, ba, r3a);
            r3b = Vector512.FusedMultiplyAdd(a, bb, r3b);
            r3c = Vector512.FusedMultiplyAdd(a, bc, r3c);
            a = Vector512.Create(u[4]);
            r4a = Vector512.FusedMultiplyAdd(a, ba, r4a);
            r4b = Vector512.FusedMultiplyAdd(a, bb, r4b);
            r4c = Vector512.FusedMultiplyAdd(a, bc, r4c);
            a = Vector512.Create(u[5]);
            r5a = Vector512.FusedMultiplyAdd(a, ba, r5a);
            r5b = Vector512.FusedMultiplyAdd(a, bb, r5b);
            r5c = Vector512.FusedMultiplyAdd(a, bc, r5c);
            a = Vector512.Create(u[6]);
            r6a = Vector512.FusedMultiplyAdd(a, ba, r6a);
            r6b = Vector512.FusedMultiplyAdd(a, bb, r6b);
            r6c = Vector512.FusedMultiplyAdd(a, bc, r6c);
            a = Vector512.Create(u[7]);
            r7a = Vector512.FusedMultiplyAdd(a, ba, r7a);
            r7b = Vector512.FusedMultiplyAdd(a, bb, r7b);
            r7c = Vector512.FusedMultiplyAdd(a, bc, r7c);
            u += 8;
            v += ldb;
        }
        r0a.Store(m); r0b.Store(m + 16); r0c.Store(m + 32); m += ldc;
        r1a.Store(m); r1b.Store(m + 16); r1c.Store(m + 32); m += ldc;
        r2a.Store(m); r2b.Store(m + 16); r2c.Store(m + 32); m += ldc;
        r3a.Store(m); r3b.Store(m + 16); r3c.Store(m + 32); m += ldc;
        r4a.Store(m); r4b.Store(m + 16); r4c.Store(m + 32); m += ldc;
        r5a.Store(m); r5b.Store(m + 16); r5c.Store(m + 32); m += ldc;
        r6a.Store(m); r6b.Store(m + 16); r6c.Store(m + 32); m += ldc;
        r7a.Store(m); r7b.Store(m + 16); r7c.Store(m + 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(int c, float* u, float* v, nint ldb, float* m, nint ldc)
    {
        Vector512<float> r0a = default, r0b = default, r1a = default, r1b = default;
        Vector512<float> r2a = default, r2b = default, r3a = default, r3b = default;
        Vector512<float> r4a = default, r4b = default, r5a = default, r5b = default;
        Vector512<float> r6a = default, r6b = default, r7a = default, r7b = default;
        for (int p = 0; p < c; p++)
        {
            Vector512<float> ba = Vector512.Load(v);
            Vector512<float> bb = Vector512.Load(v + 16);
            Vector512<float> a = Vector512.Create(u[0]);
            r0a = Vector512.FusedMultiplyAdd(a, ba, r0a);
            r0b = Vector512.FusedMultiplyAdd(a, bb, r0b);
            a = Vector512.Create(u[1]);
            r1a = Vector512.FusedMultiplyAdd(a, ba, r1a);
            r1b = Vector512.FusedMultiplyAdd(a, bb, r1b);
            a = Vector512.Create(u[2]);
            r2a = Vector512.FusedMultiplyAdd(a, ba, r2a);
            r2b = Vector512.FusedMultiplyAdd(a, bb, r2b);
            a = Vector512.Create(u[3]);
            r3a = Vector512.FusedMultiplyAdd(a, ba, r3a);
            r3b = Vector512.FusedMultiplyAdd(a, bb, r3b);
            a = Vector512.Create(u[4]);
            r4a = Vector512.FusedMultiplyAdd(a, ba, r4a);
            r4b = Vector512.FusedMultiplyAdd(a, bb, r4b);
            a = Vector512.Create(u[5]);
            r5a = Vector512.FusedMultiplyAdd(a, ba, r5a);
            r5b = Vector512.FusedMultiplyAdd(a, bb, r5b);
            a = Vector512.Create(u[6]);
            r6a = Vector512.FusedMultiplyAdd(a, ba, r6a);
            r6b = Vector512.FusedMultiplyAdd(a, bb, r6b);
            a = Vector512.Create(u[7]);
            r7a = Vector512.FusedMultiplyAdd(a, ba, r7a);
            r7b = Vector512.FusedMultiplyAdd(a, bb, r7b);
            u += 8;
            v += ldb;
        }
        r0a.Store(m); r0b.Store(m + 16); m += ldc;
        r1a.Store(m); r1b.Store(m + 16); m += ldc;
        r2a.Store(m); r2b.Store(m + 16); m += ldc;
        r3a.Store(m); r3b.Store(m + 16); m += ldc;
        r4a.Store(m); r4b.Store(m + 16); m += ldc;
        r5a.Store(m); r5b.Store(m + 16); m += ldc;
        r6a.Store(m); r6b.Store(m + 16); m += ldc;
        r7a.Store(m); r7b.Store(m + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x16(int c, float* u, float* v, nint ldb, float* m, nint ldc)
    {
        Vector512<float> r0 = default, r1 = default, r2 = default, r3 = default;
        Vector512<float> r4 = default, r5 = default, r6 = default, r7 = default;
        for (int p = 0; p < c; p++)
        {
            Vector512<float> b = Vector512.Load(v);
            r0 = Vector512.FusedMultiplyAdd(Vector512.Create(u[0]), b, r0);
            r1 = Vector512.FusedMultiplyAdd(Vector512.Create(u[1]), b, r1);
            r2 = Vector512.FusedMultiplyAdd(Vector512.Create(u[2]), b, r2);
            r3 = Vector512.FusedMultiplyAdd(Vector512.Create(u[3]), b, r3);
            r4 = Vector512.FusedMultiplyAdd(Vector512.Create(u[4]), b, r4);
            r5 = Vector512.FusedMultiplyAdd(Vector512.Create(u[5]), b, r5);
            r6 = Vector512.FusedMultiplyAdd(Vector512.Create(u[6]), b, r6);
            r7 = Vector512.FusedMultiplyAdd(Vector512.Create(u[7]), b, r7);
            u += 8;
            v += ldb;
        }
        r0.Store(m); m += ldc;
        r1.Store(m); m += ldc;
        r2.Store(m); m += ldc;
        r3.Store(m); m += ldc;
        r4.Store(m); m += ldc;
        r5.Store(m); m += ldc;
        r6.Store(m); m += ldc;
        r7.Store(m);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int c, float* u, float* v, nint ldb, float* m, nint ldc)
    {
        Vector256<float> r0a = default, r0b = default, r1a = default, r1b = default;
        Vector256<float> r2a = default, r2b = default, r3a = default, r3b = default;
        Vector256<float> r4a = default, r4b = default, r5a = default, r5b = default;
        for (int p = 0; p < c; p++)
        {
            Vector256<float> ba = Vector256.Load(v);
            Vector256<float> bb = Vector256.Load(v + 8);
            Vector256<float> a = Vector256.Create(u[0]);
            r0a = Vector256.FusedMultiplyAdd(a, ba, r0a);
            r0b = Vector256.FusedMultiplyAdd(a, bb, r0b);
            a = Vector256.Create(u[1]);
            r1a = Vector256.FusedMultiplyAdd(a, ba, r1a);
            r1b = Vector256.FusedMultiplyAdd(a, bb, r1b);
            a = Vector256.Create(u[2]);
            r2a = Vector256.FusedMultiplyAdd(a, ba, r2a);
            r2b = Vector256.FusedMultiplyAdd(a, bb, r2b);
            a = Vector256.Create(u[3]);
            r3a = Vector256.FusedMultiplyAdd(a, ba, r3a);
            r3b = Vector256.FusedMultiplyAdd(a, bb, r3b);
            a = Vector256.Create(u[4]);
            r4a = Vector256.FusedMultiplyAdd(a, ba, r4a);
            r4b = Vector256.FusedMultiplyAdd(a, bb, r4b);
            a = Vector256.Create(u[5]);
            r5a = Vector256.FusedMultiplyAdd(a, ba, r5a);
            r5b = Vector256.FusedMultiplyAdd(a, bb, r5b);
            u += 6;
            v += ldb;
        }
        r0a.Store(m); r0b.Store(m + 8); m += ldc;
        r1a.Store(m); r1b.Store(m + 8); m += ldc;
        r2a.Store(m); r2b.Store(m + 8); m += ldc;
        r3a.Store(m); r3b.Store(m + 8); m += ldc;
        r4a.Store(m); r4b.Store(m + 8); m += ldc;
        r5a.Store(m); r5b.Store(m + 8);
    }

    /// <summary>Multiply then add where the hardware has FMA, separately where not (no software fma).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x8(int c, float* u, float* v, nint ldb, float* m, nint ldc)
    {
        Vector128<float> r0a = default, r0b = default, r1a = default, r1b = default;
        Vector128<float> r2a = default, r2b = default, r3a = default, r3b = default;
        Vector128<float> r4a = default, r4b = default, r5a = default, r5b = default;
        for (int p = 0; p < c; p++)
        {
            Vector128<float> ba = Vector128.Load(v);
            Vector128<float> bb = Vector128.Load(v + 4);
            Vector128<float> a = Vector128.Create(u[0]);
            r0a = Vector128.MultiplyAddEstimate(a, ba, r0a);
            r0b = Vector128.MultiplyAddEstimate(a, bb, r0b);
            a = Vector128.Create(u[1]);
            r1a = Vector128.MultiplyAddEstimate(a, ba, r1a);
            r1b = Vector128.MultiplyAddEstimate(a, bb, r1b);
            a = Vector128.Create(u[2]);
            r2a = Vector128.MultiplyAddEstimate(a, ba, r2a);
            r2b = Vector128.MultiplyAddEstimate(a, bb, r2b);
            a = Vector128.Create(u[3]);
            r3a = Vector128.MultiplyAddEstimate(a, ba, r3a);
            r3b = Vector128.MultiplyAddEstimate(a, bb, r3b);
            a = Vector128.Create(u[4]);
            r4a = Vector128.MultiplyAddEstimate(a, ba, r4a);
            r4b = Vector128.MultiplyAddEstimate(a, bb, r4b);
            a = Vector128.Create(u[5]);
            r5a = Vector128.MultiplyAddEstimate(a, ba, r5a);
            r5b = Vector128.MultiplyAddEstimate(a, bb, r5b);
            u += 6;
            v += ldb;
        }
        r0a.Store(m); r0b.Store(m + 4); m += ldc;
        r1a.Store(m); r1b.Store(m + 4); m += ldc;
        r2a.Store(m); r2b.Store(m + 4); m += ldc;
        r3a.Store(m); r3b.Store(m + 4); m += ldc;
        r4a.Store(m); r4b.Store(m + 4); m += ldc;
        r5a.Store(m); r5b.Store(m + 4);
    }

    private static void Kernel4x4(int c, float* u, float* v, nint ldb, float* m, nint ldc)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < c; p++)
        {
            float b0 = v[0], b1 = v[1], b2 = v[2], b3 = v[3];
            float a0 = u[0], a1 = u[1], a2 = u[2], a3 = u[3];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            u += 4;
            v += ldb;
        }
        m[0] = c00; m[1] = c01; m[2] = c02; m[3] = c03; m += ldc;
        m[0] = c10; m[1] = c11; m[2] = c12; m[3] = c13; m += ldc;
        m[0] = c20; m[1] = c21; m[2] = c22; m[3] = c23; m += ldc;
        m[0] = c30; m[1] = c31; m[2] = c32; m[3] = c33;
    }
}
