using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Vector building blocks shared by the activation, pooling and softmax kernels.
/// <para>
/// <b>RefMax / RefMin</b> are the reference's comparisons <c>a &gt; b ? a : b</c> and <c>a &lt; b ? a : b</c>,
/// which return <c>b</c> on a tie (±0) or a NaN. That is exactly x86's MAXPS/MINPS (the second operand wins
/// when unordered or equal), so on x86 they are one instruction; elsewhere a compare and a blend.
/// (Vector512.Max follows IEEE 754-2019 instead: it propagates NaN and orders −0 below +0.)
/// </para>
/// <para>
/// <b>Exp</b> (Cephes' expf, FMA form): n = round(x·log2 e) by the 1.5·2²³ shifter, r = x − n·ln2 with ln2
/// split in two (the high part has 9 significant bits, so n·ln2_hi is exact), exp(r) by Cephes' degree-7
/// polynomial on |r| ≤ ln2/2, then 2ⁿ applied in two halves so that results down to the subnormal range
/// (x ≥ −104) come out right. x is clamped to [−104, 88.5] (exp(88.5) ≈ 2.7e38 stays finite; exp(−104)
/// rounds to 0); NaN passes through the clamps (the comparisons are false for it) and comes out NaN.
/// Measured over 2²² evenly spread points of [−87, 88] plus [−1, 1] in steps of 2⁻¹⁶ against the double exp:
/// worst error 1.01 ulp of the float result (ActivationKernelTests.ExpTanhSigmoidWorstUlp).
/// </para>
/// <para>
/// <b>Tanh</b>: on a = |x|, Cephes' tanhf odd polynomial below 0.625, else 1 − 2/(exp(2a) + 1); the sign of x
/// is put back with an OR (so −0 stays −0). Worst error measured as above: 1.23 ulp. <b>Sigmoid</b> (in
/// <see cref="SigmoidOperator"/>): worst 2.31 ulp (for x &lt; 0 the error of t = exp(x) adds to the division's and 1 + t's roundings).
/// </para>
/// </summary>
internal static class VectorMath
{
    private const float ExpLo = -104f;
    private const float ExpHi = 88.5f;
    private const float Log2E = 1.44269504088896341f;
    private const float Shifter = 12582912f; // 1.5·2²³: adding it rounds to an integer kept in the low mantissa bits
    private const int ShifterBits = 0x4B400000;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    private const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f, P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;
    private const float TanhSmall = 0.625f;
    private const float T0 = -5.70498872745E-3f, T1 = 2.06390887954E-2f, T2 = -5.37397155531E-2f, T3 = 1.33314422036E-1f, T4 = -3.33332819422E-1f;

    // ---- RefMax / RefMin -------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> RefMax(Vector128<float> a, Vector128<float> b)
        => Sse.IsSupported ? Sse.Max(a, b) : Vector128.ConditionalSelect(Vector128.GreaterThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> RefMax(Vector256<float> a, Vector256<float> b)
        => Avx.IsSupported ? Avx.Max(a, b) : Vector256.ConditionalSelect(Vector256.GreaterThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> RefMax(Vector512<float> a, Vector512<float> b)
        => Avx512F.IsSupported ? Avx512F.Max(a, b) : Vector512.ConditionalSelect(Vector512.GreaterThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> RefMin(Vector128<float> a, Vector128<float> b)
        => Sse.IsSupported ? Sse.Min(a, b) : Vector128.ConditionalSelect(Vector128.LessThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> RefMin(Vector256<float> a, Vector256<float> b)
        => Avx.IsSupported ? Avx.Min(a, b) : Vector256.ConditionalSelect(Vector256.LessThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> RefMin(Vector512<float> a, Vector512<float> b)
        => Avx512F.IsSupported ? Avx512F.Min(a, b) : Vector512.ConditionalSelect(Vector512.LessThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> RefMax(Vector128<double> a, Vector128<double> b)
        => Sse2.IsSupported ? Sse2.Max(a, b) : Vector128.ConditionalSelect(Vector128.GreaterThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> RefMax(Vector256<double> a, Vector256<double> b)
        => Avx.IsSupported ? Avx.Max(a, b) : Vector256.ConditionalSelect(Vector256.GreaterThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> RefMax(Vector512<double> a, Vector512<double> b)
        => Avx512F.IsSupported ? Avx512F.Max(a, b) : Vector512.ConditionalSelect(Vector512.GreaterThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> RefMin(Vector128<double> a, Vector128<double> b)
        => Sse2.IsSupported ? Sse2.Min(a, b) : Vector128.ConditionalSelect(Vector128.LessThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> RefMin(Vector256<double> a, Vector256<double> b)
        => Avx.IsSupported ? Avx.Min(a, b) : Vector256.ConditionalSelect(Vector256.LessThan(a, b), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> RefMin(Vector512<double> a, Vector512<double> b)
        => Avx512F.IsSupported ? Avx512F.Min(a, b) : Vector512.ConditionalSelect(Vector512.LessThan(a, b), a, b);

    // ---- Exp ---------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x)
    {
        x = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(ExpLo)), Vector128.Create(ExpLo), x);
        x = Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128.Create(ExpHi)), Vector128.Create(ExpHi), x);
        Vector128<float> k = Vector128.FusedMultiplyAdd(x, Vector128.Create(Log2E), Vector128.Create(Shifter));
        Vector128<float> n = k - Vector128.Create(Shifter);
        Vector128<float> r = Vector128.FusedMultiplyAdd(n, Vector128.Create(-Ln2Hi), x);
        r = Vector128.FusedMultiplyAdd(n, Vector128.Create(-Ln2Lo), r);
        Vector128<float> p = Vector128.FusedMultiplyAdd(Vector128.Create(P0), r, Vector128.Create(P1));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(P2));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(P3));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(P4));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(P5));
        p = Vector128.FusedMultiplyAdd(p, r * r, r) + Vector128<float>.One;
        Vector128<int> e = k.AsInt32() - Vector128.Create(ShifterBits);
        Vector128<int> e1 = Vector128.ShiftRightArithmetic(e, 1);
        Vector128<float> s1 = Vector128.ShiftLeft(e1 + Vector128.Create(127), 23).AsSingle();
        Vector128<float> s2 = Vector128.ShiftLeft(e - e1 + Vector128.Create(127), 23).AsSingle();
        return p * s1 * s2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(ExpLo)), Vector256.Create(ExpLo), x);
        x = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(ExpHi)), Vector256.Create(ExpHi), x);
        Vector256<float> k = Vector256.FusedMultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(Shifter));
        Vector256<float> n = k - Vector256.Create(Shifter);
        Vector256<float> r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        Vector256<int> e = k.AsInt32() - Vector256.Create(ShifterBits);
        Vector256<int> e1 = Vector256.ShiftRightArithmetic(e, 1);
        Vector256<float> s1 = Vector256.ShiftLeft(e1 + Vector256.Create(127), 23).AsSingle();
        Vector256<float> s2 = Vector256.ShiftLeft(e - e1 + Vector256.Create(127), 23).AsSingle();
        return p * s1 * s2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(ExpLo)), Vector512.Create(ExpLo), x);
        x = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(ExpHi)), Vector512.Create(ExpHi), x);
        Vector512<float> k = Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2E), Vector512.Create(Shifter));
        Vector512<float> n = k - Vector512.Create(Shifter);
        Vector512<float> r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        Vector512<float> p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        Vector512<int> e = k.AsInt32() - Vector512.Create(ShifterBits);
        Vector512<int> e1 = Vector512.ShiftRightArithmetic(e, 1);
        Vector512<float> s1 = Vector512.ShiftLeft(e1 + Vector512.Create(127), 23).AsSingle();
        Vector512<float> s2 = Vector512.ShiftLeft(e - e1 + Vector512.Create(127), 23).AsSingle();
        return p * s1 * s2;
    }

    // ---- Tanh --------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        Vector128<float> a = Vector128.Abs(x);
        Vector128<float> z = a * a;
        Vector128<float> p = Vector128.FusedMultiplyAdd(Vector128.Create(T0), z, Vector128.Create(T1));
        p = Vector128.FusedMultiplyAdd(p, z, Vector128.Create(T2));
        p = Vector128.FusedMultiplyAdd(p, z, Vector128.Create(T3));
        p = Vector128.FusedMultiplyAdd(p, z, Vector128.Create(T4));
        Vector128<float> small = Vector128.FusedMultiplyAdd(p * z, a, a);
        Vector128<float> large = Vector128<float>.One - Vector128.Create(2f) / (Exp(a + a) + Vector128<float>.One);
        Vector128<float> t = Vector128.ConditionalSelect(Vector128.LessThan(a, Vector128.Create(TanhSmall)), small, large);
        return t | (x & Vector128.Create(-0f));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        Vector256<float> a = Vector256.Abs(x);
        Vector256<float> z = a * a;
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.Create(T0), z, Vector256.Create(T1));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(T2));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(T3));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(T4));
        Vector256<float> small = Vector256.FusedMultiplyAdd(p * z, a, a);
        Vector256<float> large = Vector256<float>.One - Vector256.Create(2f) / (Exp(a + a) + Vector256<float>.One);
        Vector256<float> t = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(TanhSmall)), small, large);
        return t | (x & Vector256.Create(-0f));
    }

    /// <summary>tanh(x); see the class comment for the method and its measured error.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        Vector512<float> a = Vector512.Abs(x);
        Vector512<float> z = a * a;
        Vector512<float> p = Vector512.FusedMultiplyAdd(Vector512.Create(T0), z, Vector512.Create(T1));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(T2));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(T3));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(T4));
        Vector512<float> small = Vector512.FusedMultiplyAdd(p * z, a, a);
        Vector512<float> large = Vector512<float>.One - Vector512.Create(2f) / (Exp(a + a) + Vector512<float>.One);
        Vector512<float> t = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(TanhSmall)), small, large);
        return t | (x & Vector512.Create(-0f));
    }
}
