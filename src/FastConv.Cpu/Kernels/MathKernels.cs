using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Vector forms of the special functions the element-wise ops need (Erf for Erf and Gelu). erf is Eigen's
/// <c>generic_fast_erf_float</c>: x clamped to [−4, 4] (erf(4) rounds to 1 in float), then <c>x·P(x²)/Q(x²)</c> with a
/// degree-13/8 rational fit. Its error against the double erf, measured every 2⁻¹⁶ over [−6, 6] by
/// <c>CpuOpPlanTests.ErfFitError</c>, stays within 4 ulps of the result plus 8·2⁻²⁴ absolute (near ±1).
/// </summary>
internal static class MathKernels
{
    private const float A1 = -1.60960333262415e-02f, A3 = -2.95459980854025e-03f, A5 = -7.34990630326855e-04f,
        A7 = -5.69250639462346e-05f, A9 = -2.10102402082508e-06f, A11 = 2.77068142495902e-08f, A13 = -2.72614225801306e-10f;
    private const float B0 = -1.42647390514189e-02f, B2 = -7.37332916720468e-03f, B4 = -1.68282697438203e-03f,
        B6 = -2.13374055278905e-04f, B8 = -1.45660718464996e-05f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Erf(Vector128<float> x)
    {
        x = Vector128.Min(Vector128.Max(x, Vector128.Create(-4f)), Vector128.Create(4f));
        Vector128<float> x2 = x * x;
        Vector128<float> p = Vector128.FusedMultiplyAdd(Vector128.Create(A13), x2, Vector128.Create(A11));
        p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(A9));
        p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(A7));
        p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(A5));
        p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(A3));
        p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(A1));
        Vector128<float> q = Vector128.FusedMultiplyAdd(Vector128.Create(B8), x2, Vector128.Create(B6));
        q = Vector128.FusedMultiplyAdd(q, x2, Vector128.Create(B4));
        q = Vector128.FusedMultiplyAdd(q, x2, Vector128.Create(B2));
        q = Vector128.FusedMultiplyAdd(q, x2, Vector128.Create(B0));
        return x * p / q;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-4f)), Vector256.Create(4f));
        Vector256<float> x2 = x * x;
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.Create(A13), x2, Vector256.Create(A11));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A9));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A7));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A5));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A3));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A1));
        Vector256<float> q = Vector256.FusedMultiplyAdd(Vector256.Create(B8), x2, Vector256.Create(B6));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(B4));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(B2));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(B0));
        return x * p / q;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-4f)), Vector512.Create(4f));
        Vector512<float> x2 = x * x;
        Vector512<float> p = Vector512.FusedMultiplyAdd(Vector512.Create(A13), x2, Vector512.Create(A11));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A9));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A7));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A5));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A3));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A1));
        Vector512<float> q = Vector512.FusedMultiplyAdd(Vector512.Create(B8), x2, Vector512.Create(B6));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(B4));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(B2));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(B0));
        return x * p / q;
    }
}

/// <summary>Erf: the vector rational fit (<see cref="MathKernels"/>); the scalar path is the reference's double erf.</summary>
internal readonly struct ErfOperator : IUnaryOperator
{
    public float Invoke(float x) => (float)ErrorFunction.Erf(x);
    public Vector128<float> Invoke(Vector128<float> x) => MathKernels.Erf(x);
    public Vector256<float> Invoke(Vector256<float> x) => MathKernels.Erf(x);
    public Vector512<float> Invoke(Vector512<float> x) => MathKernels.Erf(x);
}

/// <summary>
/// Gelu: exact <c>½·x·(1 + erf(x/√2))</c> with the vector erf, or the tanh form as the reference writes it,
/// <c>x / (1 + e^(−2z))</c>, <c>z = √(2/π)·(x + 0.044715·x³)</c>. The scalar path is the reference's double formula.
/// For x below about −5.7 the exact form's 1 + erf cancels: there the error is absolute, about 2⁻²⁴·|x|.
/// </summary>
internal readonly struct GeluOperator(bool tanh) : IUnaryOperator
{
    private const double Sqrt2 = 1.4142135623730951, Sqrt2OverPi = 0.79788456080286541;

    public float Invoke(float x)
    {
        double v = x;
        return tanh
            ? (float)(v / (1.0 + Math.Exp(-2.0 * Sqrt2OverPi * (v + 0.044715 * v * v * v))))
            : (float)(0.5 * v * ErrorFunction.Erfc(-v / Sqrt2));
    }

    public Vector128<float> Invoke(Vector128<float> x)
    {
        if (tanh)
        {
            Vector128<float> z = Vector128.Create((float)Sqrt2OverPi) * Vector128.FusedMultiplyAdd(Vector128.Create(0.044715f) * x * x, x, x);
            return x / (Vector128<float>.One + VectorMath.Exp(Vector128.Create(-2f) * z));
        }
        return Vector128.Create(0.5f) * x * (Vector128<float>.One + MathKernels.Erf(x * Vector128.Create((float)(1 / Sqrt2))));
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        if (tanh)
        {
            Vector256<float> z = Vector256.Create((float)Sqrt2OverPi) * Vector256.FusedMultiplyAdd(Vector256.Create(0.044715f) * x * x, x, x);
            return x / (Vector256<float>.One + VectorMath.Exp(Vector256.Create(-2f) * z));
        }
        return Vector256.Create(0.5f) * x * (Vector256<float>.One + MathKernels.Erf(x * Vector256.Create((float)(1 / Sqrt2))));
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        if (tanh)
        {
            Vector512<float> z = Vector512.Create((float)Sqrt2OverPi) * Vector512.FusedMultiplyAdd(Vector512.Create(0.044715f) * x * x, x, x);
            return x / (Vector512<float>.One + VectorMath.Exp(Vector512.Create(-2f) * z));
        }
        return Vector512.Create(0.5f) * x * (Vector512<float>.One + MathKernels.Erf(x * Vector512.Create((float)(1 / Sqrt2))));
    }
}

/// <summary>
/// Softplus: <c>ln(1 + eˣ) = max(x, 0) + log1p(e^−|x|)</c>, the log1p as Goldberg's <c>ln(u)·t/(u − 1)</c> with
/// u = 1 + t rounded (t where u rounds to 1), so neither large nor very negative x lose accuracy: a few ulps from
/// <see cref="VectorMath.Exp(Vector512{float})"/> and the runtime's vector log. The scalar path is the reference's.
/// </summary>
internal readonly struct SoftplusOperator : IUnaryOperator
{
    public float Invoke(float x) => (float)Reference.Softplus((double)x);

    public Vector128<float> Invoke(Vector128<float> x)
    {
        Vector128<float> t = VectorMath.Exp(-Vector128.Abs(x)), u = Vector128<float>.One + t, d = u - Vector128<float>.One;
        Vector128<float> log1p = Vector128.ConditionalSelect(Vector128.Equals(d, Vector128<float>.Zero), t, Vector128.Log(u) * t / d);
        return Vector128.Max(x, Vector128<float>.Zero) + log1p;
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        Vector256<float> t = VectorMath.Exp(-Vector256.Abs(x)), u = Vector256<float>.One + t, d = u - Vector256<float>.One;
        Vector256<float> log1p = Vector256.ConditionalSelect(Vector256.Equals(d, Vector256<float>.Zero), t, Vector256.Log(u) * t / d);
        return Vector256.Max(x, Vector256<float>.Zero) + log1p;
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        Vector512<float> t = VectorMath.Exp(-Vector512.Abs(x)), u = Vector512<float>.One + t, d = u - Vector512<float>.One;
        Vector512<float> log1p = Vector512.ConditionalSelect(Vector512.Equals(d, Vector512<float>.Zero), t, Vector512.Log(u) * t / d);
        return Vector512.Max(x, Vector512<float>.Zero) + log1p;
    }
}

/// <summary>
/// Mish: <c>x·tanh(ln(1 + eˣ)) = x·n/(n + 2)</c> with <c>n = eˣ·(eˣ + 2)</c> (tanh(ln u) = (u² − 1)/(u² + 1)), eˣ from
/// <see cref="VectorMath"/> with x capped at 20, where n/(n + 2) is 1 in float. No cancellation anywhere, so a few
/// ulps. The scalar path is the reference's double formula.
/// </summary>
internal readonly struct MishOperator : IUnaryOperator
{
    public float Invoke(float x)
    {
        double v = x, e = Math.Exp(v), u = 1 + e;
        double softplus = v > 40 ? v : u == 1 ? e : Math.Log(u) * e / (u - 1);
        return (float)(v * Math.Tanh(softplus));
    }

    public Vector128<float> Invoke(Vector128<float> x)
    {
        Vector128<float> e = VectorMath.Exp(Vector128.Min(x, Vector128.Create(20f)));
        Vector128<float> n = e * (e + Vector128.Create(2f));
        return x * n / (n + Vector128.Create(2f));
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        Vector256<float> e = VectorMath.Exp(Vector256.Min(x, Vector256.Create(20f)));
        Vector256<float> n = e * (e + Vector256.Create(2f));
        return x * n / (n + Vector256.Create(2f));
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        Vector512<float> e = VectorMath.Exp(Vector512.Min(x, Vector512.Create(20f)));
        Vector512<float> n = e * (e + Vector512.Create(2f));
        return x * n / (n + Vector512.Create(2f));
    }
}
