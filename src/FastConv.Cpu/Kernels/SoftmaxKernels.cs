using System.Runtime.CompilerServices;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Softmax along one axis, numerically stable (exp of x − max, so nothing overflows), in three passes: max,
/// exp and sum (the exponentials are stored in y), scale by 1/sum. Two layouts:
/// <list type="bullet">
/// <item><see cref="Row{TV}"/>: the axis is the last one, a contiguous row; vectors run along it.</item>
/// <item><see cref="Columns{TV}"/>: the axis has a stride (inner &gt; 1); a vector covers Count neighbouring
/// slices (contiguous in the inner dimension) and steps down the axis, so every load is still contiguous.</item>
/// </list>
/// A NaN anywhere in a slice makes its sum NaN, hence the whole slice NaN, as in the reference (the max may skip
/// the NaN, the exp of it does not). Error: the exp's 1 ulp, the rounding of x − max (u·|x − max| relative),
/// the float sum (γ_len), 1/sum and the product (1 ulp each).
/// </summary>
internal static class SoftmaxKernels
{
    /// <summary>A contiguous slice of <paramref name="len"/> ≥ Count floats; y may be x.</summary>
    public static void Row<TV>(ref float x, ref float y, int len)
        where TV : struct, IFloatVector<TV>
    {
        int v = TV.Count;
        TV m0 = TV.Broadcast(float.NegativeInfinity), m1 = m0;
        int i = 0;
        for (; i + 2 * v <= len; i += 2 * v)
        {
            m0 = TV.RefMax(TV.Load(ref x, i), m0);
            m1 = TV.RefMax(TV.Load(ref x, i + v), m1);
        }
        m0 = TV.RefMax(m1, m0);
        // The overlapping last vector: re-reading a few elements does not change a max.
        m0 = TV.RefMax(TV.Load(ref x, len - v), m0);
        float max = float.NegativeInfinity;
        for (int l = 0; l < v; l++)
        {
            float e = TV.Lane(m0, l);
            max = e > max ? e : max;
        }

        TV mv = TV.Broadcast(max);
        TV s0 = TV.Broadcast(0f), s1 = s0;
        i = 0;
        for (; i + 2 * v <= len; i += 2 * v)
        {
            TV e0 = TV.Exp(TV.Sub(TV.Load(ref x, i), mv));
            TV e1 = TV.Exp(TV.Sub(TV.Load(ref x, i + v), mv));
            TV.Store(e0, ref y, i);
            TV.Store(e1, ref y, i + v);
            s0 = TV.Add(s0, e0);
            s1 = TV.Add(s1, e1);
        }
        for (; i + v <= len; i += v)
        {
            TV e0 = TV.Exp(TV.Sub(TV.Load(ref x, i), mv));
            TV.Store(e0, ref y, i);
            s0 = TV.Add(s0, e0);
        }
        float sum = TV.SumAcross(TV.Add(s0, s1));
        for (; i < len; i++)
        {
            float e = (float)Math.Exp(Unsafe.Add(ref x, i) - max);
            Unsafe.Add(ref y, i) = e;
            sum += e;
        }

        TV inv = TV.Broadcast(1f / sum);
        TV end = TV.Mul(TV.Load(ref y, len - v), inv); // before any store: the overlap is scaled once
        i = 0;
        for (; i + v <= len; i += v)
        {
            TV.Store(TV.Mul(TV.Load(ref y, i), inv), ref y, i);
        }
        if (i < len)
        {
            TV.Store(end, ref y, len - v);
        }
    }

    /// <summary>Count neighbouring slices of <paramref name="len"/> elements, <paramref name="inner"/> apart along the axis; y may be x.</summary>
    public static void Columns<TV>(ref float x, ref float y, int len, int inner)
        where TV : struct, IFloatVector<TV>
    {
        TV m = TV.Broadcast(float.NegativeInfinity);
        for (int j = 0; j < len; j++)
        {
            m = TV.RefMax(TV.Load(ref x, (nint)j * inner), m);
        }
        TV s = TV.Broadcast(0f);
        for (int j = 0; j < len; j++)
        {
            TV e = TV.Exp(TV.Sub(TV.Load(ref x, (nint)j * inner), m));
            TV.Store(e, ref y, (nint)j * inner);
            s = TV.Add(s, e);
        }
        TV inv = TV.Div(TV.Broadcast(1f), s);
        for (int j = 0; j < len; j++)
        {
            TV.Store(TV.Mul(TV.Load(ref y, (nint)j * inner), inv), ref y, (nint)j * inner);
        }
    }

    /// <summary>
    /// One slice of <paramref name="len"/> elements <paramref name="stride"/> apart, as the reference computes it
    /// (exp and sum in double, each result rounded once; the exponentials are recomputed rather than stored).
    /// </summary>
    public static void Scalar(ref float x, ref float y, int len, int stride)
    {
        double max = double.NegativeInfinity;
        bool nan = false;
        for (int j = 0; j < len; j++)
        {
            double v = Unsafe.Add(ref x, (nint)j * stride);
            nan |= double.IsNaN(v);
            max = v > max ? v : max;
        }
        double sum = 0;
        for (int j = 0; j < len; j++)
        {
            sum += nan ? double.NaN : Math.Exp(Unsafe.Add(ref x, (nint)j * stride) - max);
        }
        for (int j = 0; j < len; j++)
        {
            ref float yj = ref Unsafe.Add(ref y, (nint)j * stride);
            double e = nan ? double.NaN : Math.Exp(Unsafe.Add(ref x, (nint)j * stride) - max);
            yj = (float)(e / sum);
        }
    }
}
