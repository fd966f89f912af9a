using FastConv.Ops;
using FastConv.Cpu.Kernels;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Gelu (ONNX opset 20), element-wise, in double and rounded to float once:
    /// <list type="bullet">
    /// <item>approximate = none: <c>y = x·½·(1 + erf(x/√2))</c>, evaluated as the identical
    /// <c>x·½·erfc(−x/√2)</c> so that large negative x keep their tiny value instead of cancelling to 0;</item>
    /// <item>approximate = tanh: <c>y = x·½·(1 + tanh(√(2/π)·(x + 0.044715·x³)))</c>, evaluated as the identical
    /// <c>x / (1 + exp(−2z))</c> with <c>z = √(2/π)·(x + 0.044715·x³)</c>, for the same reason.</item>
    /// </list>
    /// erfc is <see cref="ErrorFunction.Erfc"/> (double; relative error below 2.3·10⁻¹⁵ where x &lt; 0 and the result is
    /// small, 2·10⁻¹² at worst elsewhere), so the result is within 0.5 ulp of float plus that error. NaN stays NaN; Gelu(+∞) = +∞; Gelu(−∞) = NaN (−∞·0, as ONNX Runtime). <paramref name="y"/> may be <paramref name="x"/>.
    /// </summary>
    public static void Gelu(Tensor x, GeluParams p, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Gelu", $"input {x.Shape}, {p}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        double sqrt2 = Math.Sqrt(2.0), sqrt2OverPi = Math.Sqrt(2.0 / Math.PI);
        for (int i = 0; i < xs.Length; i++)
        {
            double v = xs[i];
            double r;
            if (p.Approximate == GeluApproximation.Tanh)
            {
                double z = sqrt2OverPi * (v + 0.044715 * v * v * v);
                r = v / (1.0 + Math.Exp(-2.0 * z));
            }
            else
            {
                r = 0.5 * v * ErrorFunction.Erfc(-v / sqrt2);
            }
            // x = −∞ gives −∞·0 = NaN in both forms, as the ONNX formula and ONNX Runtime do (not the limit 0).
            ys[i] = (float)r;
        }
    }
}
