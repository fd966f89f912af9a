using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// The bound for comparing a normalization (InstanceNormalization, GroupNormalization) with ONNX Runtime, which works
/// in float: the mean carries γ_m·Σ|x|/m, the variance E[x²] − μ² a relative error of γ_{m+2}·E[x²]/σ² (cancellation),
/// which reaches 1/σ halved through the square root. With s the element's scale:
/// |Δy| ≤ |s|·inv·(γ_m·E|x| + |x − μ|·γ_{m+4}·E[x²]/(σ² + ε)) + 4u·(|y| + |b|).
/// </summary>
internal static class NormalizationBounds
{
    /// <param name="x">The input, rows of <paramref name="m"/> normalized together.</param>
    /// <param name="expected">ONNX Runtime's output.</param>
    /// <param name="m">Elements per normalized row.</param>
    /// <param name="scale">The scale applied to flat element i.</param>
    /// <param name="bias">The bias added to flat element i.</param>
    /// <param name="epsilon">ε of the op.</param>
    public static Tensor Rows(Tensor x, Tensor expected, int m, Func<int, float> scale, Func<int, float> bias, double epsilon = 1e-5)
    {
        var bound = Tensor.Allocate(x.Shape);
        for (int start = 0; start < x.Length; start += m)
        {
            double sum = 0, abs = 0, sq = 0;
            for (int j = 0; j < m; j++)
            {
                double v = x.Span[start + j];
                sum += v;
                abs += Math.Abs(v);
                sq += v * v;
            }
            double mean = sum / m, var = Math.Max(sq / m - mean * mean, 0), inv = 1 / Math.Sqrt(var + epsilon);
            double relInv = Tolerance.Gamma(m + 4) * (sq / m) / (var + epsilon);
            for (int j = 0; j < m; j++)
            {
                int i = start + j;
                double e = Math.Abs(scale(i)) * inv * (Tolerance.Gamma(m) * abs / m + Math.Abs(x.Span[i] - mean) * relInv)
                    + 4 * Ulp.U * (Math.Abs(expected.Span[i]) + Math.Abs(bias(i)));
                bound.Span[i] = (float)e + float.Epsilon;
            }
        }
        return bound;
    }
}
