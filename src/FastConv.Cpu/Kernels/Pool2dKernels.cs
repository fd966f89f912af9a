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
    public Pool2dGeometry(Pool2dShape s, bool max)
    {
        Pool2dParams p = s.Params;
        H = s.H; W = s.W; P = s.P; Q = s.Q; R = s.R; S = s.S;
        StrideH = p.StrideH; StrideW = p.StrideW; DilationH = p.DilationH; DilationW = p.DilationW;
        PadTop = p.Padding.Top; PadLeft = p.Padding.Left; PadBottom = p.Padding.Bottom; PadRight = p.Padding.Right;
        CountIncludePad = p.CountIncludePad;
        RowFirst = new int[P];
        RowEnd = new int[P];
        InteriorDivisor = new float[P];
        PaddedRows = new int[P];
        ColFirst = new int[Q];
        ColEnd = new int[Q];
        PaddedCols = new int[Q];
        for (int oq = 0; oq < Q; oq++)
        {
            int first = S, end = 0, padded = 0;
            for (int t = 0; t < S; t++)
            {
                int iw = oq * StrideW - PadLeft + t * DilationW;
                if (iw >= 0 && iw < W)
                {
                    first = Math.Min(first, t);
                    end = t + 1;
                }
                if (iw < W + PadRight)
                {
                    padded++;
                }
            }
            ColFirst[oq] = first;
            ColEnd[oq] = Math.Max(end, first);
            PaddedCols[oq] = padded;
        }
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
            PaddedRows[op] = padded;
            InteriorDivisor[op] = CountIncludePad ? padded * S : (RowEnd[op] - RowFirst[op]) * S;
        }
        // Interior columns: q·strideW − padLeft ≥ 0 and q·strideW − padLeft + (S−1)·dilW ≤ W − 1 − Slack,
        // where Slack = 1 for stride 2 (LoadEvens reads one float past the last tap of its last output) except
        // on the max fast path with a window width of 3 or an even one, whose loads end on the last tap.
        InteriorFirst = Math.Min(Q, (PadLeft + StrideW - 1) / StrideW);
        int slack = StrideW == 2 && !(max && DilationW == 1 && (S % 2 == 0 || S == 3)) ? 1 : 0;
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

    /// <summary>Per output column: the first window column inside the input, and one past the last.</summary>
    public int[] ColFirst { get; }
    public int[] ColEnd { get; }

    /// <summary>Window rows (per output row) and columns (per output column) inside the padded input: count_include_pad's divisor is their product.</summary>
    public int[] PaddedRows { get; }
    public int[] PaddedCols { get; }

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
/// so both pools equal the reference bit for bit (the vector lanes are independent outputs). The one exception
/// is the stride-2 max fast path, which reduces rows first: same values, but of a +0/−0 tie either may come out.
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
        // Max with stride 2 and no column dilation (2×2/2, ResNet's 3×3/2): the rows are reduced first,
        // then one de-interleave serves two window columns (see BlockMaxStride2).
        bool maxStride2 = TMax.On && g.StrideW == 2 && g.DilationW == 1;
        bool avgStride2 = !TMax.On && g.StrideW == 2 && g.DilationW == 1;
        // Everything the inner loops use, in locals: the JIT cannot keep fields in registers across the stores.
        int w = g.W, s = g.S, strideW = g.StrideW, q = g.Q, interiorFirst = g.InteriorFirst, vectorEnd = g.VectorEnd;
        nint dilW = g.DilationW, rowStep = (nint)g.DilationH * w;
        for (int p = 0; p < g.P; p++)
        {
            ref float yRow = ref Unsafe.Add(ref y, (nint)p * q);
            if (!vector)
            {
                for (int oq = 0; oq < q; oq++)
                {
                    Unsafe.Add(ref yRow, oq) = Scalar<TMax>(g, ref x, p, oq);
                }
                continue;
            }
            for (int oq = 0; oq < interiorFirst; oq++)
            {
                Unsafe.Add(ref yRow, oq) = Scalar<TMax>(g, ref x, p, oq);
            }
            int rowFirst = g.RowFirst[p], rows = g.RowEnd[p] - rowFirst;
            ref float row0 = ref Unsafe.Add(ref x, (nint)(p * g.StrideH - g.PadTop + rowFirst * g.DilationH) * w);
            float divisor = g.InteriorDivisor[p];
            int qv = interiorFirst;
            while (qv < vectorEnd)
            {
                int q0 = Math.Min(qv, vectorEnd - v); // the last block overlaps the one before
                nint col0 = (nint)q0 * strideW - g.PadLeft;
                TV result = maxStride2 ? BlockMaxStride2<TV>(ref row0, rowStep, rows, s, col0)
                    : avgStride2 ? BlockAvgStride2<TV>(ref row0, rowStep, rows, s, col0, divisor)
                    : Block<TV, TMax>(ref row0, rowStep, rows, s, dilW, strideW, col0, divisor);
                TV.Store(result, ref yRow, q0);
                qv = q0 + v;
            }
            for (int oq = vectorEnd; oq < q; oq++)
            {
                Unsafe.Add(ref yRow, oq) = Scalar<TMax>(g, ref x, p, oq);
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

    /// <summary>
    /// Count interior outputs of one row, taps in the reference's order (rows, then columns): stride 1 loads
    /// each tap directly, stride 2 through <see cref="IFloatVector{TSelf}.LoadEvens"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Block<TV, TMax>(ref float row0, nint rowStep, int rows, int s, nint dilW, int strideW, nint col0, float divisor)
        where TV : struct, IFloatVector<TV>
        where TMax : struct, IFlag
    {
        TV acc = TV.Broadcast(TMax.On ? float.NegativeInfinity : 0f);
        ref float row = ref row0;
        for (int r = 0; r < rows; r++)
        {
            nint col = col0;
            for (int t = 0; t < s; t++)
            {
                TV v = strideW == 1 ? TV.Load(ref row, col) : TV.LoadEvens(ref row, col);
                acc = TMax.On ? TV.RefMax(v, acc) : TV.Add(acc, v);
                col += dilW;
            }
            row = ref Unsafe.Add(ref row, rowStep);
        }
        return TMax.On ? acc : TV.Div(acc, TV.Broadcast(divisor));
    }

    /// <summary>
    /// Count interior outputs of a stride-2 average pool without column dilation: one pair of loads and one
    /// de-interleave per pair of window columns (evens = column 2t, odds = column 2t + 1), added in the
    /// reference's order (row by row, column by column, from 0), so the sum is the reference's bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV BlockAvgStride2<TV>(ref float row0, nint rowStep, int rows, int s, nint col0, float divisor)
        where TV : struct, IFloatVector<TV>
    {
        TV acc = TV.Broadcast(0f);
        nint v = TV.Count;
        ref float row = ref row0;
        for (int r = 0; r < rows; r++)
        {
            for (int t = 0; 2 * t < s; t++)
            {
                nint col = col0 + 2 * t;
                TV.Deinterleave(TV.Load(ref row, col), TV.Load(ref row, col + v), out TV evens, out TV odds);
                acc = TV.Add(acc, evens);
                if (2 * t + 1 < s)
                {
                    acc = TV.Add(acc, odds);
                }
            }
            row = ref Unsafe.Add(ref row, rowStep);
        }
        return TV.Div(acc, TV.Broadcast(divisor));
    }

    /// <summary>
    /// Count interior outputs of a stride-2 max pool without column dilation. For each pair of window columns
    /// (2t, 2t + 1) the 2·Count input columns from col0 + 2t are reduced over the window's rows first (two
    /// loads and two max per row), then split into evens (column 2t of every window) and odds (column 2t + 1):
    /// 2×2/2 costs 4 loads, 2 shuffles and 5 max per 16 outputs instead of 8 loads and 4 shuffles.
    /// Max is order-free for values (NaN skipped: every chain starts at −∞ and keeps its accumulator on NaN), so
    /// the result equals the reference's; only which zero of a +0/−0 tie is returned may differ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV BlockMaxStride2<TV>(ref float row0, nint rowStep, int rows, int s, nint col0)
        where TV : struct, IFloatVector<TV>
    {
        TV lowest = TV.Broadcast(float.NegativeInfinity);
        nint v = TV.Count;
        if (s == 2 && rows == 2)
        {
            // The 2×2/2 pool of every VGG-style net, straight-line.
            ref float row1 = ref Unsafe.Add(ref row0, rowStep);
            TV a2 = TV.RefMax(TV.Load(ref row1, col0), TV.RefMax(TV.Load(ref row0, col0), lowest));
            TV b2 = TV.RefMax(TV.Load(ref row1, col0 + v), TV.RefMax(TV.Load(ref row0, col0 + v), lowest));
            TV.Deinterleave(a2, b2, out TV e2, out TV o2);
            return TV.RefMax(o2, TV.RefMax(e2, lowest));
        }
        if (s == 3)
        {
            // ResNet's 3×3/2 stem pool: window columns 0 and 1 are the evens and odds of [col0, col0 + 2·Count),
            // column 2 is the evens shifted one lane along with the element at col0 + 2·Count brought in — 2 vector
            // loads and 1 broadcast per row instead of 4 vector loads (the odd col0 of pad 1 makes every vector
            // load straddle two cache lines, so fewer loads is what counts), and no read past the last tap.
            // The extra element is broadcast (a load, not a compare-and-branch on random data).
            TV a = lowest, b = lowest, c = lowest;
            ref float row = ref row0;
            for (int r = 0; r < rows; r++)
            {
                a = TV.RefMax(TV.Load(ref row, col0), a);
                b = TV.RefMax(TV.Load(ref row, col0 + v), b);
                c = TV.RefMax(TV.Broadcast(Unsafe.Add(ref row, col0 + 2 * v)), c);
                row = ref Unsafe.Add(ref row, rowStep);
            }
            TV.Deinterleave(a, b, out TV evens, out TV odds);
            return TV.RefMax(TV.ShiftIn(evens, c), TV.RefMax(odds, TV.RefMax(evens, lowest)));
        }
        TV m = lowest;
        for (int t = 0; 2 * t < s; t++)
        {
            nint col = col0 + 2 * t;
            TV a = lowest, b = lowest;
            ref float row = ref row0;
            for (int r = 0; r < rows; r++)
            {
                a = TV.RefMax(TV.Load(ref row, col), a);
                b = TV.RefMax(TV.Load(ref row, col + v), b);
                row = ref Unsafe.Add(ref row, rowStep);
            }
            TV.Deinterleave(a, b, out TV evens, out TV odds);
            m = TV.RefMax(evens, m);
            if (2 * t + 1 < s)
            {
                m = TV.RefMax(odds, m);
            }
        }
        return m;
    }

    /// <summary>
    /// One output, exactly as the reference computes it: the taps inside the input in the reference's order
    /// (their row and column ranges come from the plan, so no tap is tested here), the same divisor.
    /// </summary>
    private static float Scalar<TMax>(Pool2dGeometry g, ref float x, int p, int q)
        where TMax : struct, IFlag
    {
        int rFirst = g.RowFirst[p], rEnd = g.RowEnd[p], sFirst = g.ColFirst[q], sEnd = g.ColEnd[q];
        nint w = g.W, dilW = g.DilationW;
        ref float row = ref Unsafe.Add(ref x, (p * g.StrideH - g.PadTop + rFirst * g.DilationH) * w + (q * g.StrideW - g.PadLeft + sFirst * g.DilationW));
        nint rowStep = g.DilationH * w;
        float m = float.NegativeInfinity, sum = 0f;
        for (int r = rFirst; r < rEnd; r++)
        {
            nint col = 0;
            for (int t = sFirst; t < sEnd; t++)
            {
                float v = Unsafe.Add(ref row, col);
                if (TMax.On)
                {
                    m = v > m ? v : m;
                }
                else
                {
                    sum += v;
                }
                col += dilW;
            }
            row = ref Unsafe.Add(ref row, rowStep);
        }
        if (TMax.On)
        {
            return m;
        }
        int divisor = g.CountIncludePad ? g.PaddedRows[p] * g.PaddedCols[q] : (rEnd - rFirst) * (sEnd - sFirst);
        return sum / divisor;
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
