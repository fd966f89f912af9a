using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FastConv.Cpu.Kernels;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// The F(4×4, 3×3) input and output transforms at AVX-512, working on whole rows of tiles straight from and to
/// the NCHW tensors — no per-tile scalar copies.
/// <para>
/// Input (<see cref="InputRow"/>): one tile row of one channel reads six image rows. The vertical half of
/// <c>Bᵀ d B</c> is done first on the rows themselves, 16 contiguous columns per vector (masked loads supply the
/// zero padding at the image's left and right edges, a zero row the top and bottom). The horizontal half needs,
/// for 16 tiles in the lanes, the columns 4t … 4t+5: a stride-4 de-interleave of four vectors (ten two-source
/// permutes), then the same six-point transform; the 36 results go to <c>V[ξ][c][t]</c> as 16-lane stores.
/// </para>
/// <para>
/// Output (<see cref="OutputRow{TOp, TRes}"/>): for one output channel and 16 tiles of a tile row, <c>Aᵀ M A</c>
/// on the 36 GEMM results, then the four 16-lane vectors of each output row (lane = tile, one vector per column
/// 0..3 inside the tile) are interleaved (eight permutes) into 64 contiguous outputs, and the epilogue —
/// <c>op(z·mul + add [+ residual])</c> — is applied in registers before the only store (masked at the right
/// edge). So the output tensor is written once, and the old separate epilogue pass is gone.
/// </para>
/// </summary>
internal static unsafe class WinogradAvx512
{
    // De-interleave: phases (0, 1) and (2, 3) of tiles 0..7 of the concatenation (a, b) of two vectors.
    private static readonly Vector512<int> Phase01 = Vector512.Create(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    private static readonly Vector512<int> Phase23 = Vector512.Create(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    private static readonly Vector512<int> LowHalves = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    private static readonly Vector512<int> HighHalves = Vector512.Create(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    private static readonly Vector512<int> Next0 = Vector512.Create(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    private static readonly Vector512<int> Next1 = Vector512.Create(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);

    // Interleave: pairs, then quadruples.
    private static readonly Vector512<int> ZipLo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> ZipHi = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    private static readonly Vector512<int> Zip2Lo = Vector512.Create(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    private static readonly Vector512<int> Zip2Hi = Vector512.Create(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);

    private static readonly Vector512<float> Iota = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    /// <summary>Floats of the vertical-transform scratch per row for a row of <paramref name="tiles"/> tiles (multiple of 16).</summary>
    public static int RowLength(int tiles) => ((tiles + 15) / 16 * 64) + 16;

    /// <summary>
    /// Transforms one tile row of one channel: tiles t = 0 … <paramref name="tiles"/>−1 whose 6×6 inputs start at
    /// column x0 + 4t of the six rows <paramref name="rows"/>[0..5] (each indexed by image column, valid for
    /// columns 0 … width−1, zero outside; a missing row points at zeros). Writes V for point ξ and tile t to
    /// <c>v[ξ·vStride + t]</c> — 16 lanes at a time, so up to 15 values past the last tile are written too
    /// (finite garbage the caller leaves in padding or overwrites with the next row).
    /// <paramref name="tv"/> holds 6 × <see cref="RowLength"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputRow(float** rows, int x0, int width, int tiles, float* tv, float* v, nint vStride)
    {
        int len = RowLength(tiles);
        float* r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3], r4 = rows[4], r5 = rows[5];
        // Vertical: tv[i][j] = Σ_l Bᵀ[i][l] · row_l[x0 + j].
        for (int j = 0; j < len; j += 16)
        {
            int x = x0 + j;
            Vector512<float> d0, d1, d2, d3, d4, d5;
            if (x >= 0 && x + 16 <= width)
            {
                d0 = Vector512.Load(r0 + x);
                d1 = Vector512.Load(r1 + x);
                d2 = Vector512.Load(r2 + x);
                d3 = Vector512.Load(r3 + x);
                d4 = Vector512.Load(r4 + x);
                d5 = Vector512.Load(r5 + x);
            }
            else if (x + 16 <= 0 || x >= width)
            {
                d0 = d1 = d2 = d3 = d4 = d5 = Vector512<float>.Zero;
            }
            else
            {
                // Lanes whose column is inside the image; masked-off lanes are neither read nor faulted on.
                Vector512<float> col = Iota + Vector512.Create((float)x);
                Vector512<float> mask = Vector512.GreaterThanOrEqual(col, Vector512<float>.Zero) & Vector512.LessThan(col, Vector512.Create((float)width));
                Vector512<float> z = Vector512<float>.Zero;
                d0 = Avx512F.MaskLoad(r0 + x, mask, z);
                d1 = Avx512F.MaskLoad(r1 + x, mask, z);
                d2 = Avx512F.MaskLoad(r2 + x, mask, z);
                d3 = Avx512F.MaskLoad(r3 + x, mask, z);
                d4 = Avx512F.MaskLoad(r4 + x, mask, z);
                d5 = Avx512F.MaskLoad(r5 + x, mask, z);
            }
            Bt6(d0, d1, d2, d3, d4, d5, out var o0, out var o1, out var o2, out var o3, out var o4, out var o5);
            o0.Store(tv + j);
            o1.Store(tv + len + j);
            o2.Store(tv + 2 * len + j);
            o3.Store(tv + 3 * len + j);
            o4.Store(tv + 4 * len + j);
            o5.Store(tv + 5 * len + j);
        }

        // Horizontal: V[i][j] = Σ_m tv[i][4t + m] · B[m][j], 16 tiles per step.
        for (int t = 0; t < tiles; t += 16)
        {
            float* src = tv + 4 * t;
            float* dst = v + t;
            for (int i = 0; i < 6; i++)
            {
                float* s = src + i * len;
                Vector512<float> a0 = Vector512.Load(s), a1 = Vector512.Load(s + 16), a2 = Vector512.Load(s + 32), a3 = Vector512.Load(s + 48);
                Vector512<float> a4 = Vector512.Load(s + 64);
                Vector512<float> b01 = Avx512F.PermuteVar16x32x2(a0, Phase01, a1);
                Vector512<float> b23 = Avx512F.PermuteVar16x32x2(a0, Phase23, a1);
                Vector512<float> c01 = Avx512F.PermuteVar16x32x2(a2, Phase01, a3);
                Vector512<float> c23 = Avx512F.PermuteVar16x32x2(a2, Phase23, a3);
                Vector512<float> p0 = Avx512F.PermuteVar16x32x2(b01, LowHalves, c01);
                Vector512<float> p1 = Avx512F.PermuteVar16x32x2(b01, HighHalves, c01);
                Vector512<float> p2 = Avx512F.PermuteVar16x32x2(b23, LowHalves, c23);
                Vector512<float> p3 = Avx512F.PermuteVar16x32x2(b23, HighHalves, c23);
                Vector512<float> p4 = Avx512F.PermuteVar16x32x2(p0, Next0, a4);
                Vector512<float> p5 = Avx512F.PermuteVar16x32x2(p1, Next1, a4);
                Bt6(p0, p1, p2, p3, p4, p5, out var o0, out var o1, out var o2, out var o3, out var o4, out var o5);
                float* d = dst + 6 * i * vStride;
                o0.Store(d);
                o1.Store(d + vStride);
                o2.Store(d + 2 * vStride);
                o3.Store(d + 3 * vStride);
                o4.Store(d + 4 * vStride);
                o5.Store(d + 5 * vStride);
            }
        }
    }

    /// <summary>
    /// Finishes one tile row of one output channel: tiles t = 0 … <paramref name="tiles"/>−1 with GEMM results
    /// <c>m[ξ·mStride + t]</c>; output row a of tile t is <c>y[a·ldy + 4t + b]</c>, b = 0..3, for a &lt;
    /// <paramref name="rows"/> and column 4t + b &lt; <paramref name="columns"/>. Each value is
    /// <c>op(z·mul + add [+ residual at the same offset])</c>. <paramref name="tmp"/> holds 24 × 16 floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void OutputRow<TOp, TRes>(TOp op, float* m, nint mStride, int tiles, float* y, float* residual, nint ldy,
        int rows, int columns, float mul, float add, float* tmp)
        where TOp : struct, IUnaryOperator
        where TRes : struct, IFlag
    {
        Vector512<float> vm = Vector512.Create(mul), va = Vector512.Create(add);
        for (int t = 0; t < tiles; t += 16)
        {
            float* mt = m + t;
            // Columns: w[a][c] = Σ_l Aᵀ[a][l] M[l][c].
            for (int c = 0; c < 6; c++)
            {
                At6(Vector512.Load(mt + c * mStride), Vector512.Load(mt + (6 + c) * mStride), Vector512.Load(mt + (12 + c) * mStride),
                    Vector512.Load(mt + (18 + c) * mStride), Vector512.Load(mt + (24 + c) * mStride), Vector512.Load(mt + (30 + c) * mStride),
                    out var o0, out var o1, out var o2, out var o3);
                o0.Store(tmp + c * 16);
                o1.Store(tmp + (6 + c) * 16);
                o2.Store(tmp + (12 + c) * 16);
                o3.Store(tmp + (18 + c) * 16);
            }
            int x = 4 * t;
            for (int a = 0; a < rows; a++)
            {
                float* w = tmp + a * 96;
                At6(Vector512.Load(w), Vector512.Load(w + 16), Vector512.Load(w + 32), Vector512.Load(w + 48), Vector512.Load(w + 64), Vector512.Load(w + 80),
                    out var y0, out var y1, out var y2, out var y3);
                Vector512<float> z01lo = Avx512F.PermuteVar16x32x2(y0, ZipLo, y1);
                Vector512<float> z01hi = Avx512F.PermuteVar16x32x2(y0, ZipHi, y1);
                Vector512<float> z23lo = Avx512F.PermuteVar16x32x2(y2, ZipLo, y3);
                Vector512<float> z23hi = Avx512F.PermuteVar16x32x2(y2, ZipHi, y3);
                float* dst = y + a * ldy + x;
                float* res = residual + a * ldy + x;
                int left = columns - x;
                Finish<TOp, TRes>(op, Avx512F.PermuteVar16x32x2(z01lo, Zip2Lo, z23lo), vm, va, dst, res, left);
                if (left > 16)
                {
                    Finish<TOp, TRes>(op, Avx512F.PermuteVar16x32x2(z01lo, Zip2Hi, z23lo), vm, va, dst + 16, res + 16, left - 16);
                }
                if (left > 32)
                {
                    Finish<TOp, TRes>(op, Avx512F.PermuteVar16x32x2(z01hi, Zip2Lo, z23hi), vm, va, dst + 32, res + 32, left - 32);
                }
                if (left > 48)
                {
                    Finish<TOp, TRes>(op, Avx512F.PermuteVar16x32x2(z01hi, Zip2Hi, z23hi), vm, va, dst + 48, res + 48, left - 48);
                }
            }
        }
    }

    /// <summary>Epilogue and store of 16 outputs, of which the first <paramref name="count"/> (≥ 1) are real.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<TOp, TRes>(TOp op, Vector512<float> v, Vector512<float> mul, Vector512<float> add, float* dst, float* res, int count)
        where TOp : struct, IUnaryOperator
        where TRes : struct, IFlag
    {
        Vector512<float> z = Vector512.FusedMultiplyAdd(v, mul, add);
        if (count >= 16)
        {
            if (TRes.On)
            {
                z += Vector512.Load(res);
            }
            op.Invoke(z).Store(dst);
        }
        else
        {
            Vector512<float> mask = Vector512.LessThan(Iota, Vector512.Create((float)count));
            if (TRes.On)
            {
                z += Avx512F.MaskLoad(res, mask, Vector512<float>.Zero);
            }
            Avx512F.MaskStore(dst, mask, op.Invoke(z));
        }
    }

    /// <summary>r = Bᵀ d for six values (F(4×4, 3×3); see <see cref="WinogradTransforms"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Bt6(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3, Vector512<float> d4, Vector512<float> d5,
        out Vector512<float> r0, out Vector512<float> r1, out Vector512<float> r2, out Vector512<float> r3, out Vector512<float> r4, out Vector512<float> r5)
    {
        Vector512<float> four = Vector512.Create(4f), mfour = Vector512.Create(-4f), mfive = Vector512.Create(-5f);
        r0 = Vector512.FusedMultiplyAdd(d2, mfive, Vector512.FusedMultiplyAdd(d0, four, d4));
        r5 = Vector512.FusedMultiplyAdd(d3, mfive, Vector512.FusedMultiplyAdd(d1, four, d5));
        Vector512<float> a = Vector512.FusedMultiplyAdd(d2, mfour, d4);
        Vector512<float> b = Vector512.FusedMultiplyAdd(d1, mfour, d3);
        r1 = a + b;
        r2 = a - b;
        Vector512<float> c = d4 - d2;
        Vector512<float> e = (d3 - d1) * 2f;
        r3 = c + e;
        r4 = c - e;
    }

    /// <summary>o = Aᵀ m for six values, four results.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void At6(Vector512<float> m0, Vector512<float> m1, Vector512<float> m2, Vector512<float> m3, Vector512<float> m4, Vector512<float> m5,
        out Vector512<float> o0, out Vector512<float> o1, out Vector512<float> o2, out Vector512<float> o3)
    {
        Vector512<float> s12 = m1 + m2, d12 = m1 - m2;
        Vector512<float> s34 = m3 + m4, d34 = m3 - m4;
        o0 = m0 + s12 + s34;
        o1 = Vector512.FusedMultiplyAdd(d34, Vector512.Create(2f), d12);
        o2 = Vector512.FusedMultiplyAdd(s34, Vector512.Create(4f), s12);
        o3 = Vector512.FusedMultiplyAdd(d34, Vector512.Create(8f), d12) + m5;
    }
}
