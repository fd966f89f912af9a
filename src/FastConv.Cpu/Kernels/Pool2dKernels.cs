using System.Runtime.CompilerServices;
using FastConv.Ops;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// What a pooling plane kernel needs, computed once at plan time: per output row p the range of window rows
/// that fall inside the input (rows outside are skipped, never read) and the divisor of AvgPool2d for the
/// interior columns; the interior column range where every window column is inside the input and a vector
/// of outputs can be loaded without bounds checks.
/// </summary>
internal sealed class Pool2dGeometry
{
    public Pool2dGeometry(Pool2dShape s)
    {
        Pool2dParams p = s.Params;
        H = s.H; W = s.W; P = s.P; Q = s.Q; R = s.R; S = s.S;
        StrideH = p.StrideH; StrideW = p.StrideW; DilationH = p.DilationH; DilationW = p.DilationW;
        PadTop = p.Padding.Top; PadLeft = p.Padding.Left; PadBottom = p.Padding.Bottom; PadRight = p.Padding.Right;
        CountIncludePad = p.CountIncludePad;
        RowFirst = new int[P];
        RowEnd = new int[P];
        InteriorDivisor = new float[P];
        for (int op = 0; op < P; op++)
        {
            int first = R, end = 0, padded = 0;
            for (int r = 0; r < R; r++)
            {
                int ih = op * StrideH - PadTop + r * DilationH;
                if (ih >= 0 && ih < H)
                {
                    first = Math.Min(first, r);
                    end = r + 1;
                }
                if (ih < H + PadBottom)
                {
                    padded++;
                }
            }
            RowFirst[op] = first;
            RowEnd[op] = Math.Max(end, first);
            InteriorDivisor[op] = CountIncludePad ? padded * S : (RowEnd[op] - RowFirst[op]) * S;
        }
        // Interior columns: q·strideW − padLeft ≥ 0 and q·strideW − padLeft + (S−1)·dilW ≤ W − 1 − Slack,
        // where Slack = 1 for stride 2 (LoadEvens reads one float past the last tap of its last output).
        InteriorFirst = Math.Min(Q, (PadLeft + StrideW - 1) / StrideW);
        int slack = StrideW == 2 ? 1 : 0;
        long lastStart = (long)W - 1 - slack + PadLeft - (long)(S - 1) * DilationW;
        int interiorEnd = lastStart < 0 ? 0 : (int)Math.Min(Q, lastStart / StrideW + 1);
        VectorEnd = Math.Max(InteriorFirst, interiorEnd);
    }

    public int H { get; }
    public int W { get; }
    public int P { get; }
    public int Q { get; }
    public int R { get; }
    public int S { get; }
    public int StrideH { get; }
    public int StrideW { get; }
    public int DilationH { get; }
    public int DilationW { get; }
    public int PadTop { get; }
    public int PadLeft { get; }
    public int PadBottom { get; }
    public int PadRight { get; }
    public bool CountIncludePad { get; }

    /// <summary>Per output row: the first window row r inside the input, and one past the last.</summary>
    public int[] RowFirst { get; }
    public int[] RowEnd { get; }

    /// <summary>Per output row: AvgPool2d's divisor for a window whose columns are all inside the input.</summary>
    public float[] InteriorDivisor { get; }

    /// <summary>Output columns [InteriorFirst, VectorEnd) may be computed by vector loads without bounds checks.</summary>
    public int InteriorFirst { get; }
    public int VectorEnd { get; }
}

/// <summary>
/// MaxPool2d and AvgPool2d on one N·C plane, vectorized along the output row: for every output row, the
/// border columns (windows that cross the padding) are computed one by one, the interior ones a vector of
/// outputs at a time — one load per window tap for stride 1, a de-interleaving pair of loads
/// (<see cref="IFloatVector{TSelf}.LoadEvens"/>) for stride 2, and the last partial vector overlaps the one
/// before (recomputing a few outputs is cheaper than a scalar tail). Other strides take the scalar path.
/// <para>
/// Every output is computed with the reference's operations in the reference's order — taps row by row,
/// column by column; max as <c>v &gt; m ? v : m</c> from −∞; sum from 0 then one division by the same count —
/// so both pools equal the reference bit for bit (the vector lanes are independent outputs).
/// </para>
/// </summary>
internal static class Pool2dKernels
{
    public static void Plane<TV, TMax>(Pool2dGeometry g, ref float x, ref float y)
        where TV : struct, IFloatVector<TV>
        where TMax : struct, IFlag
    {
        int v = TV.Count;
        bool vector = (g.StrideW == 1 || (g.StrideW == 2 && TV.CanDeinterleave)) && g.VectorEnd - g.InteriorFirst >= v;
        for (int p = 0; p < g.P; p++)
        {
            ref float yRow = ref Unsafe.Add(ref y, (nint)p * g.Q);
            if (!vector)
            {
                for (int q = 0; q < g.Q; q++)
                {
                    Unsafe.Add(ref yRow, q) = Scalar<TMax>(g, ref x, p, q);
                }
                continue;
            }
            for (int q = 0; q < g.InteriorFirst; q++)
            {
                Unsafe.Add(ref yRow, q) = Scalar<TMax>(g, ref x, p, q);
            }
            int qv = g.InteriorFirst;
            for (; qv + v <= g.VectorEnd; qv += v)
            {
                Block<TV, TMax>(g, ref x, ref yRow, p, qv);
            }
            if (qv < g.VectorEnd)
            {
                Block<TV, TMax>(g, ref x, ref yRow, p, g.VectorEnd - v);
            }
            for (int q = g.VectorEnd; q < g.Q; q++)
            {
                Unsafe.Add(ref yRow, q) = Scalar<TMax>(g, ref x, p, q);
            }
        }
    }

    /// <summary>The scalar level: every output as the reference computes it.</summary>
    public static void PlaneScalar<TMax>(Pool2dGeometry g, ref float x, ref float y)
        where TMax : struct, IFlag
    {
        for (int p = 0; p < g.P; p++)
        {
            for (int q = 0; q < g.Q; q++)
            {
                Unsafe.Add(ref y, (nint)p * g.Q + q) = Scalar<TMax>(g, ref x, p, q);
            }
        }
    }

    /// <summary>Outputs q0 … q0 + Count − 1 of row p, all interior columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block<TV, TMax>(Pool2dGeometry g, ref float x, ref float yRow, int p, int q0)
        where TV : struct, IFloatVector<TV>
        where TMax : struct, IFlag
    {
        TV acc = TV.Broadcast(TMax.On ? float.NegativeInfinity : 0f);
        int rEnd = g.RowEnd[p];
        nint col0 = (nint)q0 * g.StrideW - g.PadLeft;
        for (int r = g.RowFirst[p]; r < rEnd; r++)
        {
            ref float row = ref Unsafe.Add(ref x, (nint)(p * g.StrideH - g.PadTop + r * g.DilationH) * g.W);
            for (int s = 0; s < g.S; s++)
            {
                nint col = col0 + (nint)s * g.DilationW;
                TV t = g.StrideW == 1 ? TV.Load(ref row, col) : TV.LoadEvens(ref row, col);
                acc = TMax.On ? TV.RefMax(t, acc) : TV.Add(acc, t);
            }
        }
        if (!TMax.On)
        {
            acc = TV.Div(acc, TV.Broadcast(g.InteriorDivisor[p]));
        }
        TV.Store(acc, ref yRow, q0);
    }

    /// <summary>One output, exactly as the reference computes it (padded taps skipped; the two divisors).</summary>
    private static float Scalar<TMax>(Pool2dGeometry g, ref float x, int p, int q)
        where TMax : struct, IFlag
    {
        float m = float.NegativeInfinity, sum = 0f;
        int real = 0, padded = 0;
        for (int r = 0; r < g.R; r++)
        {
            int ih = p * g.StrideH - g.PadTop + r * g.DilationH;
            bool rowInPadded = ih < g.H + g.PadBottom;
            for (int s = 0; s < g.S; s++)
            {
                int iw = q * g.StrideW - g.PadLeft + s * g.DilationW;
                if (rowInPadded && iw < g.W + g.PadRight)
                {
                    padded++;
                }
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W)
                {
                    continue;
                }
                float v = Unsafe.Add(ref x, (nint)ih * g.W + iw);
                if (TMax.On)
                {
                    m = v > m ? v : m;
                }
                else
                {
                    sum += v;
                    real++;
                }
            }
        }
        return TMax.On ? m : sum / (g.CountIncludePad ? padded : real);
    }
}

/// <summary>
/// GlobalMaxPool and GlobalAveragePool on one plane of <c>hw</c> floats: four vector accumulators (four
/// independent dependency chains cover the add/max latency at two loads per cycle), the tail one by one,
/// then the lanes combined. Max uses the reference's <c>v &gt; m ? v : m</c>, so it equals the reference
/// (NaN ignored, the maximum is order-free); the sum's order differs, within the γ_{H·W} bound.
/// </summary>
internal static class GlobalPoolKernels
{
    public static float Plane<TV, TMax>(ref float x, int hw)
        where TV : struct, IFloatVector<TV>
        where TMax : struct, IFlag
    {
        int v = TV.Count;
        float init = TMax.On ? float.NegativeInfinity : 0f;
        float result = init;
        int i = 0;
        if (hw >= v)
        {
            TV a0 = TV.Broadcast(init), a1 = a0, a2 = a0, a3 = a0;
            for (; i + 4 * v <= hw; i += 4 * v)
            {
                if (TMax.On)
                {
                    a0 = TV.RefMax(TV.Load(ref x, i), a0);
                    a1 = TV.RefMax(TV.Load(ref x, i + v), a1);
                    a2 = TV.RefMax(TV.Load(ref x, i + 2 * v), a2);
                    a3 = TV.RefMax(TV.Load(ref x, i + 3 * v), a3);
                }
                else
                {
                    a0 = TV.Add(a0, TV.Load(ref x, i));
                    a1 = TV.Add(a1, TV.Load(ref x, i + v));
                    a2 = TV.Add(a2, TV.Load(ref x, i + 2 * v));
                    a3 = TV.Add(a3, TV.Load(ref x, i + 3 * v));
                }
            }
            for (; i + v <= hw; i += v)
            {
                a0 = TMax.On ? TV.RefMax(TV.Load(ref x, i), a0) : TV.Add(a0, TV.Load(ref x, i));
            }
            if (TMax.On)
            {
                TV m = TV.RefMax(TV.RefMax(a1, a0), TV.RefMax(a3, a2));
                for (int l = 0; l < v; l++)
                {
                    float e = TV.Lane(m, l);
                    result = e > result ? e : result;
                }
            }
            else
            {
                result = TV.SumAcross(TV.Add(TV.Add(a0, a1), TV.Add(a2, a3)));
            }
        }
        for (; i < hw; i++)
        {
            float e = Unsafe.Add(ref x, i);
            result = TMax.On ? (e > result ? e : result) : result + e;
        }
        return TMax.On ? result : result / hw;
    }

    /// <summary>The scalar level: the reference's loop.</summary>
    public static float PlaneScalar<TMax>(ref float x, int hw)
        where TMax : struct, IFlag
    {
        float result = TMax.On ? float.NegativeInfinity : 0f;
        for (int i = 0; i < hw; i++)
        {
            float e = Unsafe.Add(ref x, i);
            result = TMax.On ? (e > result ? e : result) : result + e;
        }
        return TMax.On ? result : result / hw;
    }
}

internal readonly struct MaxFlag : IFlag
{
    public static bool On => true;
}

internal readonly struct AvgFlag : IFlag
{
    public static bool On => false;
}
