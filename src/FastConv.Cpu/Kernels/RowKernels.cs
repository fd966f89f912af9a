using System.Runtime.CompilerServices;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Row and column loops of the reductions and normalizations (ReduceSum/Mean/Max/Min, LayerNormalization,
/// InstanceNormalization, GroupNormalization), written once over <see cref="IFloatVector{TSelf}"/> and dispatched by
/// SIMD level; <see cref="SimdLevel.Scalar"/> runs the same loops without vectors. Sums are float, two accumulators
/// wide (their error against the reference's double sums is bounded in the tests by γₙ·Σ|x|).
/// </summary>
internal static class RowKernels
{
    /// <summary>Σ x[0..n).</summary>
    public static float Sum(SimdLevel level, ref float x, int n) => level switch
    {
        >= SimdLevel.Avx512 => Sum<Float512>(ref x, n, true),
        SimdLevel.Avx2 => Sum<Float256>(ref x, n, true),
        SimdLevel.Vector128 => Sum<Float128>(ref x, n, true),
        _ => Sum<Float128>(ref x, n, false),
    };

    /// <summary>Σ (x − mean)² over x[0..n).</summary>
    public static float SquaredDeviations(SimdLevel level, ref float x, int n, float mean) => level switch
    {
        >= SimdLevel.Avx512 => SquaredDeviations<Float512>(ref x, n, mean, true),
        SimdLevel.Avx2 => SquaredDeviations<Float256>(ref x, n, mean, true),
        SimdLevel.Vector128 => SquaredDeviations<Float128>(ref x, n, mean, true),
        _ => SquaredDeviations<Float128>(ref x, n, mean, false),
    };

    /// <summary>max (or min) of x[0..n), n ≥ 1; NaN when any is NaN.</summary>
    public static float Extreme(SimdLevel level, ref float x, int n, bool max) => level switch
    {
        >= SimdLevel.Avx512 => Extreme<Float512>(ref x, n, max, true),
        SimdLevel.Avx2 => Extreme<Float256>(ref x, n, max, true),
        SimdLevel.Vector128 => Extreme<Float128>(ref x, n, max, true),
        _ => Extreme<Float128>(ref x, n, max, false),
    };

    /// <summary>y[j] = y[j] ⊕ x[j] for j &lt; n, ⊕ = + (op 0), max (1) or min (2).</summary>
    public static void Combine(SimdLevel level, ref float y, ref float x, int n, int op)
    {
        switch (level)
        {
            case >= SimdLevel.Avx512: Combine<Float512>(ref y, ref x, n, op, true); break;
            case SimdLevel.Avx2: Combine<Float256>(ref y, ref x, n, op, true); break;
            case SimdLevel.Vector128: Combine<Float128>(ref y, ref x, n, op, true); break;
            default: Combine<Float128>(ref y, ref x, n, op, false); break;
        }
    }

    /// <summary>y[j] = y[j] / d for j &lt; n.</summary>
    public static void Divide(SimdLevel level, ref float y, int n, float d)
    {
        switch (level)
        {
            case >= SimdLevel.Avx512: Divide<Float512>(ref y, n, d, true); break;
            case SimdLevel.Avx2: Divide<Float256>(ref y, n, d, true); break;
            case SimdLevel.Vector128: Divide<Float128>(ref y, n, d, true); break;
            default: Divide<Float128>(ref y, n, d, false); break;
        }
    }

    /// <summary>
    /// y[j] = (x[j] − mean)·inv·s[j] + b[j] for j &lt; n, where s and b are arrays (<paramref name="perElement"/>) or
    /// the single values s[0], b[0].
    /// </summary>
    public static void Normalize(SimdLevel level, ref float x, ref float y, int n, float mean, float inv, ref float s, ref float b, bool perElement)
    {
        switch (level)
        {
            case >= SimdLevel.Avx512: Normalize<Float512>(ref x, ref y, n, mean, inv, ref s, ref b, perElement, true); break;
            case SimdLevel.Avx2: Normalize<Float256>(ref x, ref y, n, mean, inv, ref s, ref b, perElement, true); break;
            case SimdLevel.Vector128: Normalize<Float128>(ref x, ref y, n, mean, inv, ref s, ref b, perElement, true); break;
            default: Normalize<Float128>(ref x, ref y, n, mean, inv, ref s, ref b, perElement, false); break;
        }
    }

    private static float Sum<T>(ref float x, int n, bool vector) where T : struct, IFloatVector<T>
    {
        int i = 0;
        float s = 0;
        if (vector && n >= T.Count)
        {
            T a0 = T.Broadcast(0f), a1 = a0;
            for (; i + 2 * T.Count <= n; i += 2 * T.Count)
            {
                a0 = T.Add(a0, T.Load(ref x, i));
                a1 = T.Add(a1, T.Load(ref x, i + T.Count));
            }
            for (; i + T.Count <= n; i += T.Count)
            {
                a0 = T.Add(a0, T.Load(ref x, i));
            }
            s = T.SumAcross(T.Add(a0, a1));
        }
        for (; i < n; i++)
        {
            s += Unsafe.Add(ref x, i);
        }
        return s;
    }

    private static float SquaredDeviations<T>(ref float x, int n, float mean, bool vector) where T : struct, IFloatVector<T>
    {
        int i = 0;
        float s = 0;
        if (vector && n >= T.Count)
        {
            T m = T.Broadcast(mean), a0 = T.Broadcast(0f), a1 = a0;
            for (; i + 2 * T.Count <= n; i += 2 * T.Count)
            {
                T d0 = T.Sub(T.Load(ref x, i), m), d1 = T.Sub(T.Load(ref x, i + T.Count), m);
                a0 = T.Add(a0, T.Mul(d0, d0));
                a1 = T.Add(a1, T.Mul(d1, d1));
            }
            for (; i + T.Count <= n; i += T.Count)
            {
                T d = T.Sub(T.Load(ref x, i), m);
                a0 = T.Add(a0, T.Mul(d, d));
            }
            s = T.SumAcross(T.Add(a0, a1));
        }
        for (; i < n; i++)
        {
            float d = Unsafe.Add(ref x, i) - mean;
            s += d * d;
        }
        return s;
    }

    private static float Extreme<T>(ref float x, int n, bool max, bool vector) where T : struct, IFloatVector<T>
    {
        int i = 0;
        float r = x;
        if (vector && n >= T.Count)
        {
            T a = T.Load(ref x, 0);
            for (i = T.Count; i + T.Count <= n; i += T.Count)
            {
                a = max ? T.Max(a, T.Load(ref x, i)) : T.Min(a, T.Load(ref x, i));
            }
            r = T.Lane(a, 0);
            for (int l = 1; l < T.Count; l++)
            {
                r = max ? Math.Max(r, T.Lane(a, l)) : Math.Min(r, T.Lane(a, l));
            }
        }
        for (; i < n; i++)
        {
            r = max ? Math.Max(r, Unsafe.Add(ref x, i)) : Math.Min(r, Unsafe.Add(ref x, i));
        }
        return r;
    }

    private static void Combine<T>(ref float y, ref float x, int n, int op, bool vector) where T : struct, IFloatVector<T>
    {
        int i = 0;
        if (vector)
        {
            for (; i + T.Count <= n; i += T.Count)
            {
                T a = T.Load(ref y, i), b = T.Load(ref x, i);
                T.Store(op == 0 ? T.Add(a, b) : op == 1 ? T.Max(a, b) : T.Min(a, b), ref y, i);
            }
        }
        for (; i < n; i++)
        {
            ref float a = ref Unsafe.Add(ref y, i);
            float b = Unsafe.Add(ref x, i);
            a = op == 0 ? a + b : op == 1 ? Math.Max(a, b) : Math.Min(a, b);
        }
    }

    private static void Divide<T>(ref float y, int n, float d, bool vector) where T : struct, IFloatVector<T>
    {
        int i = 0;
        if (vector)
        {
            T v = T.Broadcast(d);
            for (; i + T.Count <= n; i += T.Count)
            {
                T.Store(T.Div(T.Load(ref y, i), v), ref y, i);
            }
        }
        for (; i < n; i++)
        {
            Unsafe.Add(ref y, i) /= d;
        }
    }

    private static void Normalize<T>(ref float x, ref float y, int n, float mean, float inv, ref float s, ref float b, bool perElement, bool vector)
        where T : struct, IFloatVector<T>
    {
        int i = 0;
        if (vector)
        {
            T m = T.Broadcast(mean), v = T.Broadcast(inv), s1 = T.Broadcast(s), b1 = T.Broadcast(b);
            for (; i + T.Count <= n; i += T.Count)
            {
                T z = T.Mul(T.Sub(T.Load(ref x, i), m), v);
                T.Store(perElement ? T.Add(T.Mul(z, T.Load(ref s, i)), T.Load(ref b, i)) : T.Add(T.Mul(z, s1), b1), ref y, i);
            }
        }
        for (; i < n; i++)
        {
            float z = (Unsafe.Add(ref x, i) - mean) * inv;
            Unsafe.Add(ref y, i) = perElement ? z * Unsafe.Add(ref s, i) + Unsafe.Add(ref b, i) : z * s + b;
        }
    }
}
