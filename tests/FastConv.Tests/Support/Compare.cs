using System.Text;

namespace FastConv.Tests.Support;

/// <summary>
/// Honest comparisons: exact for integer-valued data; otherwise |actual − expected| ≤ bound per element,
/// with the bound justified by the caller (see <see cref="Tolerance"/>). NaN never passes, so an output
/// poisoned with NaN and left unwritten is caught. Failure messages name the whole problem.
/// </summary>
internal static class Compare
{
    public static void Exact(Tensor expected, Tensor actual, string problem)
        => Close(expected, actual, problem, _ => 0f);

    /// <summary>Absolute-plus-relative tolerance: |a − e| ≤ atol + rtol·|e|.</summary>
    public static void Close(Tensor expected, Tensor actual, string problem, float atol, float rtol)
        => Close(expected, actual, problem, i => atol + rtol * MathF.Abs(expected.Span[i]));

    /// <summary>Per-element absolute bound, e.g. γ_n·Σ|terms| from <see cref="Tolerance.Accumulation"/>.</summary>
    public static void Close(Tensor expected, Tensor actual, string problem, Tensor bound)
        => Close(expected, actual, problem, i => bound.Span[i]);

    private static void Close(Tensor expected, Tensor actual, string problem, Func<int, float> bound)
    {
        if (expected.Shape != actual.Shape)
        {
            Assert.Fail($"shape mismatch: expected {expected.Shape}, got {actual.Shape}; problem: {problem}");
        }
        ReadOnlySpan<float> e = expected.Span, a = actual.Span;
        int bad = 0, first = -1;
        double worst = 0;
        for (int i = 0; i < e.Length; i++)
        {
            float b = bound(i);
            bool ok = e[i] == a[i] || (!float.IsNaN(a[i]) && !float.IsNaN(e[i]) && MathF.Abs(a[i] - e[i]) <= b);
            if (float.IsNaN(a[i]) && !float.IsNaN(e[i]))
            {
                ok = false;
            }
            if (float.IsNaN(e[i]) && float.IsNaN(a[i]))
            {
                ok = true; // NaN only where the oracle itself produced NaN from NaN input.
            }
            if (!ok)
            {
                bad++;
                if (first < 0)
                {
                    first = i;
                }
                worst = Math.Max(worst, Math.Abs((double)a[i] - e[i]));
            }
        }
        if (bad > 0)
        {
            var sb = new StringBuilder();
            sb.Append(bad).Append(" of ").Append(e.Length).Append(" elements differ; problem: ").Append(problem).AppendLine();
            sb.Append("first at ").Append(MultiIndex(expected.Shape, first)).Append(": expected ").Append(e[first].ToString("R"))
              .Append(", got ").Append(a[first].ToString("R")).Append(", allowed ±").Append(bound(first).ToString("R"))
              .Append("; worst |diff| ").Append(worst.ToString("R"));
            Assert.Fail(sb.ToString());
        }
    }

    private static string MultiIndex(TensorShape shape, int flat)
    {
        var idx = new int[shape.Rank];
        for (int d = shape.Rank - 1; d >= 0; d--)
        {
            idx[d] = shape[d] == 0 ? 0 : flat % shape[d];
            flat = shape[d] == 0 ? 0 : flat / shape[d];
        }
        return "[" + string.Join(",", idx) + "]";
    }
}

/// <summary>
/// Error bounds for float32 results. A sum of n products computed in any order has error at most
/// γ_n·Σ|terms| with γ_n = n·u/(1 − n·u), u = 2⁻²⁴ (Higham, "Accuracy and Stability of Numerical
/// Algorithms", §3.1). Two implementations each within that bound differ by at most 2·γ_n·Σ|terms|;
/// Σ|terms| per output is obtained by running the op on the absolute values of its inputs.
/// </summary>
internal static class Tolerance
{
    private const double U = 1.0 / (1 << 24);

    public static double Gamma(int n) => n * U / (1 - n * U);

    /// <summary>Per-element bound 2·γ_n·magnitude (+ one ulp-ish floor for the final rounding).</summary>
    public static Tensor Accumulation(int n, Tensor magnitude)
    {
        var bound = Tensor.Allocate(magnitude.Shape);
        float g = (float)(2 * Gamma(n + 1));
        ReadOnlySpan<float> m = magnitude.Span;
        Span<float> b = bound.Span;
        for (int i = 0; i < m.Length; i++)
        {
            b[i] = g * m[i] + float.Epsilon;
        }
        return bound;
    }
}
