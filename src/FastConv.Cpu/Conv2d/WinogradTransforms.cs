using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastConv.Cpu.Conv2d;

/// <summary>
/// The arithmetic a Winograd transform needs, at one SIMD width. The transforms are written once, generic over
/// this interface; the JIT specializes them per struct, so each level gets straight-line vector code.
/// Lanes run across tiles (the tile index is the contiguous dimension of every Winograd scratch matrix).
/// </summary>
internal interface IWinogradLanes<TV>
    where TV : struct
{
    static abstract int Count { get; }
    static abstract TV Load(ref float p);
    static abstract void Store(ref float p, TV v);
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    /// <summary><c>a·s</c>.</summary>
    static abstract TV Mul(TV a, float s);
    /// <summary><c>a·s + c</c> (fused where the level has FMA).</summary>
    static abstract TV MulAdd(TV a, float s, TV c);
}

internal readonly struct ScalarLanes : IWinogradLanes<float>
{
    public static int Count => 1;
    public static float Load(ref float p) => p;
    public static void Store(ref float p, float v) => p = v;
    public static float Add(float a, float b) => a + b;
    public static float Sub(float a, float b) => a - b;
    public static float Mul(float a, float s) => a * s;
    public static float MulAdd(float a, float s, float c) => a * s + c;
}

/// <summary>128-bit lanes; multiply then add (this level stands for machines that may lack FMA, where a fused
/// multiply-add would be emulated in software).</summary>
internal readonly struct Lanes128 : IWinogradLanes<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float p) => Vector128.LoadUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref float p, Vector128<float> v) => v.StoreUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Mul(Vector128<float> a, float s) => a * s;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MulAdd(Vector128<float> a, float s, Vector128<float> c) => a * s + c;
}

internal readonly struct Lanes256 : IWinogradLanes<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float p) => Vector256.LoadUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref float p, Vector256<float> v) => v.StoreUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Mul(Vector256<float> a, float s) => a * s;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MulAdd(Vector256<float> a, float s, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, Vector256.Create(s), c);
}

internal readonly struct Lanes512 : IWinogradLanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float p) => Vector512.LoadUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref float p, Vector512<float> v) => v.StoreUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Mul(Vector512<float> a, float s) => a * s;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MulAdd(Vector512<float> a, float s, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, Vector512.Create(s), c);
}

/// <summary>
/// The Winograd minimal-filtering transforms of Lavin &amp; Gray (arXiv 1509.09308), F(4×4, 3×3) and F(2×2, 3×3),
/// applied to many tiles at once: every matrix below holds one tile per column, <c>stride</c> floats apart per
/// transform point, and the lanes of a vector are consecutive tiles.
/// <para>
/// F(4×4, 3×3) uses the interpolation points 0, 1, −1, 2, −2 and ∞ (the wincnn / Lavin set):
/// <code>
/// Bᵀ = | 4  0 −5  0  1  0 |     G = |  1/4    0     0   |     Aᵀ = | 1  1  1  1  1  0 |
///      | 0 −4 −4  1  1  0 |         | −1/6  −1/6  −1/6  |          | 0  1 −1  2 −2  0 |
///      | 0  4 −4 −1  1  0 |         | −1/6   1/6  −1/6  |          | 0  1  1  4  4  0 |
///      | 0 −2 −1  2  1  0 |         |  1/24  1/12  1/6  |          | 0  1 −1  8 −8  1 |
///      | 0  2 −1 −2  1  0 |         |  1/24 −1/12  1/6  |
///      | 0  4  0 −5  0  1 |         |   0     0     1   |
/// </code>
/// Why these points: they are the smallest-magnitude integers, so every coefficient of Bᵀ and Aᵀ (the two
/// transforms done in fp32 at execution) is a small integer, exact in float and cheap (adds and one multiply);
/// the fractions 1/6, 1/12, 1/24 only occur in G, applied once at plan time in double and rounded once.
/// Barabasz et al. (arXiv 1803.10986) find fractional points (±1/2) lower the error of the larger F(6×6);
/// for F(4×4) the gain is small and would put non-integers into the per-execution transforms.
/// </para>
/// <para>
/// F(2×2, 3×3) uses 0, 1, −1, ∞: Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
/// Aᵀ = [1 1 1 0; 0 1 −1 −1] — every coefficient exact, hence its smaller error.
/// </para>
/// </summary>
internal static class WinogradTransforms
{
    /// <summary>Bᵀ of F(4×4, 3×3), row-major 6×6 (used by tests and documentation; the kernels inline it).</summary>
    public static readonly double[,] BtF4 =
    {
        { 4, 0, -5, 0, 1, 0 }, { 0, -4, -4, 1, 1, 0 }, { 0, 4, -4, -1, 1, 0 },
        { 0, -2, -1, 2, 1, 0 }, { 0, 2, -1, -2, 1, 0 }, { 0, 4, 0, -5, 0, 1 },
    };

    /// <summary>G of F(4×4, 3×3), 6×3, applied at plan time.</summary>
    public static readonly double[,] GF4 =
    {
        { 1.0 / 4, 0, 0 }, { -1.0 / 6, -1.0 / 6, -1.0 / 6 }, { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
        { 1.0 / 24, 1.0 / 12, 1.0 / 6 }, { 1.0 / 24, -1.0 / 12, 1.0 / 6 }, { 0, 0, 1 },
    };

    /// <summary>G of F(2×2, 3×3), 4×3.</summary>
    public static readonly double[,] GF2 =
    {
        { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 },
    };

    /// <summary>
    /// U = G g Gᵀ for one 3×3 filter <paramref name="g"/> (row-major), in double, rounded once to float:
    /// <c>u[ξ·uStride]</c> for ξ = i·α + j.
    /// </summary>
    public static void Filter(double[,] gMatrix, ReadOnlySpan<float> g, Span<float> u, int uStride)
    {
        int alpha = gMatrix.GetLength(0);
        Span<double> tmp = stackalloc double[6 * 3];
        for (int i = 0; i < alpha; i++)
        {
            for (int s = 0; s < 3; s++)
            {
                tmp[i * 3 + s] = gMatrix[i, 0] * g[s] + gMatrix[i, 1] * g[3 + s] + gMatrix[i, 2] * g[6 + s];
            }
        }
        for (int i = 0; i < alpha; i++)
        {
            for (int j = 0; j < alpha; j++)
            {
                double v = tmp[i * 3] * gMatrix[j, 0] + tmp[i * 3 + 1] * gMatrix[j, 1] + tmp[i * 3 + 2] * gMatrix[j, 2];
                u[(i * alpha + j) * uStride] = (float)v;
            }
        }
    }

    // ---- F(4×4, 3×3) ----

    /// <summary>r = Bᵀ d for six values (one column or row of a 6×6 tile), 12 adds and 6 multiplies.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Bt6<TL, TV>(TV d0, TV d1, TV d2, TV d3, TV d4, TV d5,
        out TV r0, out TV r1, out TV r2, out TV r3, out TV r4, out TV r5)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        r0 = TL.MulAdd(d2, -5f, TL.MulAdd(d0, 4f, d4));            // 4d0 − 5d2 + d4
        r5 = TL.MulAdd(d3, -5f, TL.MulAdd(d1, 4f, d5));            // 4d1 − 5d3 + d5
        TV a = TL.MulAdd(d2, -4f, d4);                              // d4 − 4d2
        TV b = TL.MulAdd(d1, -4f, d3);                              // d3 − 4d1
        r1 = TL.Add(a, b);                                          // −4d1 − 4d2 + d3 + d4
        r2 = TL.Sub(a, b);                                          // 4d1 − 4d2 − d3 + d4
        TV c = TL.Sub(d4, d2);
        TV e = TL.Mul(TL.Sub(d3, d1), 2f);
        r3 = TL.Add(c, e);                                          // −2d1 − d2 + 2d3 + d4
        r4 = TL.Sub(c, e);                                          // 2d1 − d2 − 2d3 + d4
    }

    /// <summary>o = Aᵀ m for six values, four results.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void At6<TL, TV>(TV m0, TV m1, TV m2, TV m3, TV m4, TV m5, out TV o0, out TV o1, out TV o2, out TV o3)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        TV s12 = TL.Add(m1, m2), d12 = TL.Sub(m1, m2);
        TV s34 = TL.Add(m3, m4), d34 = TL.Sub(m3, m4);
        o0 = TL.Add(TL.Add(m0, s12), s34);
        o1 = TL.MulAdd(d34, 2f, d12);
        o2 = TL.MulAdd(s34, 4f, s12);
        o3 = TL.Add(TL.MulAdd(d34, 8f, d12), m5);
    }

    /// <summary>
    /// V = Bᵀ d B for <paramref name="count"/> tiles (a multiple of the lane count): d[p·dStride + t] holds point
    /// p = l·6 + m of tile t; writes v[ξ·vStride + t]. <paramref name="tmp"/> holds 36 lane vectors.
    /// </summary>
    public static void InputF4<TL, TV>(ref float d, int dStride, ref float v, int vStride, int count, Span<float> tmp)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        int n = TL.Count;
        ref float w = ref tmp[0];
        _ = tmp[(36 * n) - 1];
        for (int t = 0; t < count; t += n)
        {
            ref float dt = ref Unsafe.Add(ref d, t);
            // Columns: tmp[i][m] = Σ_l Bᵀ[i][l] d[l][m].
            for (int m = 0; m < 6; m++)
            {
                Bt6<TL, TV>(
                    TL.Load(ref Unsafe.Add(ref dt, m * dStride)), TL.Load(ref Unsafe.Add(ref dt, (6 + m) * dStride)),
                    TL.Load(ref Unsafe.Add(ref dt, (12 + m) * dStride)), TL.Load(ref Unsafe.Add(ref dt, (18 + m) * dStride)),
                    TL.Load(ref Unsafe.Add(ref dt, (24 + m) * dStride)), TL.Load(ref Unsafe.Add(ref dt, (30 + m) * dStride)),
                    out TV r0, out TV r1, out TV r2, out TV r3, out TV r4, out TV r5);
                TL.Store(ref Unsafe.Add(ref w, m * n), r0);
                TL.Store(ref Unsafe.Add(ref w, (6 + m) * n), r1);
                TL.Store(ref Unsafe.Add(ref w, (12 + m) * n), r2);
                TL.Store(ref Unsafe.Add(ref w, (18 + m) * n), r3);
                TL.Store(ref Unsafe.Add(ref w, (24 + m) * n), r4);
                TL.Store(ref Unsafe.Add(ref w, (30 + m) * n), r5);
            }
            // Rows: V[i][j] = Σ_m tmp[i][m] B[m][j].
            ref float vt = ref Unsafe.Add(ref v, t);
            for (int i = 0; i < 6; i++)
            {
                ref float wi = ref Unsafe.Add(ref w, i * 6 * n);
                Bt6<TL, TV>(
                    TL.Load(ref wi), TL.Load(ref Unsafe.Add(ref wi, n)), TL.Load(ref Unsafe.Add(ref wi, 2 * n)),
                    TL.Load(ref Unsafe.Add(ref wi, 3 * n)), TL.Load(ref Unsafe.Add(ref wi, 4 * n)), TL.Load(ref Unsafe.Add(ref wi, 5 * n)),
                    out TV r0, out TV r1, out TV r2, out TV r3, out TV r4, out TV r5);
                ref float vi = ref Unsafe.Add(ref vt, i * 6 * vStride);
                TL.Store(ref vi, r0);
                TL.Store(ref Unsafe.Add(ref vi, vStride), r1);
                TL.Store(ref Unsafe.Add(ref vi, 2 * vStride), r2);
                TL.Store(ref Unsafe.Add(ref vi, 3 * vStride), r3);
                TL.Store(ref Unsafe.Add(ref vi, 4 * vStride), r4);
                TL.Store(ref Unsafe.Add(ref vi, 5 * vStride), r5);
            }
        }
    }

    /// <summary>
    /// Y = Aᵀ M A for <paramref name="count"/> tiles: m[ξ·mStride + t] → y[(a·4 + b)·yStride + t].
    /// <paramref name="tmp"/> holds 24 lane vectors.
    /// </summary>
    public static void OutputF4<TL, TV>(ref float m, int mStride, ref float y, int yStride, int count, Span<float> tmp)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        int n = TL.Count;
        ref float w = ref tmp[0];
        _ = tmp[(24 * n) - 1];
        for (int t = 0; t < count; t += n)
        {
            ref float mt = ref Unsafe.Add(ref m, t);
            for (int c = 0; c < 6; c++)
            {
                At6<TL, TV>(
                    TL.Load(ref Unsafe.Add(ref mt, c * mStride)), TL.Load(ref Unsafe.Add(ref mt, (6 + c) * mStride)),
                    TL.Load(ref Unsafe.Add(ref mt, (12 + c) * mStride)), TL.Load(ref Unsafe.Add(ref mt, (18 + c) * mStride)),
                    TL.Load(ref Unsafe.Add(ref mt, (24 + c) * mStride)), TL.Load(ref Unsafe.Add(ref mt, (30 + c) * mStride)),
                    out TV o0, out TV o1, out TV o2, out TV o3);
                TL.Store(ref Unsafe.Add(ref w, c * n), o0);
                TL.Store(ref Unsafe.Add(ref w, (6 + c) * n), o1);
                TL.Store(ref Unsafe.Add(ref w, (12 + c) * n), o2);
                TL.Store(ref Unsafe.Add(ref w, (18 + c) * n), o3);
            }
            ref float yt = ref Unsafe.Add(ref y, t);
            for (int a = 0; a < 4; a++)
            {
                ref float wa = ref Unsafe.Add(ref w, a * 6 * n);
                At6<TL, TV>(
                    TL.Load(ref wa), TL.Load(ref Unsafe.Add(ref wa, n)), TL.Load(ref Unsafe.Add(ref wa, 2 * n)),
                    TL.Load(ref Unsafe.Add(ref wa, 3 * n)), TL.Load(ref Unsafe.Add(ref wa, 4 * n)), TL.Load(ref Unsafe.Add(ref wa, 5 * n)),
                    out TV o0, out TV o1, out TV o2, out TV o3);
                ref float ya = ref Unsafe.Add(ref yt, a * 4 * yStride);
                TL.Store(ref ya, o0);
                TL.Store(ref Unsafe.Add(ref ya, yStride), o1);
                TL.Store(ref Unsafe.Add(ref ya, 2 * yStride), o2);
                TL.Store(ref Unsafe.Add(ref ya, 3 * yStride), o3);
            }
        }
    }

    // ---- F(2×2, 3×3) ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Bt4<TL, TV>(TV d0, TV d1, TV d2, TV d3, out TV r0, out TV r1, out TV r2, out TV r3)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        r0 = TL.Sub(d0, d2);
        r1 = TL.Add(d1, d2);
        r2 = TL.Sub(d2, d1);
        r3 = TL.Sub(d1, d3);
    }

    /// <summary>V = Bᵀ d B of F(2×2, 3×3); layout as <see cref="InputF4"/> with 16 points.</summary>
    public static void InputF2<TL, TV>(ref float d, int dStride, ref float v, int vStride, int count)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        int n = TL.Count;
        for (int t = 0; t < count; t += n)
        {
            ref float dt = ref Unsafe.Add(ref d, t);
            // Columns, kept in registers (16 vectors).
            Bt4<TL, TV>(TL.Load(ref dt), TL.Load(ref Unsafe.Add(ref dt, 4 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 8 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 12 * dStride)),
                out TV a00, out TV a10, out TV a20, out TV a30);
            Bt4<TL, TV>(TL.Load(ref Unsafe.Add(ref dt, dStride)), TL.Load(ref Unsafe.Add(ref dt, 5 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 9 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 13 * dStride)),
                out TV a01, out TV a11, out TV a21, out TV a31);
            Bt4<TL, TV>(TL.Load(ref Unsafe.Add(ref dt, 2 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 6 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 10 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 14 * dStride)),
                out TV a02, out TV a12, out TV a22, out TV a32);
            Bt4<TL, TV>(TL.Load(ref Unsafe.Add(ref dt, 3 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 7 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 11 * dStride)), TL.Load(ref Unsafe.Add(ref dt, 15 * dStride)),
                out TV a03, out TV a13, out TV a23, out TV a33);
            ref float vt = ref Unsafe.Add(ref v, t);
            StoreRowF2<TL, TV>(ref vt, vStride, a00, a01, a02, a03);
            StoreRowF2<TL, TV>(ref Unsafe.Add(ref vt, 4 * vStride), vStride, a10, a11, a12, a13);
            StoreRowF2<TL, TV>(ref Unsafe.Add(ref vt, 8 * vStride), vStride, a20, a21, a22, a23);
            StoreRowF2<TL, TV>(ref Unsafe.Add(ref vt, 12 * vStride), vStride, a30, a31, a32, a33);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRowF2<TL, TV>(ref float v, int vStride, TV x0, TV x1, TV x2, TV x3)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        Bt4<TL, TV>(x0, x1, x2, x3, out TV r0, out TV r1, out TV r2, out TV r3);
        TL.Store(ref v, r0);
        TL.Store(ref Unsafe.Add(ref v, vStride), r1);
        TL.Store(ref Unsafe.Add(ref v, 2 * vStride), r2);
        TL.Store(ref Unsafe.Add(ref v, 3 * vStride), r3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnF2<TL, TV>(ref float m, int mStride, out TV o0, out TV o1)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        TV m0 = TL.Load(ref m), m1 = TL.Load(ref Unsafe.Add(ref m, 4 * mStride));
        TV m2 = TL.Load(ref Unsafe.Add(ref m, 8 * mStride)), m3 = TL.Load(ref Unsafe.Add(ref m, 12 * mStride));
        o0 = TL.Add(TL.Add(m0, m1), m2);
        o1 = TL.Sub(TL.Sub(m1, m2), m3);
    }

    /// <summary>Y = Aᵀ M A of F(2×2, 3×3): m[ξ·mStride + t] (16 points) → y[(a·2 + b)·yStride + t].</summary>
    public static void OutputF2<TL, TV>(ref float m, int mStride, ref float y, int yStride, int count)
        where TL : struct, IWinogradLanes<TV>
        where TV : struct
    {
        int n = TL.Count;
        for (int t = 0; t < count; t += n)
        {
            ref float mt = ref Unsafe.Add(ref m, t);
            // Columns: b[a][c] = Σ_l Aᵀ[a][l] m[l][c]; Aᵀ = [1 1 1 0; 0 1 −1 −1].
            ColumnF2<TL, TV>(ref mt, mStride, out TV b00, out TV b10);
            ColumnF2<TL, TV>(ref Unsafe.Add(ref mt, mStride), mStride, out TV b01, out TV b11);
            ColumnF2<TL, TV>(ref Unsafe.Add(ref mt, 2 * mStride), mStride, out TV b02, out TV b12);
            ColumnF2<TL, TV>(ref Unsafe.Add(ref mt, 3 * mStride), mStride, out TV b03, out TV b13);
            ref float yt = ref Unsafe.Add(ref y, t);
            TL.Store(ref yt, TL.Add(TL.Add(b00, b01), b02));
            TL.Store(ref Unsafe.Add(ref yt, yStride), TL.Sub(TL.Sub(b01, b02), b03));
            TL.Store(ref Unsafe.Add(ref yt, 2 * yStride), TL.Add(TL.Add(b10, b11), b12));
            TL.Store(ref Unsafe.Add(ref yt, 3 * yStride), TL.Sub(TL.Sub(b11, b12), b13));
        }
    }
}
